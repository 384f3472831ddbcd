import { z } from 'zod';
import { EMAIL_STATUSES } from '../shared';
import { Problem } from './problem';

// Query string of GET /v1/emails.

const status = z.enum(EMAIL_STATUSES);

export const EmailFilterSchema = z.object({
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(status))
    .optional(),
  recipient: z.string().email().transform((s) => s.toLowerCase()).optional(),
  domain: z.string().min(1).transform((s) => s.toLowerCase()).optional(),
  tag: z.string().min(1).max(100).optional(),
  createdAfter: z.iso.datetime({ offset: true }).optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
});

export const ListQuerySchema = EmailFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().optional(),
})
  .strict()
  .transform(({ status: statuses, ...rest }) => ({ ...rest, statuses }));

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

export function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !/^[0-9a-f-]{36}$/i.test(id)) {
    throw new Problem(400, 'validation-error', 'The request is not valid', { errors: [{ field: 'cursor', message: 'not a cursor from this API' }] });
  }
  return { createdAt, id };
}
