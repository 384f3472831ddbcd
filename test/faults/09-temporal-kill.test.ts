import { account, assertNothingLost } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { useFaultStack } from './lib/stack';
import { outage } from './lib/timeline';

// The Temporal dev server is killed with SIGKILL mid-burst and started again 5 s later on the
// same port with the same SQLite file. The API holds or refuses (503) the POSTs meanwhile (the
// client retries with the same Idempotency-Key), the worker reconnects by itself. Nothing is lost or sent twice:
// an attempt whose completion could not be reported is retried and finds the email sent.

const SLUG = '09-temporal-kill';
const EMAILS = 40;
const DOWN_MS = 5000;

const scenario = useFaultStack(SLUG, {
  gateway: smtpSink(['-W', '.:1']),
  env: { SMTP_ATTEMPT_TIMEOUT_MS: '6000', SMTP_POOL_MAX_CONNECTIONS: '10' },
});

test('Temporal dev server SIGKILLed mid-burst, restarted on the same db file: nothing lost', async () => {
  const startedAt = Date.now();
  const fault = outage(
    2000,
    DOWN_MS,
    () => scenario.stack.killTemporal(),
    () => scenario.stack.startTemporal(),
  );
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 150,
  });
  const recoveredAt = await fault;
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'Temporal dev server killed and restarted',
    peer: 'smtp-sink',
    fault: 'temporal server start-dev SIGKILL at 2 s, restarted 5 s later with the same --db-filename; smtp-sink -W .:1',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 60_000,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  // The outage was felt by clients: the API held their POSTs (its Temporal client retries an
  // unavailable server) or answered 503 and they retried.
  expect(report.slowestSubmitSeconds > 2 || report.retriedSubmits > 0).toBe(true);
  for (const email of report.emails) expect(email.copies).toBe(1);
});
