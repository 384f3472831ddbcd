import { deceptiveReason, hasSpaceOrControl, unstorableReason } from './text';

// What an email address must be for Herald to accept it, decided once: the API's schemas, the
// filters and the SMTP submission listener call these. Strict on purpose: a dot-atom local part
// (RFC 5321 4.1.2, no quoted strings, no comments), a host name of letter-digit-hyphen labels
// (RFC 1035 2.3.1) with a top-level domain that is not all digits, and the RFC 5321 4.5.3.1
// lengths. Internationalized domains are accepted and turned into their ASCII form (IDNA,
// punycode: `bücher.example` is sent as `xn--bcher-kva.example`); a local part must be ASCII.

export const ADDRESS_LIMITS = { address: 254, localPart: 64, domain: 253, label: 63 } as const;

/** RFC 5322 atext: a local part is one or more of these runs joined by single dots. */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
/** Before IDNA mapping, a domain's ASCII characters are letters, digits, hyphens and dots. */
const ASCII_NOT_HOSTNAME = /[\u0000-\u002C\u002F\u003A-\u0040\u005B-\u0060\u007B-\u007F]/;
const NON_ASCII = /[^\u0000-\u007F]/;

export type Checked<T = string> = { ok: true; value: T } | { ok: false; reason: string };

const refuse = (reason: string): Checked<never> => ({ ok: false, reason });

/**
 * A domain as Herald stores and sends it: lower-case ASCII (an internationalized domain in
 * its punycode form), or why it is not one.
 */
export function normalizeDomain(input: string): Checked {
  if (input.length === 0) return refuse('must have a domain');
  // Bounded before anything else runs over it (a Unicode domain is at most as long as its punycode).
  if (input.length > ADDRESS_LIMITS.domain) return refuse(`the domain must be at most ${ADDRESS_LIMITS.domain} characters`);
  const unsafe = unstorableReason(input) ?? deceptiveReason(input);
  if (unsafe) return refuse(`the domain ${unsafe}`);
  if (hasSpaceOrControl(input)) return refuse('the domain must not contain spaces or control characters');
  if (ASCII_NOT_HOSTNAME.test(input)) return refuse('the domain may hold only letters, digits, hyphens and dots (no IP literals)');
  let ascii = input.toLowerCase();
  if (NON_ASCII.test(input) || ascii.includes('xn--')) {
    // IDNA (UTS #46) as WHATWG URL applies it: mapping, then punycode for each label; an
    // ASCII label that claims to be punycode (xn--) must decode.
    try {
      ascii = new URL(`http://${input}/`).hostname;
    } catch {
      return refuse('the domain is not a valid internationalized domain name');
    }
  }
  if (ascii.length > ADDRESS_LIMITS.domain)
    return refuse(`the domain must be at most ${ADDRESS_LIMITS.domain} characters in its ASCII form`);
  const labels = ascii.split('.');
  if (labels.some((l) => l.length === 0)) return refuse('the domain must not start or end with a dot, or hold two dots in a row');
  if (labels.length < 2) return refuse('the domain must have at least two labels (example.org)');
  for (const label of labels) {
    if (label.length > ADDRESS_LIMITS.label) return refuse(`each label of the domain must be at most ${ADDRESS_LIMITS.label} characters`);
    if (!LDH_LABEL.test(label)) return refuse(`the domain label "${label}" must be letters, digits and inner hyphens`);
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) return refuse('the top-level domain must not be numeric');
  return { ok: true, value: ascii };
}

/**
 * An address as Herald stores and sends it (`local@domain`, lower-cased, the domain in ASCII),
 * or why it is refused.
 */
export function normalizeAddress(input: string): Checked {
  // Bounded before any pattern runs: a Unicode domain can be up to about 4x shorter than its punycode.
  if (input.length > ADDRESS_LIMITS.address) return refuse(`must be at most ${ADDRESS_LIMITS.address} characters`);
  const unsafe = unstorableReason(input) ?? deceptiveReason(input);
  if (unsafe) return refuse(unsafe);
  if (hasSpaceOrControl(input)) return refuse('must not contain spaces or control characters');
  const at = input.lastIndexOf('@');
  if (at === -1) return refuse('must be an email address (local@domain)');
  const local = input.slice(0, at);
  if (local.length === 0) return refuse('must have a local part before the @');
  if (local.includes('@')) return refuse('must contain exactly one @');
  if (local.length > ADDRESS_LIMITS.localPart) return refuse(`the local part must be at most ${ADDRESS_LIMITS.localPart} characters`);
  if (NON_ASCII.test(local)) return refuse('the local part must be ASCII (internationalized local parts are not supported)');
  if (local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    return refuse('the local part must not start or end with a dot, or hold two dots in a row');
  }
  if (!DOT_ATOM.test(local)) return refuse('the local part holds a character that needs quoting; quoted local parts are not accepted');
  const domain = normalizeDomain(input.slice(at + 1));
  if (!domain.ok) return domain;
  const address = `${local.toLowerCase()}@${domain.value}`;
  if (address.length > ADDRESS_LIMITS.address)
    return refuse(`must be at most ${ADDRESS_LIMITS.address} characters with its domain in ASCII`);
  return { ok: true, value: address };
}
