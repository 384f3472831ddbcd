import { sleep } from '../support/process';
import { account, assertNothingLost, waitForTerminal } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { submitStream, type Submission } from './lib/load';
import { useFaultStack } from './lib/stack';
import { after } from './lib/timeline';

// The same reply faults from a real MTA's code: Postfix's smtp-sink, restarted with other flags
// at each phase. First transient ones while a stream is sent (421 at the greeting with -Q
// CONNECT, 451 at RCPT and at the final dot with -r and -b), then recovery: all delivered once.
// Then permanent ones, each on a batch of its own (550 at RCPT, 554 at the final dot with -f
// and -B): failed at once, one attempt, the sink's reply on record.

const SLUG = '12-smtp-sink-replies';
const STREAM = 12;
const BATCH = 5;
const SOFT = ['-b', '451 4.3.0 Try again later'];

const scenario = useFaultStack(SLUG, { gateway: smtpSink(['-Q', 'CONNECT']) });

test('smtp-sink: 421 / 451 for a while then recovery, then 550 at RCPT and 554 at DATA', async () => {
  const startedAt = Date.now();
  const base = { scenario: SLUG, baseUrl: () => scenario.stack.apiUrl, apiKey: scenario.stack.apiKey, intervalMs: 100 };

  // Transient phases, 3 s each, while the stream is sent.
  const phases = (async () => {
    await after(3000, () => scenario.gateway.start([...SOFT, '-r', 'RCPT']));
    await after(3000, () => scenario.gateway.start([...SOFT, '-r', '.']));
    return after(3000, () => scenario.gateway.start([]));
  })();
  const stream = await submitStream({ ...base, count: STREAM });
  const recoveredAt = await phases;
  await waitForTerminal(scenario.stack, stream.map((s) => s.id!).filter(Boolean), Date.now() + 30_000);

  // Permanent phases, one batch each, waited for before the next.
  const permanent: Submission[] = [];
  for (const [i, flags] of [
    ['-B', '550 5.1.1 No such user here', '-f', 'RCPT'],
    ['-B', '554 5.7.1 Message refused', '-f', '.'],
  ].entries()) {
    await scenario.gateway.start(flags);
    const batch = await submitStream({ ...base, count: BATCH, firstIndex: STREAM + i * BATCH });
    await waitForTerminal(scenario.stack, batch.map((s) => s.id!).filter(Boolean), Date.now() + 20_000);
    permanent.push(...batch);
  }
  // Back to normal: a refused email must not be retried now that the sink would take it.
  await scenario.gateway.start([]);
  await sleep(4000);

  const isPermanent = (i: number) => i >= STREAM;
  const report = await account(scenario.stack, scenario.gateway, [...stream, ...permanent], {
    slug: SLUG,
    title: 'Postfix smtp-sink: soft then hard rejects',
    peer: 'smtp-sink',
    fault:
      'smtp-sink -Q CONNECT (421), -r RCPT and -r . (451) for 3 s each during a stream of 12, then normal; then -f RCPT (550) and -f . (554), 5 emails each',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 30_000,
    expectFailed: isPermanent,
  });

  assertNothingLost(report);
  expect(report.sent).toBe(STREAM);
  expect(report.failed).toBe(2 * BATCH);
  const transient = report.emails.filter((e) => !isPermanent(e.index));
  for (const email of transient) {
    expect(email.copies).toBe(1);
    expect(email.attempts.at(-1)).toMatchObject({ outcome: 'sent', smtpCode: 250 });
    for (const a of email.attempts.slice(0, -1)) {
      // 421/451 replies, or a refused connection while the sink restarts between phases.
      expect(a.outcome).toBe('transient');
      if (a.smtpCode !== null) expect([421, 451]).toContain(a.smtpCode);
      else expect(a).toMatchObject({ outcome: 'transient', errorCode: expect.stringMatching(/^(ESOCKET|ECONNECTION)$/) });
    }
  }
  const failedAttempts = transient.flatMap((e) => e.attempts).filter((a) => a.outcome === 'transient');
  expect(failedAttempts.some((a) => a.smtpCode === 421)).toBe(true);
  expect(failedAttempts.some((a) => a.smtpCode === 451 && a.errorCode === 'EENVELOPE')).toBe(true);
  expect(failedAttempts.some((a) => a.smtpCode === 451 && a.errorCode === 'EMESSAGE')).toBe(true);
  for (const email of report.emails.filter((e) => isPermanent(e.index))) {
    const code = email.index < STREAM + BATCH ? 550 : 554;
    expect(email.attempts).toEqual([expect.objectContaining({ outcome: 'permanent', smtpCode: code })]);
    expect(email.recipients).toEqual([expect.objectContaining({ status: 'rejected', smtpCode: code })]);
    expect(email.copies).toBe(0);
  }
});
