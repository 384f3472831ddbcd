import { z } from '@hono/zod-openapi';
import {
  CONTROL_LIMITS,
  controlTextReason,
  filterDateReason,
  headerUnsafeReason,
  normalizeAddress,
  normalizeDomain,
  sendAtReason,
  unstorableReason,
  type Checked,
} from '../../shared';

// The zod form of the rules in src/shared: every string field of every route is built from these,
// so each rule is checked the same way everywhere and appears once in the OpenAPI document.

type Ctx = z.core.$RefinementCtx;

/** A rule of src/shared (it says why a value is refused, or nothing) as a zod refinement. */
export const rule =
  <T>(reasonOf: (value: T) => string | undefined) =>
  (value: T, ctx: Ctx) => {
    const reason = reasonOf(value);
    if (reason) ctx.addIssue({ code: 'custom', message: reason });
  };

/** A normalizing rule of src/shared (it gives the value to keep, or why not) as a zod transform. */
const normalized = (check: (value: string) => Checked) => (value: string, ctx: Ctx) => {
  const result = check(value);
  if (result.ok) return result.value;
  ctx.addIssue({ code: 'custom', message: result.reason });
  return z.NEVER;
};

/** Text PostgreSQL and SMTP can carry (no NUL, no unpaired surrogate). */
export const storableText = (max?: number) =>
  (max === undefined ? z.string() : z.string().max(max, { abort: true })).superRefine(rule(unstorableReason));

/** Text that goes into a mail header: storable, and no line break or control character of any kind. */
export const headerText = (max: number) =>
  z
    .string()
    .max(max, { abort: true })
    .superRefine(rule(headerUnsafeReason))
    .openapi({ description: 'no control characters (CR, LF, NEL, VT, FF, ESC, DEL, U+2028, U+2029, ...), no NUL or unpaired surrogate' });

/** An email address, normalized: lower-case, its domain in ASCII (punycode). */
export const emailAddress = z.string().transform(normalized(normalizeAddress)).openapi({
  format: 'email',
  maxLength: 254,
  description:
    'local@domain: a dot-atom ASCII local part of at most 64 characters, a domain of letter-digit-hyphen labels (internationalized domains are accepted and sent in punycode)',
  example: 'alice@example.org',
});

export const domainName = z
  .string()
  .transform(normalized(normalizeDomain))
  .openapi({ description: 'a domain; internationalized ones match their punycode form', example: 'example.org' });

/** A scheduled send time, within SEND_AT_RANGE of now. */
export const sendAt = z.iso
  .datetime({ offset: true })
  .superRefine(rule((s: string) => sendAtReason(s, Date.now())))
  .transform((s) => new Date(s).toISOString())
  .openapi({
    description: 'ISO 8601 date-time with offset, from 24 hours ago (sent at once) to 366 days ahead',
    example: '2030-01-01T09:00:00Z',
  });

/** A date of a filter, canonical ISO so that PostgreSQL reads it as it was meant. */
export const filterDate = z.iso
  .datetime({ offset: true })
  .superRefine(rule(filterDateReason))
  .transform((s) => new Date(s).toISOString())
  .openapi({ description: 'ISO 8601 date-time with offset, between 1970 and 9999' });

/** The reason of a control, shown in the timeline. */
export const controlReason = z
  .string()
  .superRefine(rule((s: string) => controlTextReason(s, CONTROL_LIMITS.reasonChars)))
  .openapi({ maxLength: CONTROL_LIMITS.reasonChars, description: 'shown in the timeline; no control characters' });
