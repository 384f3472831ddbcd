import { z } from '@hono/zod-openapi';
import type { EmailSubmission } from '../../deliveries/service';
import {
  attachmentTypeReason,
  base64DecodedBytes,
  customHeaderProblems,
  EMAIL_LIMITS as L,
  filenameReason,
  HEADER_LIMITS,
  isBase64,
  metadataKeyReason,
  metadataReason,
} from '../../shared';
import { emailAddress, headerText, rule, sendAt, storableText } from './fields';

// The body of POST /v1/emails. Every rule it applies lives in src/shared (text.ts, address.ts,
// headers.ts, limits.ts); this file only says which field gets which.

const addressObject = z.object({ email: emailAddress, name: headerText(L.displayNameChars).optional() }).strict();
// "a@example.com" or { "email": "a@example.com", "name": "A" }
export const AddressSchema = z
  .union([emailAddress, addressObject], { error: 'must be an email address or an object { email, name }' })
  .transform((a) => (typeof a === 'string' ? { address: a } : { address: a.email, ...(a.name ? { name: a.name } : {}) }));

const addressList = z.array(AddressSchema).max(L.recipientsPerList).default([]);

const headers = z
  .record(z.string(), z.string())
  .superRefine((h, ctx) => {
    for (const { name, reason } of customHeaderProblems(h))
      ctx.addIssue({ code: 'custom', path: name === undefined ? [] : [name], message: reason });
  })
  .default({})
  .openapi({
    description: `at most ${HEADER_LIMITS.count} custom headers; names of at most ${HEADER_LIMITS.nameChars} printable ASCII characters, values of at most ${HEADER_LIMITS.valueChars} characters without control characters; the headers Herald sets (From, To, Subject, Message-ID, Date, MIME-Version, Content-*) and trace and authentication headers (Received, Return-Path, DKIM-Signature, ARC-*, Authentication-Results, Received-SPF, Resent-*, ...) are refused`,
  });

const attachment = z
  .object({
    filename: z.string().min(1).max(L.filenameChars, { abort: true }).superRefine(rule(filenameReason)),
    contentType: z
      .string()
      .max(L.contentTypeChars, { abort: true })
      .superRefine(rule(attachmentTypeReason))
      .default('application/octet-stream'),
    content: z.string().superRefine(rule((s: string) => (isBase64(s) ? undefined : 'must be base64 (RFC 4648, padded, no line breaks)'))),
  })
  .strict();

const metadataValue = z.union([
  storableText(L.metadataStringChars),
  z.number(),
  z.boolean(),
  z.array(storableText(L.tagChars)).max(L.tags),
]);
const metadata = z
  .record(z.string().superRefine(rule(metadataKeyReason)), metadataValue)
  .superRefine(rule(metadataReason))
  .superRefine((m, ctx) => {
    if (m.tags !== undefined && !Array.isArray(m.tags))
      ctx.addIssue({ code: 'custom', path: ['tags'], message: 'tags must be a list of strings' });
  })
  .default({})
  .openapi({
    description: `at most ${L.metadataKeys} keys of at most ${L.metadataKeyChars} characters, ${L.metadataBytes} bytes in all; values are strings (at most ${L.metadataStringChars} characters), numbers, booleans or lists of at most ${L.tags} strings of ${L.tagChars}; metadata.tags become searchable tags`,
  });

/** The email body, checked whole; `maxMessageBytes` bounds text, html and attachments together (decoded). */
export function emailSubmissionSchema(maxMessageBytes: number) {
  return z
    .object({
      from: AddressSchema,
      to: addressList,
      cc: addressList,
      bcc: addressList,
      replyTo: z.union([AddressSchema.transform((a) => [a]), z.array(AddressSchema).max(L.replyTo)]).default([]),
      subject: headerText(L.subjectChars).min(1),
      text: storableText().optional(),
      html: storableText().optional(),
      headers,
      attachments: z.array(attachment).max(L.attachments).default([]),
      metadata,
      sendAt: sendAt.optional(),
    })
    .strict()
    .superRefine((v, ctx) => {
      if (v.to.length + v.cc.length + v.bcc.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['to'], message: 'at least one recipient is required in to, cc or bcc' });
      }
      if (v.text === undefined && v.html === undefined) {
        ctx.addIssue({ code: 'custom', path: ['text'], message: 'text or html is required' });
      }
      const size =
        v.attachments.reduce((n, a) => n + base64DecodedBytes(a.content), 0) +
        Buffer.byteLength(v.text ?? '') +
        Buffer.byteLength(v.html ?? '');
      if (size > maxMessageBytes) {
        ctx.addIssue({
          code: 'custom',
          path: ['attachments'],
          message: `text, html and attachments together exceed ${maxMessageBytes} bytes`,
        });
      }
    })
    .transform((v): EmailSubmission => ({
      from: v.from,
      subject: v.subject,
      content: { to: v.to, cc: v.cc, bcc: v.bcc, replyTo: v.replyTo, text: v.text, html: v.html, headers: v.headers },
      attachments: v.attachments.map((a) => ({
        filename: a.filename,
        contentType: a.contentType,
        content: Buffer.from(a.content, 'base64'),
      })),
      metadata: v.metadata,
      tags: Array.isArray(v.metadata.tags) ? v.metadata.tags : [],
      sendAt: v.sendAt,
    }));
}

export const IdempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(new RegExp(`^[\\x21-\\x7e]{1,${L.idempotencyKeyChars}}$`), `must be 1-${L.idempotencyKeyChars} visible ASCII characters`)
    .optional(),
});
