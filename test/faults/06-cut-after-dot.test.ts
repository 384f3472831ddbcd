import { workflowIdFor } from '../../src/shared';
import { sleep } from '../support/process';
import { account, assertNothingLost } from './lib/accounting';
import { smtpSink } from './lib/gateways';
import { useFaultStack } from './lib/stack';

// RFC 1047 window, first form: smtp-sink -q . takes the whole message, final dot included, then
// disconnects without a reply, every time. Herald cannot know whether the gateway kept the
// message: the attempt is recorded 'uncertain', and the bound on copies applies (README,
// Gateways): one resend through the same gateway, then another gateway; this stack has one, so
// after two uncertain attempts the email is held (paused by Herald) for an operator. Once the
// gateway is healed the operator resumes the held emails, as with
//   temporal workflow signal --query 'HeraldStatus="paused"' --name resume
// and each is sent once more. The suite counts the copies that arrived: two at most per email
// while the gateway cuts (today's bound), three in all with the operator's resend.

const SLUG = '06-cut-after-dot';
const EMAILS = 20;

const scenario = useFaultStack(SLUG, { gateway: smtpSink(['-q', '.']) });

async function statuses(
  ids: string[],
): Promise<Array<{ id: string; status: string; status_changed_by: string | null; status_reason: string | null }>> {
  return scenario.stack.sql`select id::text, status, status_changed_by, status_reason from emails where id = any(${ids}::uuid[])`;
}

test('cut after the final dot every time: two copies at most per email, then held for an operator; resumed once healed, sent', async () => {
  const startedAt = Date.now();
  const subs = await scenario.submit({
    count: EMAILS,
    intervalMs: 150,
  });
  const ids = subs.filter((s) => s.id).map((s) => s.id!);
  expect(ids).toHaveLength(EMAILS);

  // Every email ends held: paused by Herald, saying why, after two uncertain attempts.
  const deadline = Date.now() + 60_000;
  let rows = await statuses(ids);
  while (!rows.every((r) => r.status === 'paused') && Date.now() < deadline) {
    await sleep(500);
    rows = await statuses(ids);
  }
  for (const row of rows) {
    expect(row).toMatchObject({
      status: 'paused',
      status_changed_by: 'herald',
      status_reason: expect.stringMatching(/cut the connection after the final dot 2 times: it may have been delivered/),
    });
  }
  // Held means held: nothing more goes out while nobody acts.
  await sleep(3_000);
  const whileHeld = scenario.gateway.copies();
  const attemptsWhileHeld = await scenario.stack.sql<Array<{ email_id: string; n: number; uncertain: number }>>`
    select email_id::text, count(*)::int as n, count(*) filter (where outcome = 'uncertain')::int as uncertain
    from delivery_attempts where email_id = any(${ids}::uuid[]) group by email_id`;
  expect(attemptsWhileHeld).toHaveLength(EMAILS);
  for (const a of attemptsWhileHeld) expect(a).toMatchObject({ n: 2, uncertain: 2 });
  const heldCopies = [...whileHeld.values()];
  expect(Math.max(...heldCopies)).toBeLessThanOrEqual(2);

  // The gateway is healed; the operator resumes every held email.
  await scenario.gateway.start([]);
  const recoveredAt = Date.now();
  const client = await scenario.stack.temporalClient();
  for (const id of ids) await client.workflow.getHandle(workflowIdFor(id)).signal('resume', { actor: 'ops', reason: 'gateway healed' });

  const report = await account(scenario.stack, scenario.gateway, subs, {
    slug: SLUG,
    title: 'connection cut after the final dot (RFC 1047), every time',
    peer: 'smtp-sink',
    fault:
      'smtp-sink -q . (disconnect after the final dot, no reply) until the emails are held, then a normal smtp-sink and an operator resume',
    startedAt,
    recoveredAt,
    recoveryWindowMs: 30_000,
    notes: [`copies per email while the gateway cut (before the operator acted): at most ${Math.max(...heldCopies)}`],
  });

  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  for (const email of report.emails) {
    expect(email.attempts.map((a) => a.outcome)).toEqual(['uncertain', 'uncertain', 'sent']);
    for (const a of email.attempts.slice(0, 2)) expect(a.errorCode).toMatch(/^(ECONNECTION|ESOCKET)$/);
    // The bound: two copies at most from the cuts, one more from the operator's resend.
    expect(email.copies).toBeGreaterThanOrEqual(1);
    expect(email.copies).toBeLessThanOrEqual(3);
    expect(whileHeld.get(email.messageId) ?? 0).toBeLessThanOrEqual(2);
  }
  expect(report.uncertainEmails).toBe(EMAILS);
});
