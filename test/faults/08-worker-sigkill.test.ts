import { sleep } from '../support/process';
import { account, assertNothingLost } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { useFaultStack } from './lib/stack';

// The worker process is killed with SIGKILL twice while it is sending, and started again. The
// gateway (smtp-sink -W .:1) holds each message 1 s between the final dot and its reply, so
// the kills land inside the RFC 1047 window. Everything is delivered; a message sent twice is
// one whose interrupted attempt was closed 'uncertain' by the next attempt.

const SLUG = '08-worker-sigkill';
const EMAILS = 40;

const scenario = useFaultStack(SLUG, {
  gateway: smtpSink(['-W', '.:1']),
  env: { SMTP_ATTEMPT_TIMEOUT_MS: '6000', SMTP_POOL_MAX_CONNECTIONS: '10' },
});

test('worker SIGKILLed mid-sends and restarted, twice: all delivered, duplicates only where an attempt was interrupted', async () => {
  const startedAt = Date.now();
  const kills = (async () => {
    for (const at of [1500, 5000]) {
      await sleep(Math.max(0, startedAt + at - Date.now()));
      await scenario.stack.killWorker('SIGKILL');
      await scenario.stack.startWorker();
    }
    return Date.now();
  })();
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 100,
  });
  const recoveredAt = await kills;
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'worker killed (SIGKILL) mid-sends, restarted',
    peer: 'smtp-sink',
    fault: 'worker SIGKILL at 1.5 s and 5 s, restarted at once; smtp-sink -W .:1 (1 s between final dot and reply); attempt timeout 6 s',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 60_000,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  // The kills hit attempts under way: they are on record, closed 'uncertain' by the next attempt.
  expect(report.interruptedAttempts).toBeGreaterThan(0);
  for (const email of report.emails) {
    expect(email.copies).toBeGreaterThanOrEqual(1);
    // A second copy only inside the window: one interrupted ('uncertain') attempt per extra copy.
    const uncertain = email.attempts.filter((a) => a.outcome === 'uncertain').length;
    expect(email.copies - 1).toBeLessThanOrEqual(uncertain);
    expect(email.attempts.at(-1)!.outcome).toBe('sent');
  }
});
