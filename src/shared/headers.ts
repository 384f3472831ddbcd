import { headerUnsafeReason } from './text';

// The custom headers a caller may add to an email, decided once (the API's schema and the SMTP
// submission listener call these).

export const HEADER_LIMITS = {
  /** Custom headers on one email. */
  count: 50,
  /** A field name, so that "Name: " and a value start on one 78-character line. */
  nameChars: 76,
  /** RFC 5322 2.1.1: a line is at most 998 characters. */
  valueChars: 998,
} as const;

/**
 * Headers Herald writes itself (addresses, subject, identity, MIME structure), and the trace and
 * authentication headers that only receiving and relaying servers may write: a caller who set
 * them could forge a message's path or its authentication results.
 */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'from',
  'sender',
  'to',
  'cc',
  'bcc',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'mime-version',
  'return-path',
  'received',
  'received-spf',
  'authentication-results',
  'dkim-signature',
  'domainkey-signature',
  'delivered-to',
  'x-original-to',
  'original-recipient',
  'x-received',
]);
/** Whole families: ARC-Seal, ARC-Message-Signature, ...; Resent-From, ...; Content-Type, .... */
export const RESERVED_HEADER_PREFIXES: readonly string[] = ['arc-', 'resent-', 'content-'];

/** RFC 5322 3.6.8: a field name is printable ASCII but the colon. */
const FIELD_NAME = /^[\x21-\x39\x3B-\x7E]+$/;

/** Why a custom header name is refused, or undefined. */
export function headerNameReason(name: string): string | undefined {
  if (name.length === 0) return 'a header name must not be empty';
  if (name.length > HEADER_LIMITS.nameChars) return `a header name must be at most ${HEADER_LIMITS.nameChars} characters`;
  if (!FIELD_NAME.test(name)) return 'a header name must be printable ASCII without spaces or colons';
  const lower = name.toLowerCase();
  if (RESERVED_HEADERS.has(lower) || RESERVED_HEADER_PREFIXES.some((p) => lower.startsWith(p))) {
    return `${name} is set by Herald or by receiving servers and cannot be given`;
  }
  return undefined;
}

/** Why a custom header value is refused, or undefined. */
export function headerValueReason(value: string): string | undefined {
  if (value.length > HEADER_LIMITS.valueChars) return `a header value must be at most ${HEADER_LIMITS.valueChars} characters`;
  return headerUnsafeReason(value);
}

/** Each problem of a set of custom headers, by header name (none for the set as a whole). */
export function customHeaderProblems(headers: Record<string, string>): Array<{ name?: string; reason: string }> {
  const names = Object.keys(headers);
  const problems: Array<{ name?: string; reason: string }> = [];
  if (names.length > HEADER_LIMITS.count) return [{ reason: `at most ${HEADER_LIMITS.count} custom headers` }];
  const seen = new Set<string>();
  for (const name of names) {
    const reason = headerNameReason(name) ?? headerValueReason(headers[name]);
    if (reason) problems.push({ name, reason });
    else if (seen.has(name.toLowerCase())) problems.push({ name, reason: 'the same header is given twice (names are case-insensitive)' });
    seen.add(name.toLowerCase());
  }
  return problems;
}
