import { MAX_RETRY_AFTER_MS, MIN_RETRY_AFTER_MS, retryDelayFromReply } from '../../src/shared';

// "Try again later" replies: the delay a 4yz names becomes the next retry's delay.

test.each([
  [450, '450 4.2.0 Greylisted, try again in 5 minutes', 300_000],
  [451, '451 4.7.1 Please retry after 120 seconds', 120_000],
  [451, '451 please retry in 30s', 30_000],
  [421, '421 4.7.0 Too many connections, try again in 2 min', 120_000],
  [450, '450 4.7.1 Try again later in 10 minutes', 600_000],
  [451, '451 Temporarily deferred, wait 1 hour', 3_600_000],
  [451, '451 4.3.0 try again in a minute', 60_000],
  [452, '452 retry in 90 secs', 90_000],
  [451, '451 TRY AGAIN IN 15 MINS', 900_000],
  [451, '451 retry after 1.5 hours', 5_400_000],
  [450, '450 try again in 500ms', MIN_RETRY_AFTER_MS],
  [450, '450 try again in 0 seconds', MIN_RETRY_AFTER_MS],
  [450, '450 try again in 3 days', MAX_RETRY_AFTER_MS],
  [450, '450 try again in 100 hours', MAX_RETRY_AFTER_MS],
  // Amazon SES: 454 throttling names no number.
  [454, '454 Throttling failure: Maximum sending rate exceeded.', 5_000],
  [454, '454 Throttling failure: Daily message quota exceeded.', 3_600_000],
  // No delay named: the retry policy's backoff.
  [451, '451 4.3.0 Try again later', undefined],
  [450, '450 4.2.1 Mailbox busy', undefined],
  [452, '452 4.2.2 Mailbox full', undefined],
  // A 5yz is permanent whatever its text says; no code, no reply: nothing.
  [550, '550 5.7.1 try again in 5 minutes', undefined],
  [undefined, 'try again in 5 minutes', undefined],
  [451, undefined, undefined],
])('%s %j -> %s ms', (code, reply, expected) => {
  expect(retryDelayFromReply(code, reply)).toBe(expected);
});

test('a huge reply is read only as far as a reply goes, at once', () => {
  const started = Date.now();
  expect(retryDelayFromReply(451, `451 ${'try again '.repeat(500_000)} in 5 minutes`)).toBeUndefined();
  expect(Date.now() - started).toBeLessThan(1_000);
});
