import { randomUUID } from 'node:crypto';
import { createHarness, validEmail, type Harness } from '../support/harness';
import { temporalCli, temporalCliOk } from '../support/temporal-cli';

// Every email can be found, watched and steered while in flight, from the API and from the
// temporal CLI alike, with the same effect. Assertions cover PostgreSQL, the workflow and what
// the SMTP server received.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.smtp.reset());

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function submit(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await h.post(body, headers);
  expect(res.status).toBe(202);
  return ((await res.json()) as any).id as string;
}

async function action(id: string, name: string, body?: unknown) {
  const res = await h.request(`/v1/emails/${id}/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as any };
}

async function workflowStatus(id: string) {
  return (await h.client.workflow.getHandle(`email-${id}`).describe()).status.name;
}

async function eventTypes(id: string): Promise<string[]> {
  const res = await h.request(`/v1/emails/${id}/events`);
  return ((await res.json()) as any).data.map((e: any) => e.type);
}

describe('idempotency', () => {
  test('the same key and body return the same email, while in flight and after it is sent', async () => {
    const key = randomUUID();
    const body = validEmail({ to: ['idem@example.org'] });
    const first = await h.post(body, { 'idempotency-key': key });
    const { id } = (await first.json()) as any;
    const second = await h.post(body, { 'idempotency-key': key });
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(((await second.json()) as any).id).toBe(id);

    const email = await h.waitForStatus(id, ['sent']);
    const third = await h.post(body, { 'idempotency-key': key });
    expect((await third.json()) as any).toMatchObject({ id, status: 'sent' });
    await sleep(500);
    expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
    const [{ count }] = await h.sql`select count(*)::int as count from emails where idempotency_key = ${key}`;
    expect(count).toBe(1);
  });

  test('50 identical requests at once create one email, one workflow and one send', async () => {
    const key = randomUUID();
    const body = validEmail({ to: ['burst@example.org'] });
    const responses = await Promise.all(Array.from({ length: 50 }, () => h.post(body, { 'idempotency-key': key })));
    expect(responses.map((r) => r.status)).toEqual(Array(50).fill(202));
    const ids = new Set(await Promise.all(responses.map(async (r) => ((await r.json()) as any).id)));
    expect(ids.size).toBe(1);
    const [id] = [...ids];
    const email = await h.waitForStatus(id, ['sent']);
    await sleep(500);
    expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
    const { count } = await h.client.workflow.count(`WorkflowId = "email-${id}"`);
    expect(count).toBe(1);
  });

  test('the same key with another body is refused with 422', async () => {
    const key = randomUUID();
    await submit(validEmail({ to: ['one@example.org'] }), { 'idempotency-key': key });
    const res = await h.post(validEmail({ to: ['two@example.org'] }), { 'idempotency-key': key });
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as any).type).toMatch(/idempotency-key-reused/);
  });

  test('the guarantee outlives the workflow history (deleted as retention would)', async () => {
    const key = randomUUID();
    const body = validEmail({ to: ['retention@example.org'] });
    const id = await submit(body, { 'idempotency-key': key });
    const email = await h.waitForStatus(id, ['sent']);
    await h.client.workflowService.deleteWorkflowExecution({ namespace: 'default', workflowExecution: { workflowId: `email-${id}` } });
    await sleep(1000);
    const again = await h.post(body, { 'idempotency-key': key });
    expect((await again.json()) as any).toMatchObject({ id, status: 'sent' });
    await sleep(500);
    expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
  });
});

describe('scheduled send', () => {
  test('stays scheduled, then is moved through the API and sent at the new time', async () => {
    const id = await submit(validEmail({ to: ['later@example.org'], sendAt: inAnHour() }));
    expect((await h.getEmail(id)).status).toBe('scheduled');
    await sleep(500);
    expect(h.smtp.rcptCalls).not.toContain('later@example.org');

    const newTime = new Date(Date.now() + 1500).toISOString();
    const moved = await action(id, 'reschedule', { sendAt: newTime });
    expect(moved.status).toBe(200);
    expect(moved.body.sendAt).toBe(newTime);
    // The workflow writes the new time to PostgreSQL right after answering.
    let stored = await h.getEmail(id);
    for (let i = 0; i < 50 && stored.sendAt !== newTime && stored.status === 'scheduled'; i++) {
      await sleep(20);
      stored = await h.getEmail(id);
    }
    expect(stored.sendAt).toBe(newTime);
    const email = await h.waitForStatus(id, ['sent']);
    expect(Date.parse(email.sentAt)).toBeGreaterThanOrEqual(Date.parse(newTime));
    expect(await eventTypes(id)).toEqual(['email.accepted', 'email.rescheduled', 'attempt.sent', 'email.sent']);
  });

  test('send now through the API releases it at once', async () => {
    const id = await submit(validEmail({ to: ['now@example.org'], sendAt: inAnHour() }));
    expect((await action(id, 'send-now')).status).toBe(200);
    await h.waitForStatus(id, ['sent'], 10_000);
  });

  test('send now through the temporal CLI (workflow update) releases it at once', async () => {
    const id = await submit(validEmail({ to: ['cli-now@example.org'], sendAt: inAnHour() }));
    await temporalCliOk([
      'workflow',
      'update',
      'execute',
      '--workflow-id',
      `email-${id}`,
      '--name',
      'sendNow',
      '--input',
      '{"actor":"ops@cli"}',
    ]);
    await h.waitForStatus(id, ['sent'], 10_000);
    const events = ((await (await h.request(`/v1/emails/${id}/events`)).json()) as any).data;
    expect(events.find((e: any) => e.type === 'email.send_now').actor).toBe('ops@cli');
  });

  test('a reschedule after sending has started is refused with 409', async () => {
    const id = await submit(validEmail({ to: ['done@example.org'] }));
    await h.waitForStatus(id, ['sent']);
    const res = await action(id, 'reschedule', { sendAt: inAnHour() });
    expect(res.status).toBe(409);
  });
});

describe('cancel', () => {
  test('through the API: cancelled, recorded with who cancelled, nothing sent', async () => {
    const id = await submit(validEmail({ to: ['cancel-api@example.org'], sendAt: inAnHour() }));
    const res = await action(id, 'cancel', { reason: 'customer asked' });
    expect(res).toEqual({ status: 200, body: { id, status: 'cancelled' } });
    const email = await h.getEmail(id);
    expect(email).toMatchObject({ status: 'cancelled', statusChangedBy: 'api', statusReason: 'customer asked' });
    expect(await workflowStatus(id)).toBe('CANCELLED');
    expect(h.smtp.rcptCalls).not.toContain('cancel-api@example.org');
    expect((await action(id, 'cancel')).status).toBe(200); // idempotent
  });

  test('through the temporal CLI: the same outcome', async () => {
    const id = await submit(validEmail({ to: ['cancel-cli@example.org'], sendAt: inAnHour() }));
    await temporalCliOk(['workflow', 'cancel', '--workflow-id', `email-${id}`]);
    const email = await h.waitForStatus(id, ['cancelled']);
    expect(email.statusChangedBy).toBe('temporal');
    await sleep(300);
    expect(await workflowStatus(id)).toBe('CANCELLED');
    expect(h.smtp.rcptCalls).not.toContain('cancel-cli@example.org');
  });

  test('an email already sent cannot be cancelled: 409 and it stays sent', async () => {
    const id = await submit(validEmail({ to: ['too-late@example.org'] }));
    await h.waitForStatus(id, ['sent']);
    const res = await action(id, 'cancel');
    expect(res.status).toBe(409);
    expect(res.body.emailStatus).toBe('sent');
    expect((await h.getEmail(id)).status).toBe('sent');
  });

  test('a cancel while an attempt is under way leaves the true outcome: sent, 409', async () => {
    h.smtp.dataDelayMs = 1500;
    const id = await submit(validEmail({ to: ['in-flight@example.org'] }));
    await h.waitForStatus(id, ['sending']);
    await sleep(300);
    const res = await action(id, 'cancel');
    expect(res.status).toBe(409);
    const email = await h.getEmail(id);
    expect(email.status).toBe('sent');
    expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
    expect(await workflowStatus(id)).toBe('COMPLETED');
  });

  test('a cancel between retries ends cancelled and nothing more is tried', async () => {
    const slow = await createHarness({ policy: { initialIntervalMs: 60_000, maximumIntervalMs: 60_000 } });
    try {
      slow.smtp.onRcpt = () => ({ code: 451, message: '4.3.0 later' });
      const res = await slow.post(validEmail({ to: ['between@example.org'] }));
      const { id } = (await res.json()) as any;
      await slow.waitForStatus(id, ['retrying']);
      const cancel = await slow.request(`/v1/emails/${id}/cancel`, { method: 'POST' });
      expect(cancel.status).toBe(200);
      const email = await slow.getEmail(id);
      expect(email.status).toBe('cancelled');
      expect(email.attempts).toHaveLength(1);
      expect(slow.smtp.received).toHaveLength(0);
    } finally {
      await slow.close();
    }
  });
});

describe('pause and resume', () => {
  test('a paused scheduled email is held past its time, then sent on resume (API)', async () => {
    const id = await submit(validEmail({ to: ['hold@example.org'], sendAt: new Date(Date.now() + 1000).toISOString() }));
    const paused = await action(id, 'pause', { reason: 'checking content' });
    expect(paused.body).toMatchObject({ status: 'paused', paused: true });
    await h.waitForStatus(id, ['paused']);
    await sleep(1500);
    expect((await h.getEmail(id)).status).toBe('paused');
    expect(h.smtp.rcptCalls).not.toContain('hold@example.org');
    const resumed = await action(id, 'resume');
    expect(resumed).toMatchObject({ status: 200, body: { status: 'queued', paused: false } });
    await h.waitForStatus(id, ['sent']);
    expect(await eventTypes(id)).toEqual(['email.accepted', 'email.paused', 'email.resumed', 'attempt.sent', 'email.sent']);
  });

  test('a pause holds the retries; resume goes on (temporal CLI)', async () => {
    h.smtp.onRcpt = (address) => (address === 'flaky@example.org' ? { code: 451, message: '4.4.1 later' } : undefined);
    const id = await submit(validEmail({ to: ['flaky@example.org'] }));
    await h.waitForStatus(id, ['retrying']);
    await temporalCliOk(['workflow', 'update', 'execute', '--workflow-id', `email-${id}`, '--name', 'pause']);
    await h.waitForStatus(id, ['paused']);
    await sleep(300);
    const tries = h.smtp.rcptCalls.filter((a) => a === 'flaky@example.org').length;
    await sleep(1500); // several retry intervals
    expect(h.smtp.rcptCalls.filter((a) => a === 'flaky@example.org').length).toBe(tries);
    h.smtp.onRcpt = undefined;
    await temporalCliOk(['workflow', 'update', 'execute', '--workflow-id', `email-${id}`, '--name', 'resume']);
    const email = await h.waitForStatus(id, ['sent']);
    expect(email.attempts.at(-1).outcome).toBe('sent');
  });
});

describe('many at once, by query (temporal CLI batch)', () => {
  async function untilVisible(query: string, count: number) {
    for (let i = 0; i < 50; i++) {
      const { count: n } = await h.client.workflow.count(query);
      if (n === count) return;
      await sleep(200);
    }
    throw new Error(`visibility never showed ${count} for ${query}`);
  }

  test('pause many with a signal by query, then cancel many by query', async () => {
    const tag = `batch-${randomUUID().slice(0, 8)}`;
    const ids = [
      await submit(validEmail({ to: ['batch1@example.org'], sendAt: inAnHour(), metadata: { tags: [tag] } })),
      await submit(validEmail({ to: ['batch2@example.org'], sendAt: inAnHour(), metadata: { tags: [tag] } })),
    ];
    const query = `HeraldTags="${tag}" AND HeraldStatus="scheduled"`;
    await untilVisible(query, 2);

    await temporalCliOk([
      'workflow',
      'signal',
      '--query',
      query,
      '--name',
      'pause',
      '--input',
      '{"actor":"ops"}',
      '--reason',
      'hold campaign',
      '--yes',
    ]);
    for (const id of ids) await h.waitForStatus(id, ['paused']);

    await untilVisible(`HeraldTags="${tag}" AND HeraldStatus="paused"`, 2);
    await temporalCliOk([
      'workflow',
      'cancel',
      '--query',
      `HeraldTags="${tag}" AND HeraldStatus="paused"`,
      '--reason',
      'campaign stopped',
      '--yes',
    ]);
    for (const id of ids) {
      const email = await h.waitForStatus(id, ['cancelled']);
      expect(email.statusChangedBy).toBe('temporal');
    }
    expect(h.smtp.rcptCalls.filter((a) => a.startsWith('batch'))).toEqual([]);
  });

  test('a signal that does not apply is ignored: reschedule once retrying', async () => {
    h.smtp.onRcpt = (address) => (address === 'late-signal@example.org' ? { code: 451, message: '4.3.0 later' } : undefined);
    const id = await submit(validEmail({ to: ['late-signal@example.org'] }));
    await h.waitForStatus(id, ['retrying']);
    await temporalCliOk([
      'workflow',
      'signal',
      '--workflow-id',
      `email-${id}`,
      '--name',
      'reschedule',
      '--input',
      JSON.stringify({ sendAt: inAnHour() }),
    ]);
    // The same through an update is refused with the reason.
    const update = await action(id, 'reschedule', { sendAt: inAnHour() });
    expect(update.status).toBe(409);
    expect(update.body.title).toMatch(/already started/);
    const state: any = await h.client.workflow.getHandle(`email-${id}`).query('state');
    expect(state).toMatchObject({ phase: 'retrying', paused: false });
    expect(state.sendAt).toBeUndefined();
    expect((await h.getEmail(id)).sendAt).toBeNull();
    expect((await action(id, 'cancel')).status).toBe(200);
  });
});

describe('re-drive', () => {
  test('a failed email is sent again as a new attempt with the same Message-ID', async () => {
    // A policy refusal: a mailbox failure (5.2.1) would put the address on the suppression list.
    h.smtp.onRcpt = (address) => (address === 'redrive@example.org' ? { code: 550, message: '5.7.1 refused by local policy' } : undefined);
    const id = await submit(validEmail({ to: ['redrive@example.org'] }));
    const failed = await h.waitForStatus(id, ['failed']);
    h.smtp.onRcpt = undefined;

    const res = await action(id, 'retry');
    expect(res).toEqual({ status: 202, body: { id, status: 'queued' } });
    const email = await h.waitForStatus(id, ['sent']);
    expect(email.messageId).toBe(failed.messageId);
    expect(email.attempts.map((a: any) => a.outcome)).toEqual(['permanent', 'sent']);
    expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
    expect(await eventTypes(id)).toEqual([
      'email.accepted',
      'attempt.permanent',
      'email.failed',
      'email.redriven',
      'attempt.sent',
      'email.sent',
    ]);
    expect((await action(id, 'retry')).status).toBe(409);
    expect(await workflowStatus(id)).toBe('COMPLETED');
  });

  test('the failed emails matching a filter are re-driven in bulk', async () => {
    const tag = `bulk-${randomUUID()}`;
    h.smtp.onRcpt = (address) => (address.startsWith('bulk') ? { code: 554, message: '5.7.1 blocked' } : undefined);
    const ids = [
      await submit(validEmail({ to: ['bulk1@example.org'], metadata: { tags: [tag] } })),
      await submit(validEmail({ to: ['bulk2@example.org'], metadata: { tags: [tag] } })),
    ];
    const other = await submit(validEmail({ to: ['bulk3@example.org'] }));
    for (const id of [...ids, other]) await h.waitForStatus(id, ['failed']);
    h.smtp.onRcpt = undefined;

    const res = await h.request('/v1/emails/retry', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ filter: { tag } }),
    });
    expect(res.status).toBe(202);
    expect((await res.json()) as any).toMatchObject({ matched: 2, redriven: 2 });
    for (const id of ids) await h.waitForStatus(id, ['sent']);
    expect((await h.getEmail(other)).status).toBe('failed');
  });
});

describe('tracing', () => {
  test('the query handler returns the live state; search attributes find it with the CLI', async () => {
    const sendAt = inAnHour();
    const tag = `trace-${randomUUID().slice(0, 8)}`;
    const id = await submit(validEmail({ to: ['trace@tracing.example'], sendAt, metadata: { tags: [tag] } }));
    const state = JSON.parse(await temporalCliOk(['workflow', 'query', '--workflow-id', `email-${id}`, '--name', 'state', '-o', 'json']));
    expect(state.queryResult[0]).toMatchObject({ emailId: id, status: 'scheduled', sendAt, paused: false });

    const list = async (query: string) =>
      (await temporalCliOk(['workflow', 'list', '--query', query, '-o', 'jsonl']))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).execution.workflowId);
    // Visibility is eventually consistent: give it a moment.
    let found: string[] = [];
    for (let i = 0; i < 30 && found.length === 0; i++) {
      found = await list(`HeraldStatus="scheduled" AND HeraldRecipientDomains="tracing.example" AND HeraldTags="${tag}"`);
      if (found.length === 0) await sleep(200);
    }
    expect(found).toEqual([`email-${id}`]);
    expect(await list(`HeraldEmailId="${id}"`)).toEqual([`email-${id}`]);
    await action(id, 'cancel');
  });

  test('retrying deliveries are found by status with the CLI', async () => {
    h.smtp.onRcpt = (address) => (address === 'sa-retry@example.org' ? { code: 421, message: '4.7.0 busy' } : undefined);
    const id = await submit(validEmail({ to: ['sa-retry@example.org'] }));
    await h.waitForStatus(id, ['retrying']);
    let found = '';
    for (let i = 0; i < 30 && !found.includes(id); i++) {
      found = await temporalCliOk(['workflow', 'list', '--query', `HeraldStatus="retrying" AND HeraldEmailId="${id}"`]);
      if (!found.includes(id)) await sleep(200);
    }
    expect(found).toContain(`email-${id}`);
    const { code } = await temporalCli(['workflow', 'cancel', '--workflow-id', `email-${id}`]);
    expect(code).toBe(0);
    await h.waitForStatus(id, ['cancelled']);
  });
});

describe('listing and timeline', () => {
  test('filters, newest first, with cursor pagination', async () => {
    const tag = `list-${randomUUID()}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await submit(validEmail({ to: [`list${i}@listing.example`], metadata: { tags: [tag] } })));
    for (const id of ids) await h.waitForStatus(id, ['sent']);

    const page1 = (await (await h.request(`/v1/emails?tag=${tag}&limit=2`)).json()) as any;
    expect(page1.data.map((e: any) => e.id)).toEqual([ids[2], ids[1]]);
    expect(page1.nextCursor).toEqual(expect.any(String));
    const page2 = (await (await h.request(`/v1/emails?tag=${tag}&limit=2&cursor=${page1.nextCursor}`)).json()) as any;
    expect(page2.data.map((e: any) => e.id)).toEqual([ids[0]]);
    expect(page2.nextCursor).toBeNull();

    const byRecipient = (await (await h.request(`/v1/emails?recipient=list1@listing.example&status=sent`)).json()) as any;
    expect(byRecipient.data.map((e: any) => e.id)).toEqual([ids[1]]);
    const none = (await (await h.request(`/v1/emails?tag=${tag}&status=failed,cancelled`)).json()) as any;
    expect(none.data).toEqual([]);
    const after = (await (
      await h.request(`/v1/emails?domain=listing.example&createdAfter=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    ).json()) as any;
    expect(after.data).toEqual([]);
  });

  test('bad list parameters are a 400 problem', async () => {
    for (const q of ['status=bogus', 'limit=0', 'createdAfter=yesterday', 'cursor=nonsense', 'unknown=1']) {
      const res = await h.request(`/v1/emails?${q}`);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
    }
  });

  test('the timeline of an unknown email is 404', async () => {
    expect((await h.request(`/v1/emails/${randomUUID()}/events`)).status).toBe(404);
  });
});
