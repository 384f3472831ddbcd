// What a string must not hold to be stored in PostgreSQL and sent through SMTP, decided once.
// The API's schemas, the workflow's control validators and the SMTP submission listener call
// these. Every check is a single character-class scan: linear in the length of the string,
// whatever it holds (a backtracking pattern over a multi-megabyte field overflows the stack).

/** NUL: PostgreSQL's text and jsonb cannot hold it; SMTP forbids it (RFC 5321 4.5.2). */
const NUL = /\u0000/;
/** A UTF-16 surrogate without its pair: no UTF-8 encoding exists, jsonb refuses its escape. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/**
 * What may not appear in a header-bound string (subject, display names, header values, file
 * names): C0 controls but TAB (CR and LF above all), DEL, C1 controls (NEL U+0085 among them),
 * and the Unicode line and paragraph separators. Mail software treats each of them as a line
 * break somewhere, which is how header injection works.
 */
const HEADER_UNSAFE = /[\u0000-\u0008\u000A-\u001F\u007F-\u009F\u2028\u2029]/;
/**
 * Characters that are invisible or reorder text (zero-width spaces and joiners, soft hyphen,
 * BOM, bidi embeddings, overrides, isolates and marks): they make one address or file name read
 * as another (`invoice\u202Efdp.exe`).
 */
const INVISIBLE_OR_BIDI =
  // eslint-disable-next-line no-misleading-character-class -- each invisible mark is matched alone, on purpose
  /[\u00AD\u034F\u061C\u115F\u1160\u17B4\u17B5\u180B-\u180F\u200B-\u200F\u202A-\u202E\u2060-\u206F\u3164\uFE00-\uFE0F\uFEFF\uFFA0\uFFF0-\uFFF8]/;
/** Any whitespace or control character at all (addresses and header names hold none). */
const ANY_SPACE_OR_CONTROL = /[\s\u0000-\u001F\u007F-\u009F]/;

/** How a character is named in an error message: U+2028, say. */
export function describeChar(s: string, index: number): string {
  return `U+${s.charCodeAt(index).toString(16).toUpperCase().padStart(4, '0')}`;
}

function found(s: string, pattern: RegExp, what: string): string | undefined {
  const match = pattern.exec(s);
  return match ? `must not contain ${describeChar(s, match.index)} (${what})` : undefined;
}

/** Why PostgreSQL or SMTP cannot carry this string, or undefined when they can. */
export function unstorableReason(s: string): string | undefined {
  return found(s, NUL, 'a NUL character') ?? found(s, LONE_SURROGATE, 'an unpaired UTF-16 surrogate');
}

/** Why this string may not go into a mail header (line breaks and their look-alikes, controls). */
export function headerUnsafeReason(s: string): string | undefined {
  return unstorableReason(s) ?? found(s, HEADER_UNSAFE, 'a line break or control character');
}

/** Why this string may not name something a person reads and trusts (an address, a file name). */
export function deceptiveReason(s: string): string | undefined {
  return found(s, INVISIBLE_OR_BIDI, 'an invisible or bidirectional-control character');
}

export function hasSpaceOrControl(s: string): boolean {
  return ANY_SPACE_OR_CONTROL.test(s);
}

/**
 * Text from outside Herald's own checks (an SMTP server's reply, an error message) made
 * storable: NUL and unpaired surrogates become U+FFFD.
 */
export function toStorable(s: string): string {
  if (unstorableReason(s) === undefined) return s;
  return s.replace(new RegExp(`${NUL.source}|${LONE_SURROGATE.source}`, 'g'), '\uFFFD');
}

/** The UTF-8 size of a string, counted without encoding it (no Buffer: workflows use this module too). */
export function utf8Length(s: string): number {
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}

/** Cuts a string to at most `max` UTF-16 units without splitting a surrogate pair. */
export function truncate(s: string, max: number, marker = '...'): string {
  if (s.length <= max) return s;
  let end = max - marker.length;
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return s.slice(0, end) + marker;
}

const NOT_BASE64 = /[^A-Za-z0-9+/=]/;

/**
 * Canonical base64 (RFC 4648 4, no line breaks, padded), checked in one linear scan: length a
 * multiple of 4, the alphabet only, `=` only as the last one or two characters.
 */
export function isBase64(s: string): boolean {
  if (s.length % 4 !== 0 || NOT_BASE64.test(s)) return false;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return s.indexOf('=') === -1 || s.indexOf('=') === s.length - pad;
}

/** The decoded size of a string `isBase64` accepts, without decoding it. */
export function base64DecodedBytes(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

/**
 * Why an attachment's file name is refused: it is a header-bound string, must name a file and
 * not a path (`.`, `..`, slashes), and must not disguise its extension.
 */
export function filenameReason(name: string): string | undefined {
  const unsafe = headerUnsafeReason(name) ?? deceptiveReason(name);
  if (unsafe) return unsafe;
  if (name === '.' || name === '..') return 'must name a file, not . or ..';
  if (/[/\\]/.test(name)) return 'must not contain a path (/ or \\)';
  if (name.trim() !== name) return 'must not start or end with whitespace';
  return undefined;
}

/** A MIME type as RFC 6838 4.2 restricts its names: type/subtype of letters, digits and !#$&-^_.+ */
const MIME_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

/**
 * Why an attachment's content type is refused: a bare MIME type (no parameters, which Herald
 * sets), and not multipart/*, whose body must be a MIME structure, never base64 (RFC 2045 6.4).
 */
export function attachmentTypeReason(type: string): string | undefined {
  if (!MIME_TYPE.test(type)) return 'must be a MIME type such as application/pdf (type/subtype, no parameters)';
  if (/^multipart\//i.test(type)) return 'must not be multipart/*: attach the parts themselves';
  return undefined;
}
