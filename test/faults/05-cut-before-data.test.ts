import { account, assertNothingLost } from './lib/accounting';
import { scriptedSmtp } from './lib/gateways';
import { useFaultStack } from './lib/stack';

// The gateway drops the connection before DATA: at MAIL FROM (every other one) or at the first
// RCPT of each recipient. Nothing was handed over, so the attempt is a plain transient failure
// (not 'uncertain'), it is retried, and exactly one copy arrives.

const SLUG = '05-cut-before-data';
const EMAILS = 20;

let faulty = true;

const scenario = useFaultStack(SLUG, {
  gateway: scriptedSmtp({
    onMailFrom: (index) => (faulty && index % 2 === 0 ? 'cut' : undefined),
    onRcpt: (_address, index) => (index === 0 ? 'cut' : undefined),
  }),
});

test('connection cut at MAIL FROM / RCPT: retried, transient, exactly one copy', async () => {
  const startedAt = Date.now();
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 150,
  });
  // MAIL FROM cuts stop with the stream; the first RCPT of each recipient is cut in any case.
  faulty = false;
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'connection cut before DATA',
    peer: 'smtp-server',
    fault: 'socket destroyed without reply at every other MAIL FROM (during the stream) and at the first RCPT of each recipient',
    startedAt,
    recoveredAt: Date.now(),
    recoveryWindowMs: 30_000,
    notes: [`gateway events: ${JSON.stringify(Object.fromEntries(scenario.gateway.events))}`],
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  expect(scenario.gateway.events.get('rcpt:cut')).toBe(EMAILS);
  expect(scenario.gateway.events.get('mail:cut') ?? 0).toBeGreaterThan(0);
  for (const email of report.emails) {
    expect(email.copies).toBe(1);
    expect(email.attempts.length).toBeGreaterThanOrEqual(2);
    // A cut before DATA is not the RFC 1047 window: the outcome is known (nothing sent).
    for (const a of email.attempts.slice(0, -1)) expect(a).toMatchObject({ outcome: 'transient', errorCode: 'ECONNECTION' });
    expect(email.attempts.at(-1)!.outcome).toBe('sent');
  }
  expect(report.uncertainEmails).toBe(0);
  expect(report.extraCopies).toBe(0);
});
