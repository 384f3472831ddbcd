import { account, assertNothingLost } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { useFaultStack } from './lib/stack';
import { outage } from './lib/timeline';

// Postfix's smtp-sink is killed: connections are refused for 30 s while emails keep coming,
// then it comes back on the same port. Everything is delivered, once, soon after.

const SLUG = '03-gateway-down-30s';
const EMAILS = 30;
const DOWN_MS = 30_000;

const scenario = useFaultStack(SLUG, { gateway: smtpSink() });

test('connections refused for 30 s, then the gateway is back: all delivered once', async () => {
  const startedAt = Date.now();
  const fault = outage(
    1500,
    DOWN_MS,
    () => scenario.gateway.stop(),
    () => scenario.gateway.start(),
  );
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 500,
  });
  const recoveredAt = await fault;
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'gateway refuses connections for 30 s',
    peer: 'smtp-sink',
    fault: 'smtp-sink killed (connection refused) for 30 s while the stream runs, then restarted on its port',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 30_000,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  for (const email of report.emails) expect(email.copies).toBe(1);
  // Most of the stream arrived during the outage: retried on connection errors, never uncertain.
  const retried = report.emails.filter((e) => e.attempts.length > 1);
  expect(retried.length).toBeGreaterThanOrEqual(EMAILS / 2);
  for (const email of retried) {
    for (const a of email.attempts.slice(0, -1))
      expect(a).toMatchObject({ outcome: 'transient', errorCode: expect.stringMatching(/^(ESOCKET|ECONNECTION)$/) });
    expect(email.attempts.at(-1)!.outcome).toBe('sent');
  }
  // Retries are at most RETRY_MAX_INTERVAL_MS (2 s) apart: recovery takes seconds, not minutes.
  expect(report.recoverSeconds).toBeLessThan(10);
});
