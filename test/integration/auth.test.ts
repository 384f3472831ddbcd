import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createTenantStore } from '../../src/db/tenants';
import { createTenantAdmin } from '../../src/tenants/admin';
import { createHarness, validEmail, type Harness } from '../support/harness';

// Invariant 6: nobody sends, reads or steers an email without a key of its tenant, and a tenant
// never sees or touches another tenant's emails, by the API or by guessing ids.

let h: Harness;
let other: { tenantId: string; key: string };
let readOnly: string;
let revoked: string;
let scheduledId: string;
beforeAll(async () => {
  h = await createHarness();
  const admin = createTenantAdmin(h.sql);
  const tenantId = `other-${randomUUID().slice(0, 8)}`;
  await admin.createTenant(tenantId, { name: 'another tenant', sendingDomains: ['other.example'], ratePerSecond: 1000, burst: 1000 });
  other = { tenantId, key: (await admin.createKey(tenantId, ['send', 'read', 'operate'])).key };
  readOnly = (await admin.createKey(h.tenantId, ['read'])).key;
  const toRevoke = await admin.createKey(h.tenantId, ['send', 'read', 'operate']);
  await admin.revokeKey(toRevoke.row.id);
  revoked = toRevoke.key;
  const res = await h.post(validEmail({ to: ['guarded@example.org'], sendAt: new Date(Date.now() + 3_600_000).toISOString() }));
  scheduledId = ((await res.json()) as any).id;
});
afterAll(async () => {
  await h.request(`/v1/emails/${scheduledId}/cancel`, { method: 'POST' });
  await h.close();
});

const inTwoHours = () => new Date(Date.now() + 7_200_000).toISOString();
/** Every /v1 route, with the scope it needs and a body it would accept. */
const routes: Array<{ name: string; method: string; path: () => string; scope: string; body?: () => unknown; ownsId: boolean }> = [
  {
    name: 'POST /v1/emails',
    method: 'POST',
    path: () => '/v1/emails',
    scope: 'send',
    body: () => validEmail({ to: ['nobody@example.org'] }),
    ownsId: false,
  },
  { name: 'GET /v1/emails', method: 'GET', path: () => '/v1/emails', scope: 'read', ownsId: false },
  { name: 'GET /v1/emails/:id', method: 'GET', path: () => `/v1/emails/${scheduledId}`, scope: 'read', ownsId: true },
  { name: 'GET /v1/emails/:id/events', method: 'GET', path: () => `/v1/emails/${scheduledId}/events`, scope: 'read', ownsId: true },
  {
    name: 'POST /v1/emails/:id/cancel',
    method: 'POST',
    path: () => `/v1/emails/${scheduledId}/cancel`,
    scope: 'operate',
    body: () => ({ reason: 'x' }),
    ownsId: true,
  },
  {
    name: 'POST /v1/emails/:id/reschedule',
    method: 'POST',
    path: () => `/v1/emails/${scheduledId}/reschedule`,
    scope: 'operate',
    body: () => ({ sendAt: inTwoHours() }),
    ownsId: true,
  },
  {
    name: 'POST /v1/emails/:id/send-now',
    method: 'POST',
    path: () => `/v1/emails/${scheduledId}/send-now`,
    scope: 'operate',
    ownsId: true,
  },
  { name: 'POST /v1/emails/:id/pause', method: 'POST', path: () => `/v1/emails/${scheduledId}/pause`, scope: 'operate', ownsId: true },
  { name: 'POST /v1/emails/:id/resume', method: 'POST', path: () => `/v1/emails/${scheduledId}/resume`, scope: 'operate', ownsId: true },
  { name: 'POST /v1/emails/:id/retry', method: 'POST', path: () => `/v1/emails/${scheduledId}/retry`, scope: 'operate', ownsId: true },
  { name: 'POST /v1/emails/retry', method: 'POST', path: () => '/v1/emails/retry', scope: 'operate', body: () => ({}), ownsId: false },
];

function call(route: (typeof routes)[number], authorization?: string): Promise<Response> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  const body = route.body ? JSON.stringify(route.body()) : undefined;
  return Promise.resolve(h.app.request(route.path(), { method: route.method, headers, body }));
}

async function expectProblem(res: Response, status: number) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  return (await res.json()) as any;
}

/** The guarded email is exactly as it was: scheduled, never paused, sent or cancelled by anyone. */
async function expectUntouched() {
  const email = await h.getEmail(scheduledId);
  expect(email.status).toBe('scheduled');
  const events = ((await (await h.request(`/v1/emails/${scheduledId}/events`)).json()) as any).data.map((e: any) => e.type);
  expect(events).toEqual(['email.accepted']);
  expect(h.smtp.rcptCalls).not.toContain('guarded@example.org');
  expect(h.smtp.rcptCalls).not.toContain('nobody@example.org');
}

describe.each(routes)('$name', (route) => {
  test.each([
    ['no Authorization header', undefined],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
    ['a key of the wrong shape', 'Bearer not-a-key'],
    ['an unknown key', `Bearer hk_000000000000_${'A'.repeat(43)}`],
    ['a revoked key', () => `Bearer ${revoked}`],
  ])('%s: 401 and nothing happens', async (_what, authorization) => {
    const res = await call(route, typeof authorization === 'function' ? authorization() : authorization);
    await expectProblem(res, 401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectUntouched();
  });

  test(`a key without the ${routes.find((r) => r === route)!.scope} scope: 403 (or allowed when it has it)`, async () => {
    const res = await call(route, `Bearer ${readOnly}`);
    if (route.scope === 'read') expect(res.status).toBe(200);
    else expect((await expectProblem(res, 403)).title).toContain(route.scope);
    await expectUntouched();
  });

  test("another tenant's key: the email does not exist for it", async () => {
    const res = await call(route, `Bearer ${other.key}`);
    if (route.ownsId) await expectProblem(res, 404);
    else if (route.method === 'GET') expect(((await res.json()) as any).data.map((e: any) => e.id)).not.toContain(scheduledId);
    else if (route.scope === 'send')
      expect((await expectProblem(res, 403)).domain).toBe('herald.test'); // not its sending domain
    else expect(((await res.json()) as any).ids).not.toContain(scheduledId);
    await expectUntouched();
  });
});

test("an unknown email id and another tenant's id answer the same 404", async () => {
  const unknown = await expectProblem(
    await h.request(`/v1/emails/${randomUUID()}`, { headers: { authorization: `Bearer ${other.key}` } }),
    404,
  );
  const foreign = await expectProblem(
    await h.request(`/v1/emails/${scheduledId}`, { headers: { authorization: `Bearer ${other.key}` } }),
    404,
  );
  expect(foreign).toEqual(unknown);
});

test('a tenant sends only from its own domains: 403 naming the domain, nothing stored', async () => {
  const as = (body: unknown) =>
    h.request('/v1/emails', {
      method: 'POST',
      headers: { authorization: `Bearer ${other.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const refused = await expectProblem(await as(validEmail({ from: 'ceo@bank.example', to: ['victim@example.org'] })), 403);
  expect(refused).toMatchObject({ type: 'https://herald.dev/problems/sender-not-allowed', domain: 'bank.example' });
  expect(refused.title).toContain('bank.example');
  const [{ n }] = await h.sql`select count(*)::int as n from email_recipients where address = 'victim@example.org'`;
  expect(n).toBe(0);
  expect((await as(validEmail({ from: 'news@other.example', to: ['reader@example.org'] }))).status).toBe(202);
});

test('the daily quota: 429 with Retry-After and RateLimit headers once used up, and nothing stored past it', async () => {
  const tenantId = `quota-${randomUUID().slice(0, 8)}`;
  const admin = createTenantAdmin(h.sql);
  await admin.createTenant(tenantId, { name: 'quota', sendingDomains: ['quota.example'], dailyQuota: 2, ratePerSecond: 1000, burst: 1000 });
  const { key } = await admin.createKey(tenantId, ['send', 'read']);
  const send = (n: number) =>
    h.request('/v1/emails', {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(validEmail({ from: 'a@quota.example', to: [`q${n}@example.org`] })),
    });
  expect((await send(1)).status).toBe(202);
  expect((await send(2)).status).toBe(202);
  const third = await send(3);
  expect((await expectProblem(third, 429)).type).toBe('https://herald.dev/problems/quota-exceeded');
  expect(Number(third.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(third.headers.get('ratelimit-policy')).toBe('"daily";q=2;w=86400');
  expect(third.headers.get('ratelimit')).toMatch(/^"daily";r=0;t=\d+$/);
  const [{ n }] = await h.sql`select count(*)::int as n from emails where tenant_id = ${tenantId}`;
  expect(n).toBe(2);
});

test('the request rate: a burst passes, then 429 with Retry-After; headers tell what is left', async () => {
  const tenantId = `rate-${randomUUID().slice(0, 8)}`;
  await createTenantStore(h.sql).create({ id: tenantId, name: 'rate', sendingDomains: ['rate.example'], ratePerSecond: 0.2, burst: 3 });
  const { key } = await createTenantAdmin(h.sql).createKey(tenantId, ['read']);
  const list = () => h.request('/v1/emails', { headers: { authorization: `Bearer ${key}` } });
  const answers = [await list(), await list(), await list(), await list()];
  expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 429]);
  expect(answers[0].headers.get('ratelimit-policy')).toBe('"requests";q=3;w=15');
  expect(answers[0].headers.get('ratelimit')).toMatch(/^"requests";r=2;t=\d+$/);
  expect(Number(answers[3].headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  expect((await answers[3].json()) as any).toMatchObject({ type: 'https://herald.dev/problems/rate-limited', status: 429 });
});

describe('the herald CLI', () => {
  const herald = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['dist/bin/herald.js', ...args],
        { env: { ...process.env, DATABASE_URL: process.env.HERALD_TEST_DATABASE_URL } },
        (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });

  test('creates a tenant and a key (printed alone on the last line, stored only as a hash), lists and revokes it', async () => {
    const id = `cli-${randomUUID().slice(0, 8)}`;
    const created = await herald(
      'tenant',
      'create',
      id,
      '--name',
      'CLI tenant',
      '--domain',
      'cli.example',
      '--rate-per-second',
      '5',
      '--daily-quota',
      '10',
    );
    expect(created).toMatchObject({ code: 0 });
    expect(created.stdout).toContain('cli.example');
    const keyed = await herald('key', 'create', '--tenant', id, '--scopes', 'send,read');
    expect(keyed.code).toBe(0);
    const key = keyed.stdout.trim().split('\n').at(-1)!;
    expect(key).toMatch(/^hk_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    const [stored] = await h.sql`select key_hash from api_keys where id = ${key.slice(0, 15)}`;
    expect(stored.keyHash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(await h.sql`select * from api_keys where tenant_id = ${id}`)).not.toContain(key.slice(16));

    const res = await h.request('/v1/emails', { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    const listed = await herald('key', 'list', '--tenant', id);
    expect(listed.stdout).toMatch(new RegExp(`${key.slice(0, 15)}\\s+send,read\\s+active`));
    expect(listed.stdout).not.toContain('last used never');

    expect((await herald('key', 'revoke', key.slice(0, 15))).code).toBe(0);
    expect((await h.request('/v1/emails', { headers: { authorization: `Bearer ${key}` } })).status).toBe(401);
    expect((await herald('tenant', 'update', id, '--domain', 'mail.cli.example')).stdout).toContain('mail.cli.example');
  });

  test('refuses what it cannot do, with a reason and a non-zero exit', async () => {
    expect(await herald('tenant', 'create', 'Bad_Id', '--name', 'x', '--domain', 'x.example')).toMatchObject({ code: 1 });
    expect((await herald('tenant', 'create', 'nodomain', '--name', 'x')).stderr).toContain('sending domain');
    expect((await herald('key', 'create', '--tenant', 'default', '--scopes', 'send,admin')).stderr).toContain('scopes must be');
    expect((await herald('key', 'create', '--tenant', 'no-such-tenant', '--scopes', 'send')).stderr).toContain('no tenant');
    expect((await herald('key', 'revoke', 'hk_000000000000')).code).toBe(1);
    expect((await herald('frobnicate')).code).toBe(2);
  });
});
