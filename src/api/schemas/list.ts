import { z } from '@hono/zod-openapi';
import { EMAIL_SOURCES, EMAIL_STATUSES } from '../../shared';
import type { ListCursor } from '../../db/emails';

// The query string of GET /v1/emails, and the filter of a bulk re-drive.

export const EmailFilterSchema = z.object({
  status: z
    .string()
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(EMAIL_STATUSES)))
    .optional(),
  source: z.enum(EMAIL_SOURCES).optional(),
  recipient: z.string().email().transform((s) => s.toLowerCase()).optional(),
  domain: z.string().min(1).transform((s) => s.toLowerCase()).optional(),
  tag: z.string().min(1).max(100).optional(),
  createdAfter: z.iso.datetime({ offset: true }).optional(),
  createdBefore: z.iso.datetime({ offset: true }).optional(),
});

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

/** A cursor is only ever one this API handed out: anything else is refused, never cast in SQL. */
const CursorSchema = z.string().transform((cursor, ctx): ListCursor => {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !/^[0-9a-f-]{36}$/i.test(id)) {
    ctx.addIssue({ code: 'custom', message: 'not a cursor from this API' });
    return z.NEVER;
  }
  return { createdAt, id };
});

export const ListQuerySchema = EmailFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: CursorSchema.optional(),
})
  .strict()
  .transform(({ status: statuses, limit, cursor, ...filter }) => ({ filter: { ...filter, statuses }, limit, cursor }));

export const BulkRetrySchema = z
  .object({
    filter: EmailFilterSchema.omit({ status: true }).strict().default({}),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();
