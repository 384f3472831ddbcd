import { z } from '@hono/zod-openapi';
import { EMAIL_LIMITS, EMAIL_SOURCES, EMAIL_STATUSES, FILTER_DATE_RANGE } from '../../shared';
import type { ListCursor } from '../../db/emails';
import { domainName, emailAddress, filterDate, storableText } from './fields';

// The query string of GET /v1/emails, and the filter of a bulk re-drive.

export const EmailFilterSchema = z.object({
  status: z
    .string()
    .max(200, { abort: true })
    .transform((s) => s.split(',').map((x) => x.trim()))
    .pipe(z.array(z.enum(EMAIL_STATUSES)))
    .optional()
    .openapi({ description: `comma-separated: ${EMAIL_STATUSES.join(', ')}` }),
  source: z.enum(EMAIL_SOURCES).optional(),
  recipient: emailAddress.optional(),
  domain: domainName.optional(),
  tag: storableText(EMAIL_LIMITS.tagChars).min(1).optional(),
  createdAfter: filterDate.optional(),
  createdBefore: filterDate.optional(),
});

export function encodeCursor(createdAt: Date, id: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${id}`).toString('base64url');
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * A cursor is only ever one this API handed out: a canonical UTC time (as toISOString writes it,
 * within the dates PostgreSQL compares) and a UUID. Anything else is refused, never cast in SQL.
 */
export function decodeCursor(cursor: string): ListCursor | undefined {
  if (cursor.length > 128) return undefined;
  const [createdAt, id, ...rest] = Buffer.from(cursor, 'base64url').toString().split('|');
  if (rest.length > 0 || !createdAt || !id || !CURSOR_TIME.test(createdAt) || !UUID.test(id)) return undefined;
  const at = Date.parse(createdAt);
  if (Number.isNaN(at) || at < FILTER_DATE_RANGE.min || at > FILTER_DATE_RANGE.max || new Date(at).toISOString() !== createdAt)
    return undefined;
  return { createdAt, id };
}

const CursorSchema = z
  .string()
  .transform((cursor, ctx): ListCursor => {
    const decoded = decodeCursor(cursor);
    if (decoded) return decoded;
    ctx.addIssue({ code: 'custom', message: 'not a cursor from this API' });
    return z.NEVER;
  })
  .openapi({ description: 'the nextCursor of the previous page' });

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
