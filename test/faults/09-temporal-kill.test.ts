import path from 'node:path';
import { account, assertNothingLost } from './lib/accounting';
import { startSmtpSink, type SinkGateway } from './lib/gateways';
import { submitStream } from './lib/load';
import { freePort } from '../../src/dev/temporal-dev-server';
import { sleep } from './lib/proc';
import { FaultStack, scenarioDir } from './lib/stack';

// The Temporal dev server is killed with SIGKILL mid-burst and started again 5 s later on the
// same port with the same SQLite file. The API holds or refuses (503) the POSTs meanwhile (the
// client retries with the same Idempotency-Key), the worker reconnects by itself. Nothing is lost or sent twice:
// an attempt whose completion could not be reported is retried and finds the email sent.

const SLUG = '09-temporal-kill';
const EMAILS = 40;
const DOWN_MS = 5000;

let stack: FaultStack | undefined;
let sink: SinkGateway | undefined;

beforeAll(async () => {
  const dir = scenarioDir(SLUG);
  sink = await startSmtpSink({ port: await freePort(), dir, logFile: path.join(dir, 'smtp-sink.log'), flags: ['-W', '.:1'] });
  stack = await FaultStack.start({
    slug: SLUG,
    gatewayUrl: sink.url,
    env: { SMTP_ATTEMPT_TIMEOUT_MS: '6000', SMTP_POOL_MAX_CONNECTIONS: '10' },
  });
});

afterAll(async () => {
  await stack?.stop();
  await sink?.close();
});

test('Temporal dev server SIGKILLed mid-burst, restarted on the same db file: nothing lost', async () => {
  const startedAt = Date.now();
  const outage = (async () => {
    await sleep(2000);
    await stack!.killTemporal();
    await sleep(DOWN_MS);
    await stack!.startTemporal();
    return Date.now();
  })();
  const subs = await submitStream({ scenario: SLUG, baseUrl: () => stack!.apiUrl, count: EMAILS, intervalMs: 150 });
  const recoveredAt = await outage;
  const report = await account(stack!, sink!, subs, {
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
