// "Try again later" replies: a 4yz whose text names a delay sets the next attempt's delay
// (ApplicationFailure's nextRetryDelay; the give-up time still bounds it).

/** A reply's delay is taken within these bounds. */
export const MIN_RETRY_AFTER_MS = 1_000;
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

/**
 * Replies that name no number but mean a known wait. Amazon SES answers 454 "Throttling failure:
 * Maximum sending rate exceeded" (a per-second rate: a few seconds is enough) and "Daily message
 * quota exceeded" (a rolling 24 h window: an hour before trying again).
 */
export const THROTTLING_DELAYS: ReadonlyArray<{ pattern: RegExp; delayMs: number }> = [
  { pattern: /maximum sending rate exceeded/i, delayMs: 5_000 },
  { pattern: /daily message quota exceeded/i, delayMs: 3_600_000 },
  { pattern: /throttl/i, delayMs: 5_000 },
];

const UNIT_MS: Record<string, number> = {
  ms: 1,
  millisecond: 1,
  s: 1_000,
  sec: 1_000,
  second: 1_000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
};

// "try again in 5 minutes", "retry after 120 seconds", "please retry in 30s", "try again later
// in 10 min", "wait 2 hours", "try again in a minute". Linear: no nested quantifiers.
const DELAY =
  /\b(?:try(?: again)?(?: later)?|retry(?: again)?(?: later)?|wait) (?:in |after |for )?(\d{1,9}(?:\.\d{1,3})?|an?) ?(milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b/i;

/** Replies are a line or a few; anything longer is cut before a regex reads it. */
const MAX_REPLY_CHARS = 2_000;

/**
 * The delay a transient (4yz) reply asks for, in ms, or undefined when it names none. A 5yz is
 * permanent whatever its text says.
 */
export function retryDelayFromReply(smtpCode: number | undefined, reply: string | undefined): number | undefined {
  if (smtpCode === undefined || smtpCode < 400 || smtpCode >= 500 || !reply) return undefined;
  const text = reply.slice(0, MAX_REPLY_CHARS).replace(/\s+/g, ' ');
  const match = DELAY.exec(text);
  let ms: number | undefined;
  if (match) {
    const amount = /^an?$/i.test(match[1]) ? 1 : Number(match[1]);
    const unit = match[2].toLowerCase();
    ms = amount * (UNIT_MS[unit] ?? UNIT_MS[unit.replace(/s$/, '')]);
  } else {
    ms = THROTTLING_DELAYS.find((t) => t.pattern.test(text))?.delayMs;
  }
  return ms === undefined ? undefined : Math.round(Math.min(MAX_RETRY_AFTER_MS, Math.max(MIN_RETRY_AFTER_MS, ms)));
}
