import { randomUUID } from 'node:crypto';
import { createTenantStore } from '../../src/db/tenants';
import { createTenantAdmin } from '../../src/tenants/admin';
import { createHarness, validEmail, type Harness } from '../support/harness';

// The suppression list of a tenant: filled by the gateway's permanent mailbox refusals (never by
// policy refusals), consulted before every send, and steered through /v1/suppressions within
// the caller's tenant only.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.smtp.reset());

async function submit(to: string[]): Promise<string> {
  const res = await h.post(validEmail({ to }));
  expect(res.status).toBe(202);
  return ((await res.json()) as any).id as string;
}

async function api(path: string, init: { method?: string; body?: unknown; key?: string } = {}) {
  const res = await h.request(path, {
    method: init.method ?? 'GET',
    headers: { 'content-type': 'application/json', ...(init.key ? { authorization: `Bearer ${init.key}` } : {}) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
}

const rcptCalls = (address: string) => h.smtp.rcptCalls.filter((a) => a === address).length;

test('a 5.1.1 refusal suppresses the address, with the reply and the email; the next email never reaches the gateway for it', async () => {
  h.smtp.onRcpt = (address) =>
    address === 'gone@example.org'
      ? { code: 550, message: '5.1.1 <gone@example.org>: Recipient address rejected: User unknown' }
      : undefined;
  const first = await h.waitForStatus(await submit(['gone@example.org']), ['failed']);
  expect(first.recipients[0]).toMatchObject({ status: 'rejected', smtpCode: 550 });

  const listed = await api('/v1/suppressions?address=gone@example.org');
  expect(listed.status).toBe(200);
  expect(listed.body.data).toEqual([
    expect.objectContaining({
      address: 'gone@example.org',
      domain: 'example.org',
      source: 'bounce',
      smtpCode: 550,
      emailId: first.id,
      reason: expect.stringContaining('5.1.1'),
    }),
  ]);
  expect(rcptCalls('gone@example.org')).toBe(1);

  // With another recipient: sent to that one; the suppressed one recorded, never tried.
  const mixed = await h.waitForStatus(await submit(['gone@example.org', 'here@example.org']), ['sent']);
  const byAddress = Object.fromEntries(mixed.recipients.map((r: any) => [r.address, r]));
  expect(byAddress['gone@example.org']).toMatchObject({
    status: 'suppressed',
    smtpResponse: expect.stringContaining('suppressed: 550 5.1.1'),
  });
  expect(byAddress['here@example.org'].status).toBe('accepted');
  expect(h.smtp.byMessageId(mixed.messageId)[0].envelopeTo).toEqual(['here@example.org']);

  // Alone: failed with the reason, no gateway contacted, no attempt.
  const alone = await h.waitForStatus(await submit(['gone@example.org']), ['failed']);
  expect(alone.recipients[0].status).toBe('suppressed');
  expect(alone.attempts).toEqual([]);
  expect(alone.statusReason).toMatch(/^every recipient is on the suppression list: gone@example\.org \(550 5\.1\.1/);
  expect(alone.lastError).toBe(alone.statusReason);
  expect(rcptCalls('gone@example.org')).toBe(1);
  const handle = h.client.workflow.getHandle(alone.workflowId);
  expect(await handle.result()).toMatchObject({ status: 'failed' });
});

test('which refusals suppress: 5.1.1, 5.2.1 and a bare 550 "user unknown" do; 5.7.x, "blocked" and a mailbox full never do', async () => {
  const replies: Record<string, { code: number; message: string }> = {
    'disabled@example.net': { code: 550, message: '5.2.1 The email account that you tried to reach is disabled' },
    'bare@example.net': { code: 550, message: 'No such user here' },
    'policy@example.net': { code: 550, message: '5.7.1 Message rejected due to local policy' },
    'listed@example.net': { code: 554, message: 'Service unavailable; client host blocked using zen.spamhaus.org' },
    'full@example.net': { code: 552, message: '5.2.2 Mailbox full' },
  };
  h.smtp.onRcpt = (address) => replies[address];
  const email = await h.waitForStatus(await submit([...Object.keys(replies), 'ok@example.net']), ['sent']);
  expect(
    email.recipients
      .filter((r: any) => r.status === 'rejected')
      .map((r: any) => r.address)
      .sort(),
  ).toEqual(Object.keys(replies).sort());
  const listed = await api('/v1/suppressions?domain=example.net');
  expect(listed.body.data.map((s: any) => s.address).sort()).toEqual(['bare@example.net', 'disabled@example.net']);
});

test('the API: add (201, then 200), show, filter, page with a cursor, remove (204, then 404); sending works again once removed', async () => {
  const domain = `${randomUUID().slice(0, 8)}.example.com`;
  const added = await api('/v1/suppressions', { method: 'POST', body: { address: `A@${domain}`, reason: 'asked us to stop' } });
  expect(added).toEqual({
    status: 201,
    body: expect.objectContaining({ address: `a@${domain}`, source: 'manual', reason: 'asked us to stop', emailId: null }),
  });
  expect((await api('/v1/suppressions', { method: 'POST', body: { address: `a@${domain}`, reason: 'again' } })).body).toMatchObject({
    reason: 'asked us to stop',
  });
  expect((await api('/v1/suppressions', { method: 'POST', body: { address: `a@${domain}` } })).status).toBe(200);
  for (const name of ['b', 'c'])
    expect((await api('/v1/suppressions', { method: 'POST', body: { address: `${name}@${domain}` } })).status).toBe(201);

  expect((await api(`/v1/suppressions/a@${domain}`)).body).toMatchObject({ address: `a@${domain}`, source: 'manual' });
  expect((await api(`/v1/suppressions?domain=${domain}&source=bounce`)).body.data).toEqual([]);
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page: any = await api(`/v1/suppressions?domain=${domain}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    seen.push(...page.body.data.map((s: any) => s.address));
    cursor = page.body.nextCursor;
  } while (cursor);
  expect(seen).toEqual([`c@${domain}`, `b@${domain}`, `a@${domain}`]);

  // Suppressed: no gateway contact; removed: sent.
  const blocked = await h.waitForStatus(await submit([`b@${domain}`]), ['failed']);
  expect(blocked.recipients[0].status).toBe('suppressed');
  expect((await api(`/v1/suppressions/b@${domain}`, { method: 'DELETE' })).status).toBe(204);
  expect((await api(`/v1/suppressions/b@${domain}`, { method: 'DELETE' })).status).toBe(404);
  expect((await api(`/v1/suppressions/b@${domain}`)).status).toBe(404);
  await h.waitForStatus(await submit([`b@${domain}`]), ['sent']);
});

test('bad input is a 400 problem and stores nothing', async () => {
  for (const body of [
    {},
    { address: 'not-an-address' },
    { address: 'x@example.org', reason: 'r'.repeat(501) },
    { address: 'x@example.org', extra: 1 },
  ]) {
    const res = await api('/v1/suppressions', { method: 'POST', body });
    expect(res.status).toBe(400);
    expect(res.body.type).toBe('https://herald.dev/problems/validation-error');
  }
  expect((await api('/v1/suppressions?cursor=bogus')).status).toBe(400);
  expect((await api('/v1/suppressions?source=other')).status).toBe(400);
  expect((await api('/v1/suppressions/not-an-address')).status).toBe(400);
  expect((await api('/v1/suppressions?address=x@example.org')).body.data).toEqual([]);
});

test("scopes: read lists, operate changes; another tenant's list is invisible and untouchable", async () => {
  await api('/v1/suppressions', { method: 'POST', body: { address: 'mine@example.org' } });
  const admin = createTenantAdmin(h.sql);
  const { key: readOnly } = await admin.createKey(h.tenantId, ['read']);
  const { key: sendOnly } = await admin.createKey(h.tenantId, ['send']);
  expect((await api('/v1/suppressions', { key: readOnly })).status).toBe(200);
  expect((await api('/v1/suppressions', { key: sendOnly })).status).toBe(403);
  expect((await api('/v1/suppressions', { method: 'POST', key: readOnly, body: { address: 'x@example.org' } })).status).toBe(403);
  expect((await api('/v1/suppressions/mine@example.org', { method: 'DELETE', key: readOnly })).status).toBe(403);

  const other = `other-${randomUUID().slice(0, 8)}`;
  await createTenantStore(h.sql).create({ id: other, name: 'another tenant', anySendingDomain: true });
  const { key: otherKey } = await admin.createKey(other, ['read', 'operate']);
  expect((await api('/v1/suppressions?address=mine@example.org', { key: otherKey })).body.data).toEqual([]);
  expect((await api('/v1/suppressions/mine@example.org', { key: otherKey })).status).toBe(404);
  expect((await api('/v1/suppressions/mine@example.org', { method: 'DELETE', key: otherKey })).status).toBe(404);
  // Its own entry for the same address is its own.
  expect((await api('/v1/suppressions', { method: 'POST', key: otherKey, body: { address: 'mine@example.org' } })).status).toBe(201);
  expect((await api('/v1/suppressions/mine@example.org', { method: 'DELETE', key: otherKey })).status).toBe(204);
  expect((await api('/v1/suppressions/mine@example.org')).status).toBe(200);
});
