import { account, assertNothingLost } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { startCluster, stopCluster } from './lib/pg-cluster';
import { useFaultStack } from './lib/stack';
import { outage } from './lib/timeline';

// PostgreSQL crashes mid-burst (pg_ctl stop -m immediate: no checkpoint, WAL recovery at the
// next start) and is started again 5 s later. The API answers 5xx meanwhile (the client
// retries with the same key); the worker's activities fail and Temporal retries them. Nothing
// is lost, nothing stays non-terminal, and a message sent twice (accepted by the gateway while
// the database could not record it) is on record as 'uncertain'.

const SLUG = '10-postgres-restart';
const EMAILS = 40;
const DOWN_MS = 5000;

const scenario = useFaultStack(SLUG, {
  gateway: smtpSink(['-W', '.:1']),
  env: { SMTP_ATTEMPT_TIMEOUT_MS: '6000', SMTP_POOL_MAX_CONNECTIONS: '10' },
});

test('PostgreSQL crashed and restarted mid-burst: nothing lost, nothing stuck', async () => {
  const startedAt = Date.now();
  const fault = outage(
    2000,
    DOWN_MS,
    () => stopCluster(scenario.stack.pg, 'immediate'),
    () => startCluster(scenario.stack.pg),
  );
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 150,
  });
  const recoveredAt = await fault;
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'PostgreSQL crashed and restarted',
    peer: 'smtp-sink',
    fault: 'pg_ctl stop -m immediate at 2 s, started again 5 s later; smtp-sink -W .:1',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 60_000,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  // The outage was felt by clients (5xx and retries, or held POSTs).
  expect(report.slowestSubmitSeconds > 2 || report.retriedSubmits > 0).toBe(true);
  // Activities fail fast while the database is down (src/db/sql.ts caps the client's reconnect
  // backoff) and Temporal retries them: none is held past its timeout and then abandoned.
  expect(report.activityTimeouts).toBe(0);
  expect(report.lateRecords).toBe(0);
  // A second copy only inside the window: the gateway took the message and the database could
  // not record it; the next attempt closed that one 'uncertain' and sent again.
  for (const email of report.emails) {
    expect(email.copies).toBeGreaterThanOrEqual(1);
    expect(email.copies - 1).toBeLessThanOrEqual(email.attempts.filter((a) => a.outcome === 'uncertain').length);
  }
  // Back to normal within seconds of the database (retries at most 2 s apart).
  expect(report.recoverSeconds).toBeLessThan(10);
});
