import { randomUUID } from 'node:crypto';
import { createEmailStore } from '../../src/db/emails';
import { UNACKNOWLEDGED_REASON } from '../../src/deliveries/service';
import { ensureOrphanSweepSchedule } from '../../src/deliveries/orphan-sweep-schedule';
import { SEARCH_ATTRIBUTE_KEYS, workflowIdFor } from '../../src/shared';
import { createHarness, validEmail, type Harness } from '../support/harness';

// The API stores an email, then starts its workflow. An API that dies between the two leaves a
// row without a workflow; the orphan sweep (a Temporal Schedule) finds and settles it.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});

/** Stores an email the way the API does, without starting its workflow, ten minutes ago. */
async function orphan(to: string, idempotencyKey?: string) {
  const id = randomUUID();
  await createEmailStore(h.sql).insert({
    id,
    tenantId: h.tenantId,
    workflowId: workflowIdFor(id),
    messageId: `<${id}@test.herald>`,
    from: { address: 'sender@herald.test' },
    subject: 'orphan',
    content: { to: [{ address: to }], cc: [], bcc: [], replyTo: [], text: 'hi', headers: {} },
    attachments: [],
    metadata: {},
    tags: [],
    idempotencyKey,
    requestHash: 'x',
    dailyQuota: 1_000_000,
  });
  await h.sql`update emails set created_at = now() - interval '10 minutes' where id = ${id}`;
  return id;
}

test('the sweep starts a keyed orphan, cancels an unkeyed one and leaves live deliveries alone', async () => {
  const keyed = await orphan('keyed-orphan@example.org', randomUUID());
  const unkeyed = await orphan('unkeyed-orphan@example.org');
  // A live scheduled delivery that merely looks stale in PostgreSQL.
  const res = await h.post(validEmail({ to: ['live@example.org'], sendAt: new Date(Date.now() + 3_600_000).toISOString() }));
  const { id: live } = (await res.json()) as any;
  await h.sql`update emails set created_at = now() - interval '10 minutes', send_at = now() - interval '10 minutes' where id = ${live}`;

  const result = await h.client.workflow.execute('sweepOrphans', {
    taskQueue: h.taskQueue,
    workflowId: `sweep-${randomUUID()}`,
    args: [{ graceMs: 60_000, limit: 100 }],
  });
  // The sweep looks at every tenant's rows of the shared test database: another file's live
  // email that has waited over a minute is checked too (and left alone), so `checked` is at least ours.
  expect(result).toEqual({ checked: expect.any(Number), started: 1, cancelled: 1, skipped: 0 });
  expect(result.checked).toBeGreaterThanOrEqual(3);

  const delivered = await h.waitForStatus(keyed, ['sent']);
  expect(h.smtp.byMessageId(delivered.messageId)).toHaveLength(1);
  const events = ((await (await h.request(`/v1/emails/${keyed}/events`)).json()) as any).data.map((e: any) => e.type);
  expect(events).toEqual(['email.accepted', 'email.recovered', 'attempt.sent', 'email.sent']);

  expect(await h.getEmail(unkeyed)).toMatchObject({ status: 'cancelled', statusChangedBy: 'herald', statusReason: UNACKNOWLEDGED_REASON });
  expect(h.smtp.rcptCalls).not.toContain('unkeyed-orphan@example.org');
  expect((await h.getEmail(live)).status).toBe('scheduled');
  await h.request(`/v1/emails/${live}/cancel`, { method: 'POST' });
});

test('a row the sweep cannot start is skipped and recorded; the rows behind it are still settled', async () => {
  // The oldest: a workflow id Temporal refuses (over its 1000-character limit), so its start fails.
  const refused = await orphan('refused-orphan@example.org', randomUUID());
  await h.sql`update emails set workflow_id = ${'email-' + 'x'.repeat(2000)}, created_at = now() - interval '12 minutes' where id = ${refused}`;
  // Stored with far more tags than one search attribute holds (as an API without the bound
  // would have): its start bounds them, with a marker, instead of failing.
  const tagged = await orphan('tagged-orphan@example.org', randomUUID());
  const tags = Array.from({ length: 300 }, (_, i) => `tag-${i}-${'t'.repeat(80)}`);
  await h.sql`update emails set tags = ${tags}, created_at = now() - interval '11 minutes' where id = ${tagged}`;
  const plain = await orphan('plain-orphan@example.org', randomUUID());

  const sweep = () =>
    h.client.workflow.execute('sweepOrphans', {
      taskQueue: h.taskQueue,
      workflowId: `sweep-${randomUUID()}`,
      args: [{ graceMs: 60_000, limit: 100 }],
    });
  expect(await sweep()).toMatchObject({ started: 2, skipped: 1 });
  await h.waitForStatus(tagged, ['sent']);
  await h.waitForStatus(plain, ['sent']);
  const { typedSearchAttributes } = await h.client.workflow.getHandle(workflowIdFor(tagged)).describe();
  const searchTags = typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.tags)!;
  expect(searchTags).toContain('(+280 more)');
  expect(Buffer.byteLength(JSON.stringify(searchTags))).toBeLessThanOrEqual(2048);

  const [failure] = await h.sql`select data from email_events where email_id = ${refused} and type = 'email.recovery_failed'`;
  expect(failure.data.error).toEqual(expect.any(String));
  expect((await h.getEmail(refused)).status).toBe('queued');
  // Left alone for a while: the next sweep neither retries nor records it again.
  expect(await sweep()).toMatchObject({ skipped: 0 });
  const [{ count }] =
    await h.sql`select count(*)::int as count from email_events where email_id = ${refused} and type = 'email.recovery_failed'`;
  expect(count).toBe(1);
  await h.sql`delete from emails where id = ${refused}`;
});

test('the schedule is created once, every five minutes', async () => {
  const taskQueue = `sweep-${randomUUID()}`;
  await ensureOrphanSweepSchedule(h.client, taskQueue);
  await ensureOrphanSweepSchedule(h.client, taskQueue); // idempotent
  const handle = h.client.schedule.getHandle('herald-orphan-sweep');
  try {
    const description = await handle.describe();
    expect(description.spec.intervals?.[0]?.every).toBe(5 * 60_000);
    expect(description.action).toMatchObject({ type: 'startWorkflow', workflowType: 'sweepOrphans', taskQueue });
  } finally {
    await handle.delete();
  }
});
