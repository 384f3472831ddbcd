import { workflowIdFor } from '../../src/shared';
import { sleep } from '../support/process';
import { account, assertNothingLost } from './lib/accounting';
import { scriptedSmtp } from './lib/gateways';
import { useFaultStack } from './lib/stack';

// The gateway refuses some recipients with 550 at RCPT and some messages with 554 at the end of
// DATA: those emails fail at once, are never tried again, and the reply is on record; the
// others in the same stream are delivered.

const SLUG = '02-permanent-replies';
const EMAILS = 30;
const kindOf = (i: number) => (['rcpt', 'data', 'ok'] as const)[i % 3];

const scenario = useFaultStack(SLUG, {
  gateway: scriptedSmtp({
    onRcpt: (address) => (address.startsWith('reject-rcpt-') ? { code: 550, message: '5.1.1 No such user here' } : undefined),
    onData: (_call, { rcptTo }) =>
      rcptTo.some((a) => a.startsWith('reject-data-')) ? { code: 554, message: '5.7.1 Message rejected as spam' } : undefined,
  }),
});

test('550 at RCPT and 554 at DATA: failed without retry, reply recorded; the rest delivered', async () => {
  const startedAt = Date.now();
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 100,
    recipients: (i) => [kindOf(i) === 'ok' ? `ok-${i}@example.org` : `reject-${kindOf(i)}-${i}@example.org`],
  });
  const recoveredAt = Date.now();
  // Several retry intervals (500 ms, up to 2 s): a retry of a refused email would show up.
  await sleep(5000);
  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'gateway refuses for good: 550 at RCPT, 554 at DATA',
    peer: 'smtp-server',
    fault: '550 5.1.1 at RCPT for 1 email in 3, 554 5.7.1 at end of DATA for 1 in 3',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 20_000,
    expectFailed: (i) => kindOf(i) !== 'ok',
    notes: [`gateway events: ${JSON.stringify(Object.fromEntries(scenario.gateway.events))}`],
  });

  assertNothingLost(report);
  expect(report.failed).toBe(20);
  expect(report.sent).toBe(10);
  for (const email of report.emails) {
    const kind = kindOf(email.index);
    if (kind === 'ok') {
      expect(email.attempts).toEqual([expect.objectContaining({ outcome: 'sent', smtpCode: 250 })]);
      expect(email.copies).toBe(1);
      continue;
    }
    const code = kind === 'rcpt' ? 550 : 554;
    // One attempt, permanent, the gateway's reply on the attempt and on the recipient.
    expect(email.attempts).toEqual([expect.objectContaining({ outcome: 'permanent', smtpCode: code })]);
    expect(email.recipients).toEqual([expect.objectContaining({ status: 'rejected', smtpCode: code })]);
    expect(email.copies).toBe(0);
    // The gateway saw it once: no retry.
    const address = email.recipients[0].address;
    expect(scenario.gateway.rcptCalls.filter((a) => a === address)).toHaveLength(1);
    if (kind === 'data') expect(scenario.gateway.dataMessageIds.filter((id) => id === email.messageId)).toHaveLength(1);
  }
  // The workflows of refused emails ended failed, not running.
  const client = await scenario.stack.temporalClient();
  const refused = report.emails.find((e) => kindOf(e.index) === 'rcpt')!;
  expect((await client.workflow.getHandle(workflowIdFor(refused.id)).describe()).status.name).toBe('FAILED');
});
