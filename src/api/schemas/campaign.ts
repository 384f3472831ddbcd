import { z } from '@hono/zod-openapi';
import { EMAIL_STATUSES } from '../../shared';
import type { CampaignSubmission } from '../../campaigns/service';
import { analyzeTemplates, TemplateError } from '../../campaigns/template';
import { AddressSchema } from './email';

// The bodies and queries of /v1/campaigns.

/** POST /v1/campaigns: subject, text and html are templates whose variables are written {{name}}. */
export function campaignSubmissionSchema(maxMessageBytes: number) {
  return z
    .object({
      from: AddressSchema,
      subject: z.string().min(1).max(998),
      text: z.string().optional(),
      html: z.string().optional(),
      tags: z.array(z.string().min(1).max(100)).max(50).default([]),
      variables: z.array(z.string()).max(100).optional(),
      sendAt: z.iso
        .datetime({ offset: true })
        .refine((s) => !Number.isNaN(Date.parse(s)), 'must be a valid date-time')
        .optional(),
      ratePerSecond: z.number().positive().max(10_000).optional(),
    })
    .strict()
    .superRefine((v, ctx) => {
      if (v.text === undefined && v.html === undefined)
        ctx.addIssue({ code: 'custom', path: ['text'], message: 'text or html is required' });
      if (Buffer.byteLength(v.text ?? '') + Buffer.byteLength(v.html ?? '') > maxMessageBytes) {
        ctx.addIssue({ code: 'custom', path: ['html'], message: `text and html together exceed ${maxMessageBytes} bytes` });
      }
      try {
        analyzeTemplates(v, v.variables);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        ctx.addIssue({ code: 'custom', path: [err.field], message: err.message });
      }
    })
    .transform((v): CampaignSubmission => ({
      from: v.from,
      subject: v.subject,
      text: v.text,
      html: v.html,
      tags: [...new Set(v.tags)],
      variables: v.variables,
      sendAt: v.sendAt ? new Date(v.sendAt).toISOString() : undefined,
      ratePerSecond: v.ratePerSecond,
    }));
}

export const ControlReasonSchema = z.object({ reason: z.string().max(500).optional() }).strict();

const RECIPIENT_STATUSES = ['waiting', ...EMAIL_STATUSES] as const;

/** A cursor is the last recipient's id, as this API handed it out. */
export const encodeRecipientCursor = (id: string) => Buffer.from(`r${id}`).toString('base64url');
const RecipientCursorSchema = z.string().transform((cursor, ctx) => {
  const text = Buffer.from(cursor, 'base64url').toString();
  if (!/^r[0-9]{1,18}$/.test(text)) {
    ctx.addIssue({ code: 'custom', message: 'not a cursor from this API' });
    return z.NEVER;
  }
  return text.slice(1);
});

/** GET /v1/campaigns/:id/recipients */
export const RecipientQuerySchema = z
  .object({
    status: z
      .string()
      .transform((s) => s.split(',').map((x) => x.trim()))
      .pipe(z.array(z.enum(RECIPIENT_STATUSES)))
      .optional(),
    email: z
      .string()
      .max(254)
      .transform((s) => s.trim().toLowerCase())
      .optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: RecipientCursorSchema.optional(),
  })
  .strict();
