import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { createEmailStore } from '../../src/db/emails';
import { createOrphanStore } from '../../src/db/orphans';
import { createTenantStore } from '../../src/db/tenants';
import { createDeliveryService } from '../../src/deliveries/service';
import { createDeliveryWorkflows } from '../../src/deliveries/workflows';
import { workflowIdFor } from '../../src/shared';
import { createTenantAdmin } from '../../src/tenants/admin';
import { createHarness, TEST_POLICY, validEmail, type Harness } from '../support/harness';

// POST /v1/emails/batch on the real parts: each item validated and answered on its own, the
// valid ones stored in one transaction and delivered through their own workflows, started by
// the batch's durable starter.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});

const batch = (emails: unknown[], key = h.apiKey) =>
  h
    .request('/v1/emails/batch', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ emails }),
    })
    .then(async (res) => ({ status: res.status, body: (await res.json()) as any }));

const domain = () => `b-${randomUUID().slice(0, 8)}.example.org`;

test('a partly invalid batch: the valid items are accepted and delivered, the others answered with their problem, nothing of them stored', async () => {
  const d = domain();
  const res = await batch([
    validEmail({ to: [`one@${d}`] }),
    validEmail({ to: [] }),
    'not an email',
    validEmail({ to: [`two@${d}`], idempotencyKey: `k-${d}` }),
    validEmail({ to: [`three@${d}`], subject: 'Hi\r\nBcc: evil@example.org' }),
    validEmail({ to: [`four@${d}`], idempotencyKey: 'has spaces in it' }),
  ]);
  expect(res.status).toBe(202);
  expect(res.body.accepted).toBe(2);
  expect(res.body.rejected).toBe(4);
  const [one, empty, notEmail, two, injected, badKey] = res.body.data;
  expect(one).toMatchObject({ index: 0, status: 202, emailStatus: 'queued', replayed: false });
  expect(two).toMatchObject({ index: 3, status: 202 });
  expect(empty).toMatchObject({
    index: 1,
    status: 400,
    problem: { type: expect.stringMatching(/validation-error/), errors: [{ field: 'emails[1].to', message: expect.any(String) }] },
  });
  expect(notEmail.problem.errors).toEqual([{ field: 'emails[2]', message: 'must be an email object' }]);
  expect(injected.problem.errors[0].field).toBe('emails[4].subject');
  expect(badKey.problem.errors[0].field).toBe('emails[5].idempotencyKey');

  for (const id of [one.id, two.id]) await h.waitForStatus(id, ['sent']);
  expect(
    h.smtp.received
      .filter((m) => m.envelopeTo[0].endsWith(`@${d}`))
      .map((m) => m.envelopeTo[0])
      .sort(),
  ).toEqual([`one@${d}`, `two@${d}`]);
  expect(await h.countRows(d)).toMatchObject({ emails: 2, recipients: 2 });
  // The timeline names the batch; its starter is a workflow of its own.
  const events = await h.request(`/v1/emails/${one.id}/events`).then((r) => r.json() as Promise<any>);
  const batchId = events.data[0].data.batchId;
  expect((await h.client.workflow.getHandle(`batch-${batchId}`).describe()).status.name).toBe('COMPLETED');
});

test('idempotency per item: a replayed key answers its email, a reused key with another body is refused, keys within one batch too', async () => {
  const d = domain();
  const keyed = validEmail({ to: [`k@${d}`], idempotencyKey: `same-${d}` });
  const first = await batch([keyed, validEmail({ to: [`free@${d}`] })]);
  const again = await batch([keyed, validEmail({ to: [`free@${d}`] }), { ...keyed, subject: 'another body' }, keyed]);
  expect(again.body.data[0]).toMatchObject({ status: 202, id: first.body.data[0].id, replayed: true });
  expect(again.body.data[1].id).not.toBe(first.body.data[1].id); // no key: a new email
  expect(again.body.data[2]).toMatchObject({ status: 422, problem: { type: expect.stringMatching(/idempotency-key-reused/) } });
  expect(again.body.data[3]).toMatchObject({ status: 202, id: first.body.data[0].id, replayed: true });
  // The same key through POST /v1/emails finds the same email.
  const single = await h.post(validEmail({ to: [`k@${d}`] }), { 'idempotency-key': `same-${d}` });
  expect(((await single.json()) as any).id).toBe(first.body.data[0].id);
  await h.waitForStatus(first.body.data[0].id, ['sent']);
  await new Promise((r) => setTimeout(r, 500));
  expect(h.smtp.received.filter((m) => m.envelopeTo[0] === `k@${d}`)).toHaveLength(1);
});

test('a batch with no valid item is a 400 listing each item, and stores nothing', async () => {
  const d = domain();
  const res = await batch([validEmail({ to: [`x@${d}`], text: undefined }), 42]);
  expect(res.status).toBe(400);
  expect(res.body.type).toMatch(/batch-rejected/);
  expect(res.body.items.map((i: any) => i.status)).toEqual([400, 400]);
  expect(await h.countRows(d)).toMatchObject({ emails: 0 });
  expect((await batch([])).status).toBe(400);
  expect((await batch(Array(1001).fill(validEmail()))).status).toBe(400);
});

test("per tenant: a sender outside the tenant's domains is refused per item; a batch past the daily quota is refused whole", async () => {
  const id = `batch-${randomUUID().slice(0, 8)}`;
  await createTenantStore(h.sql).create({
    id,
    name: 'batch tenant',
    sendingDomains: ['shop.example'],
    ratePerSecond: 1000,
    burst: 1000,
    dailyQuota: 3,
  });
  const { key } = await createTenantAdmin(h.sql).createKey(id, ['send']);
  const d = domain();
  const mixed = await batch(
    [validEmail({ from: 'a@shop.example', to: [`a@${d}`] }), validEmail({ from: 'a@elsewhere.example', to: [`b@${d}`] })],
    key,
  );
  expect(mixed.body.data.map((i: any) => i.status)).toEqual([202, 403]);
  const over = await batch(
    [1, 2, 3].map((n) => validEmail({ from: 'a@shop.example', to: [`q${n}@${d}`] })),
    key,
  );
  expect(over.status).toBe(429);
  expect(await h.countRows(d)).toMatchObject({ emails: 1 });
});

test('1000 emails in one request: all stored at once, all delivered', async () => {
  const d = domain();
  const emails = Array.from({ length: 1000 }, (_, i) => validEmail({ to: [`r${i}@${d}`], metadata: { tags: ['bulk'] } }));
  const res = await batch(emails);
  expect(res.status).toBe(202);
  expect(res.body.accepted).toBe(1000);
  expect((await h.countRows(d)).emails).toBe(1000);
  const deadline = Date.now() + 180_000;
  let sent = 0;
  while (Date.now() < deadline) {
    [{ sent }] =
      (await h.sql`select count(*)::int as sent from emails e join email_recipients r on r.email_id = e.id where r.domain = ${d} and e.status = 'sent'`) as any;
    if (sent === 1000) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(sent).toBe(1000);
  expect(new Set(h.smtp.received.filter((m) => m.envelopeTo[0].endsWith(`@${d}`)).map((m) => m.messageId)).size).toBe(1000);
}, 240_000);

test("the orphan sweep's safety net: an item whose batch starter exists is started; one whose starter never started (no 202) is cancelled", async () => {
  const d = domain();
  const store = createEmailStore(h.sql);
  // Two batches stored as the API stores them, whose API then died (no grace below, so that the
  // sweep of test/integration/orphans.test.ts, running alongside, never sees them).
  const stored = async (to: string) => {
    const id = randomUUID();
    const batchId = randomUUID();
    const content = { to: [{ address: to }], cc: [], bcc: [], replyTo: [], text: 'hi', headers: {} };
    await store.insertMany(
      [
        {
          id,
          tenantId: h.tenantId,
          workflowId: workflowIdFor(id),
          messageId: `<${id}@test.herald>`,
          from: { address: 'sender@herald.test' },
          subject: 'orphan',
          content,
          attachments: [],
          metadata: {},
          tags: [],
          requestHash: 'x',
        },
      ],
      batchId,
      1_000_000,
    );
    return { id, batchId };
  };
  const owned = await stored(`owned@${d}`);
  const orphaned = await stored(`orphaned@${d}`);
  // The first one's starter was started, so its 202 was given (the starter itself found nothing to start).
  await h.client.workflow.execute('startBatch', { taskQueue: h.taskQueue, workflowId: `batch-${owned.batchId}`, args: [{ emailIds: [] }] });

  const deliveries = createDeliveryService({
    sql: h.sql,
    workflows: createDeliveryWorkflows(h.client, h.taskQueue),
    policy: TEST_POLICY,
    messageIdDomain: 'test.herald',
    logger: pino({ level: 'silent' }),
  });
  const candidates = (await createOrphanStore(h.sql).candidates(0, 10_000)).filter((c) => c.id === owned.id || c.id === orphaned.id);
  expect(candidates.map((c) => c.batchId).sort()).toEqual([owned.batchId, orphaned.batchId].sort());
  const settled = Object.fromEntries(await Promise.all(candidates.map(async (c) => [c.id, await deliveries.settleOrphan(c)])));
  expect(settled).toEqual({ [owned.id]: 'started', [orphaned.id]: 'cancelled' });
  await h.waitForStatus(owned.id, ['sent']);
  expect((await h.getEmail(orphaned.id)).status).toBe('cancelled');
});
