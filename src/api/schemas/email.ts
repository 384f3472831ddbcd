import { z } from '@hono/zod-openapi';
import type { EmailSubmission } from '../../deliveries/service';

// The body of POST /v1/emails. Header injection is refused here: no CR or LF may reach a header.

const NO_CRLF = /^[^\r\n]*$/;
const noCrLf = (what: string) => z.string().regex(NO_CRLF, `${what} must not contain CR or LF`);

// A pragmatic address check: one @, no spaces or control characters, a dotted domain.
const EMAIL = /^[^\s@<>()[\]\\,;:"\x00-\x1f\x7f]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
/** An email address, lower-cased. */
export const emailAddress = z
  .string()
  .max(254)
  .regex(EMAIL, 'must be a valid email address')
  .transform((s) => s.toLowerCase());

const addressObject = z.object({
  email: emailAddress,
  name: noCrLf('name').max(200).optional(),
});
// "a@example.com" or { "email": "a@example.com", "name": "A" }
export const AddressSchema = z
  .union([emailAddress, addressObject], { error: 'must be an email address or an object { email, name }' })
  .transform((a) => (typeof a === 'string' ? { address: a } : { address: a.email, ...(a.name ? { name: a.name } : {}) }));

const addressList = z.array(AddressSchema).max(100).default([]);

// Headers Herald sets itself, so a caller cannot override them.
const RESERVED_HEADERS = new Set([
  'from', 'to', 'cc', 'bcc', 'reply-to', 'subject', 'message-id', 'date', 'mime-version',
  'content-type', 'content-transfer-encoding', 'sender', 'return-path',
]);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const headers = z
  .record(
    z.string().regex(HEADER_NAME, 'header names must be RFC 5322 field names').refine((n) => !RESERVED_HEADERS.has(n.toLowerCase()), {
      message: 'this header is set by Herald and cannot be given',
    }),
    noCrLf('header values').max(998),
  )
  .default({});

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const attachment = z.object({
  filename: noCrLf('filename').min(1).max(255).regex(/^[^/\\]+$/, 'filename must not contain a path'),
  contentType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'must be a MIME type such as application/pdf').default('application/octet-stream'),
  content: z.string().regex(BASE64, 'must be base64'),
});

const metadataValue = z.union([z.string().max(1000), z.number(), z.boolean(), z.array(z.string().max(100)).max(50)]);

/** The email body, checked whole; `maxMessageBytes` bounds text, html and attachments together (decoded). */
export function emailSubmissionSchema(maxMessageBytes: number) {
  return z
    .object({
      from: AddressSchema,
      to: addressList,
      cc: addressList,
      bcc: addressList,
      replyTo: z.union([AddressSchema.transform((a) => [a]), z.array(AddressSchema).max(10)]).default([]),
      subject: noCrLf('subject').min(1).max(998),
      text: z.string().optional(),
      html: z.string().optional(),
      headers,
      attachments: z.array(attachment).max(50).default([]),
      metadata: z.record(z.string().max(100), metadataValue).default({}),
      sendAt: z.iso.datetime({ offset: true }).refine((s) => !Number.isNaN(Date.parse(s)), 'must be a valid date-time').optional(),
    })
    .strict()
    .superRefine((v, ctx) => {
      if (v.to.length + v.cc.length + v.bcc.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['to'], message: 'at least one recipient is required in to, cc or bcc' });
      }
      if (v.text === undefined && v.html === undefined) {
        ctx.addIssue({ code: 'custom', path: ['text'], message: 'text or html is required' });
      }
      const tags = v.metadata.tags;
      if (tags !== undefined && !Array.isArray(tags)) {
        ctx.addIssue({ code: 'custom', path: ['metadata', 'tags'], message: 'tags must be a list of strings' });
      }
      const size = v.attachments.reduce((n, a) => n + Buffer.byteLength(a.content, 'base64'), 0) + Buffer.byteLength(v.text ?? '') + Buffer.byteLength(v.html ?? '');
      if (size > maxMessageBytes) {
        ctx.addIssue({ code: 'custom', path: ['attachments'], message: `text, html and attachments together exceed ${maxMessageBytes} bytes` });
      }
    })
    .transform(
      (v): EmailSubmission => ({
        from: v.from,
        subject: v.subject,
        content: { to: v.to, cc: v.cc, bcc: v.bcc, replyTo: v.replyTo, text: v.text, html: v.html, headers: v.headers },
        attachments: v.attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, content: Buffer.from(a.content, 'base64') })),
        metadata: v.metadata,
        tags: Array.isArray(v.metadata.tags) ? v.metadata.tags : [],
        sendAt: v.sendAt ? new Date(v.sendAt).toISOString() : undefined,
      }),
    );
}

export const IdempotencyHeaderSchema = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, 'must be 1-255 visible ASCII characters')
    .optional(),
});
