import { headerUnsafeReason, unstorableReason, utf8Length } from './text';

// The bounds of every field Herald accepts, and the rules on dates and free text, decided once.
// The API's schemas (and the OpenAPI document they produce), the workflow's control validators
// and the README's table read them from here.

export const EMAIL_LIMITS = {
  /** Addresses in each of to, cc and bcc. */
  recipientsPerList: 100,
  replyTo: 10,
  displayNameChars: 200,
  subjectChars: 998,
  attachments: 50,
  filenameChars: 255,
  /** RFC 6838 4.2: type and subtype of at most 127 characters each. */
  contentTypeChars: 255,
  metadataKeys: 50,
  metadataKeyChars: 100,
  metadataStringChars: 1000,
  /** All of metadata, JSON-encoded (UTF-8 bytes). */
  metadataBytes: 16 * 1024,
  tags: 50,
  tagChars: 100,
  idempotencyKeyChars: 255,
} as const;

/** Free text of the controls (cancel, pause, ...), from the API and from the temporal CLI. */
export const CONTROL_LIMITS = { reasonChars: 500, actorChars: 100 } as const;

/** The most JSON a request body may nest and hold, checked before any field is validated. */
export const JSON_LIMITS = { depth: 16, nodes: 20_000 } as const;

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/**
 * When a send may be scheduled: up to a day in the past (sent at once; a client's retry of the
 * same request a while later still validates) and up to 366 days ahead.
 */
export const SEND_AT_RANGE = { maxPastMs: DAY, maxAheadMs: 366 * DAY } as const;

/** The dates a filter may name (createdAfter, createdBefore): what PostgreSQL can compare. */
export const FILTER_DATE_RANGE = { min: Date.UTC(1970, 0, 1), max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) } as const;

/** Why a scheduled send time is refused, or undefined; `now` is the caller's clock (the workflow's in a workflow). */
export function sendAtReason(iso: string, now: number): string | undefined {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return 'must be an ISO 8601 date-time with an offset';
  if (at < now - SEND_AT_RANGE.maxPastMs) return 'must not be more than 24 hours in the past';
  if (at > now + SEND_AT_RANGE.maxAheadMs) return 'must not be more than 366 days ahead';
  return undefined;
}

/** Why a filter's date is refused, or undefined. */
export function filterDateReason(iso: string): string | undefined {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return 'must be an ISO 8601 date-time with an offset';
  if (at < FILTER_DATE_RANGE.min || at > FILTER_DATE_RANGE.max) return 'must be between 1970-01-01 and 9999-12-31';
  return undefined;
}

/** Why a control's reason or actor is refused (it is stored, and shown in the timeline). */
export function controlTextReason(text: unknown, maxChars: number): string | undefined {
  if (text === undefined) return undefined;
  if (typeof text !== 'string') return 'must be a string';
  if (text.length > maxChars) return `must be at most ${maxChars} characters`;
  return headerUnsafeReason(text);
}

/** Why a metadata object is refused as a whole (its values are checked one by one elsewhere). */
export function metadataReason(metadata: Record<string, unknown>): string | undefined {
  const keys = Object.keys(metadata);
  if (keys.length > EMAIL_LIMITS.metadataKeys) return `at most ${EMAIL_LIMITS.metadataKeys} keys`;
  const bytes = utf8Length(JSON.stringify(metadata));
  if (bytes > EMAIL_LIMITS.metadataBytes) return `at most ${EMAIL_LIMITS.metadataBytes} bytes in all (JSON), got ${bytes}`;
  return undefined;
}

/** Why a metadata key is refused. */
export function metadataKeyReason(key: string): string | undefined {
  if (key.length === 0) return 'a metadata key must not be empty';
  if (key.length > EMAIL_LIMITS.metadataKeyChars) return `a metadata key must be at most ${EMAIL_LIMITS.metadataKeyChars} characters`;
  return unstorableReason(key);
}

/**
 * Whether a JSON text stays within JSON_LIMITS, read before it is parsed (parsing a million keys
 * costs seconds): one linear scan that counts values (commas and opening brackets outside
 * strings) and nesting. Malformed JSON is left to the parser. Returns why not, or undefined.
 */
export function jsonShapeReason(text: string, limits: { depth: number; nodes: number } = JSON_LIMITS): string | undefined {
  let values = 1;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x2c)
      values++; // ,
    else if (c === 0x5b || c === 0x7b) {
      // [ {
      values++;
      if (++depth > limits.depth) return `the body nests deeper than ${limits.depth} levels`;
    } else if (c === 0x5d || c === 0x7d) depth--;
    if (values > limits.nodes) return `the body holds more than ${limits.nodes} values`;
  }
  return undefined;
}
