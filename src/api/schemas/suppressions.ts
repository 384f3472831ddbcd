import { z } from '@hono/zod-openapi';
import { SUPPRESSION_SOURCES } from '../../shared';
import type { SuppressionCursor } from '../../db/suppressions';
import { emailAddress, storableText } from './fields';

// The suppression list's query, body and answers.

export function encodeSuppressionCursor(createdAt: Date, address: string): string {
  return Buffer.from(`${createdAt.toISOString()}|${address}`).toString('base64url');
}

/** A cursor is only ever one this API handed out: anything else is refused, never cast in SQL. */
const CursorSchema = z
  .string()
  .max(400)
  .transform((cursor, ctx): SuppressionCursor => {
    const text = Buffer.from(cursor, 'base64url').toString();
    const bar = text.indexOf('|');
    const createdAt = text.slice(0, bar);
    const address = text.slice(bar + 1);
    if (bar < 0 || Number.isNaN(Date.parse(createdAt)) || !emailAddress.safeParse(address).success) {
      ctx.addIssue({ code: 'custom', message: 'not a cursor from this API' });
      return z.NEVER;
    }
    return { createdAt, address };
  });

export const SuppressionQuerySchema = z
  .object({
    address: emailAddress.optional(),
    domain: z
      .string()
      .min(1)
      .max(253)
      .transform((s) => s.toLowerCase())
      .optional(),
    source: z.enum(SUPPRESSION_SOURCES).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(50),
    cursor: CursorSchema.optional(),
  })
  .strict()
  .transform(({ limit, cursor, ...filter }) => ({ filter, limit, cursor }));

export const SuppressionBodySchema = z.object({ address: emailAddress, reason: storableText(500).min(1).optional() }).strict();

export const AddressParamSchema = z.object({ address: emailAddress });

export const SuppressionSchema = z
  .object({
    address: z.string(),
    domain: z.string(),
    source: z.enum(SUPPRESSION_SOURCES),
    reason: z.string(),
    smtpCode: z.number().nullable(),
    emailId: z.string().nullable(),
    createdAt: z.string().nullable(),
  })
  .openapi('Suppression');

export const SuppressionListSchema = z
  .object({ data: z.array(SuppressionSchema), nextCursor: z.string().nullable() })
  .openapi('SuppressionList');
