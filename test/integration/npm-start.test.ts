import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/temporal-dev-server';
import { adminUrlFromEnv, createDatabase, dropDatabase } from '../support/database';
import { distBin } from '../support/paths';
import { spawnLogged, type Proc } from '../support/process';
import { startScriptedSmtp, type ScriptedSmtp } from '../support/smtp-test-server';
import { inheritedEnv } from '../support/stack';

// `npm start` as a person runs it (dist/bin/start.js), with a Temporal dev server of its own (the
// shared one of the test run has other tests' orphan-sweep schedule, which npm start would take
// over) and the test run's PostgreSQL: the API and the worker in one process, where the API
// starts deliveries eagerly on the worker's own connection. An email goes in over HTTP and comes out at the gateway; a
// SIGTERM then stops the process cleanly (the API leaves the shared connection to the worker).

const adminUrl = adminUrlFromEnv();
const databaseName = `herald_npm_start_${process.pid}`;
let dataDir: string;
let smtp: ScriptedSmtp;
let herald: Proc;
let apiUrl: string;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'herald-npm-start-'));
  smtp = await startScriptedSmtp();
  const port = await freePort();
  apiUrl = `http://127.0.0.1:${port}`;
  herald = spawnLogged('npm-start', process.execPath, [path.join(distBin(), 'start.js')], {
    logFile: path.join(dataDir, 'start.log'),
    env: {
      ...inheritedEnv(),
      DATABASE_URL: await createDatabase(adminUrl, databaseName),
      TEMPORAL_PORT: String(await freePort()),
      TEMPORAL_UI_PORT: String(await freePort()),
      SMTP_URL: smtp.url,
      HERALD_DATA_DIR: dataDir,
      PORT: String(port),
      SMTP_SUBMISSION_PORT: String(await freePort()),
      METRICS_PORT: String(await freePort()),
      LOG_FORMAT: 'json',
    },
  });
  await herald.waitForLine(/Herald is running/, 90_000);
}, 120_000);

afterAll(async () => {
  if (herald?.alive()) await herald.stop();
  await smtp?.close();
  await dropDatabase(adminUrl, databaseName);
  rmSync(dataDir, { recursive: true, force: true });
});

test('npm start delivers an email accepted over HTTP, and stops cleanly on SIGTERM', async () => {
  const key = readFileSync(path.join(dataDir, 'dev-api-key'), 'utf8').trim();
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const res = await fetch(`${apiUrl}/v1/emails`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ from: 'shop@example.com', to: ['alice@example.org'], subject: 'npm start', text: 'one process' }),
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };

  let email: { status: string; attempts: Array<{ outcome: string }> } | undefined;
  for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
    email = (await (await fetch(`${apiUrl}/v1/emails/${id}`, { headers })).json()) as typeof email;
    if (email?.status === 'sent') break;
  }
  expect(email?.status).toBe('sent');
  expect(email?.attempts.map((a) => a.outcome)).toEqual(['sent']);
  expect(smtp.received.map((m) => m.envelopeTo)).toEqual([['alice@example.org']]);

  await herald.kill('SIGTERM');
  expect(await herald.exited).toBe(0);
}, 60_000);
