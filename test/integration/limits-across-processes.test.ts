import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { createSql } from '../../src/db/sql';
import { freePort } from '../../src/dev/temporal-dev-server';
import { stopChild } from '../../src/dev/stop-child';
import { createTenantAdmin } from '../../src/tenants/admin';

// A tenant's limits hold across API instances: two API processes share one database, and
// together they let through no more than the tenant's burst.

const API = path.resolve(__dirname, '../../dist/bin/api.js');
const sql = createSql(process.env.HERALD_TEST_DATABASE_URL!, 2);
const apis: Array<{ child: ChildProcess; exited: Promise<unknown>; url: string }> = [];

async function startApi(): Promise<string> {
  const port = await freePort();
  const child = spawn(process.execPath, [API], {
    env: {
      ...process.env,
      DATABASE_URL: process.env.HERALD_TEST_DATABASE_URL,
      TEMPORAL_ADDRESS: process.env.HERALD_TEST_TEMPORAL_ADDRESS,
      PORT: String(port),
      METRICS_PORT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  apis.push({ child, exited, url });
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return url;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the API process did not start');
}

afterAll(async () => {
  await Promise.all(apis.map((a) => stopChild(a.child, a.exited)));
  await sql.end({ timeout: 5 });
});

test('two API processes together let a tenant through its burst and no more (429 beyond)', async () => {
  expect(existsSync(API)).toBe(true); // built by `npm ci` (prepare) or `npm run build`
  const [a, b] = await Promise.all([startApi(), startApi()]);
  const tenantId = `shared-${randomUUID().slice(0, 8)}`;
  const admin = createTenantAdmin(sql);
  // 6 requests at once, then one every 100 s: nothing refills during the test.
  await admin.createTenant(tenantId, { name: 'shared limits', sendingDomains: ['shared.example'], ratePerSecond: 0.01, burst: 6 });
  const { key } = await admin.createKey(tenantId, ['read']);
  const requests = Array.from({ length: 20 }, (_, i) =>
    fetch(`${i % 2 ? a : b}/v1/emails`, { headers: { authorization: `Bearer ${key}` } }),
  );
  const statuses = (await Promise.all(requests)).map((r) => r.status);
  expect(statuses.filter((s) => s === 200)).toHaveLength(6);
  expect(statuses.filter((s) => s === 429)).toHaveLength(14);
  const last = await fetch(`${a}/v1/emails`, { headers: { authorization: `Bearer ${key}` } });
  expect(last.status).toBe(429);
  expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(50);
});
