import path from 'node:path';
import { sleep } from '../support/process';
import type { SmtpSink } from '../support/smtp-sink';
import { account, assertNothingLost } from './lib/accounting';
import { smtpSink, type Gateway } from './lib/gateways';
import { submitStream } from './lib/load';
import { FaultStack, scenarioDir } from './lib/stack';

// Two gateways, two Postfix smtp-sinks: the primary is killed (connections refused) while a
// stream of emails runs, and comes back 10 s later. Attempts fail over to the secondary at once
// (no backoff: the failure says nothing about the message); after 3 failures in a row the
// primary's circuit opens and attempts skip it without trying; once it is back, one attempt
// probes it after the cool-down and the traffic returns to it. Every email is delivered once.

const SLUG = '14-gateway-failover';
const EMAILS = 60;
const INTERVAL_MS = 200;
const DOWN_AFTER_MS = 2_000;
const DOWN_FOR_MS = 10_000;
const COOL_DOWN_MS = 3_000;

let stack: FaultStack | undefined;
let primary: SmtpSink | undefined;
let secondary: SmtpSink | undefined;

beforeAll(async () => {
  const dir = scenarioDir(SLUG);
  primary = await smtpSink()(path.join(dir, 'primary'));
  secondary = await smtpSink()(path.join(dir, 'secondary'));
  stack = await FaultStack.start({
    slug: SLUG,
    gatewayUrl: primary.url,
    env: {
      SMTP_GATEWAYS: JSON.stringify([
        { name: 'primary', url: primary.url, priority: 1 },
        { name: 'secondary', url: secondary.url, priority: 2 },
      ]),
      SMTP_BREAKER_FAILURES: '3',
      SMTP_BREAKER_COOLDOWN_MS: String(COOL_DOWN_MS),
    },
  });
});

afterAll(async () => {
  await stack?.stop();
  await primary?.close();
  await secondary?.close();
});

/** Both sinks as one gateway for the accounting: copies of a Message-ID wherever they landed. */
function bothGateways(): Gateway {
  return {
    url: `${primary!.url} ${secondary!.url}`,
    copies() {
      const all = new Map(primary!.copies());
      for (const [id, n] of secondary!.copies()) all.set(id, (all.get(id) ?? 0) + n);
      return all;
    },
    close: async () => {},
  };
}

test('the primary gateway killed under load: failover to the secondary, the breaker opens and closes, every email delivered once', async () => {
  const startedAt = Date.now();
  let downAt = 0;
  let upAt = 0;
  const outage = (async () => {
    await sleep(DOWN_AFTER_MS);
    await primary!.stop();
    downAt = Date.now();
    await sleep(DOWN_FOR_MS);
    await primary!.start();
    upAt = Date.now();
    return upAt;
  })();
  const subs = await submitStream({
    scenario: SLUG,
    baseUrl: () => stack!.apiUrl,
    count: EMAILS,
    intervalMs: INTERVAL_MS,
    apiKey: stack!.apiKey,
  });
  const recoveredAt = await outage;
  // Some emails once a cool-down has passed since the primary came back: the traffic returns to it.
  await sleep(COOL_DOWN_MS + 1_000);
  const late = await submitStream({
    scenario: SLUG,
    baseUrl: () => stack!.apiUrl,
    count: 10,
    intervalMs: INTERVAL_MS,
    firstIndex: EMAILS,
    apiKey: stack!.apiKey,
  });
  const all = [...subs, ...late];
  const report = await account(stack!, bothGateways(), all, {
    slug: SLUG,
    title: 'primary gateway killed under load, failover to the secondary',
    peer: 'smtp-sink x2',
    fault: `primary smtp-sink killed (connection refused) for ${DOWN_FOR_MS / 1000} s while the stream runs; breaker: 3 failures, ${COOL_DOWN_MS / 1000} s cool-down`,
    startedAt,
    recoveredAt,
    recoveryWindowMs: 30_000,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(all.length);
  // A refused connection is before any data: no copy beyond the one delivered.
  for (const email of report.emails) expect(email.copies).toBe(1);
  expect(report.duplicatedEmails).toBe(0);

  const ids = report.emails.map((e) => e.id);
  const attempts = await stack!.sql<
    Array<{ email_id: string; gateway: string; outcome: string; error_code: string | null; started_at: Date }>
  >`
    select email_id::text, gateway, outcome, error_code, started_at from delivery_attempts where email_id = any(${ids}::uuid[]) order by id`;
  const routeOf = (id: string) => attempts.filter((a) => a.email_id === id);
  const sentThrough = (gateway: string) => report.emails.filter((e) => routeOf(e.id).at(-1)?.gateway === gateway);
  for (const email of report.emails) {
    const route = routeOf(email.id);
    expect(route.at(-1)!.outcome).toBe('sent');
    // Failed attempts are connection failures on the primary, each followed by the secondary.
    for (const a of route.slice(0, -1))
      expect(a).toMatchObject({ gateway: 'primary', outcome: 'transient', error_code: expect.stringMatching(/^(ECONNECTION|ESOCKET)$/) });
    if (route.length > 1) expect(route.at(-1)!.gateway).toBe('secondary');
  }
  const failedOver = report.emails.filter((e) => routeOf(e.id).length > 1);
  const skipped = sentThrough('secondary').filter((e) => routeOf(e.id).length === 1);
  // During the outage: some tried the primary and failed over; once the circuit opened, the rest
  // went straight to the secondary (the primary skipped, nothing to record).
  expect(failedOver.length).toBeGreaterThanOrEqual(3);
  expect(skipped.length).toBeGreaterThanOrEqual(EMAILS / 4);
  // Failover is at once: an email accepted during the outage is delivered within seconds.
  const outageEmails = all.filter((s) => s.acceptedAt && s.acceptedAt > downAt && s.acceptedAt < upAt);
  const byId = new Map(report.emails.map((e) => [e.id, e]));
  const slowest = Math.max(...outageEmails.map((s) => byId.get(s.id!)!.updatedAt - s.acceptedAt!));
  expect(slowest).toBeLessThan(5_000);
  // After the primary came back and the cool-down passed, the traffic is the primary's again.
  for (const s of late) expect(routeOf(s.id!).map((a) => `${a.gateway}:${a.outcome}`)).toEqual(['primary:sent']);

  const lines = [
    `sent through primary ${sentThrough('primary').length}, secondary ${sentThrough('secondary').length}`,
    `failed over after a refused connection: ${failedOver.length}; sent to the secondary without trying the primary (circuit open): ${skipped.length}`,
    `slowest accept-to-sent during the outage: ${(slowest / 1000).toFixed(1)} s`,
  ];
  process.stdout.write(`   ${lines.join('\n   ')}\n`);
});
