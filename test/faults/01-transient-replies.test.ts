import { account, assertNothingLost } from './lib/accounting';
import { scriptedSmtp } from './lib/gateways';
import { useFaultStack } from './lib/stack';
import { after } from './lib/timeline';

// The gateway answers 421 at the greeting, 451 at RCPT and 451 at the end of DATA for a while,
// then recovers: every email is delivered after retries, once, and each failed attempt is on
// record with the reply that caused it.

const SLUG = '01-transient-replies';
const EMAILS = 30;
const FAULT_MS = 10_000;

let faulty = true;

const scenario = useFaultStack(SLUG, {
  // One connection in three is refused at the greeting, one RCPT in two is deferred, and
  // whatever gets as far as the final dot is deferred there: no attempt succeeds meanwhile.
  gateway: scriptedSmtp({
    onConnect: (index) =>
      faulty && index % 3 === 0 ? { code: 421, message: '4.3.2 Service not available, closing transmission channel' } : undefined,
    onRcpt: (_address, index) => (faulty && index % 2 === 0 ? { code: 451, message: '4.3.0 Temporary lookup failure' } : undefined),
    onData: () => (faulty ? { code: 451, message: '4.3.0 Queue full, try again later' } : undefined),
  }),
});

test('421 at greeting, 451 at RCPT and at DATA for 10 s, then recovery: all delivered once, attempts recorded', async () => {
  const startedAt = Date.now();
  const lift = after(FAULT_MS, () => (faulty = false));
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 200,
  });
  const recoveredAt = await lift;
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'gateway answers 421 / 451 for 10 s, then recovers',
    peer: 'smtp-server',
    fault: '421 at greeting (1 connection in 3), 451 at RCPT (1 in 2), 451 at end of DATA, for 10 s',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 30_000,
    notes: [`gateway events: ${JSON.stringify(Object.fromEntries(scenario.gateway.events))}`],
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  // All three kinds of deferral really happened.
  for (const kind of ['connect:421', 'rcpt:451', 'data:451']) expect(scenario.gateway.events.get(kind) ?? 0).toBeGreaterThan(0);
  for (const email of report.emails) {
    // Every email was submitted inside the fault window: its first attempt failed and was retried.
    expect(email.attempts.length).toBeGreaterThanOrEqual(2);
    expect(email.attempts.slice(0, -1).every((a) => a.outcome === 'transient' && (a.smtpCode === 421 || a.smtpCode === 451))).toBe(true);
    expect(email.attempts.at(-1)).toMatchObject({ outcome: 'sent', smtpCode: 250 });
    expect(email.copies).toBe(1);
  }
  const failed = report.emails.flatMap((e) => e.attempts).filter((a) => a.outcome === 'transient');
  expect(failed.some((a) => a.smtpCode === 421)).toBe(true);
  expect(failed.some((a) => a.smtpCode === 451 && a.errorCode === 'EENVELOPE')).toBe(true);
  expect(failed.some((a) => a.smtpCode === 451 && a.errorCode !== 'EENVELOPE')).toBe(true);
});
