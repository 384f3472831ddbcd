import http from 'node:http';
import path from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createSql, type Sql } from '../../src/db/sql';
import { freePort } from '../../src/dev/temporal-dev-server';
import { WEBHOOK_EVENT_TYPES } from '../../src/webhooks/events';
import { createTenantAdmin } from '../../src/tenants/admin';
import { request } from './lib/load';
import { waitFor } from '../support/process';
import { smtpSink } from './lib/gateways';
import { runDir, useFaultStack } from './lib/stack';

// Webhooks never slow email delivery. The same closed loop of emails is measured four times on
// the whole stack (compiled API and worker, Temporal dev server, Postfix's smtp-sink): with no
// webhook endpoint, with an endpoint (every event) whose receiver accepts connections and never
// answers, with one whose receiver is down (connections refused), and with no endpoint again.
// Emails/s must not drop; then the receiver comes back and receives every event it missed.

const SLUG = '13-webhook-receiver-hangs';
const EMAILS = 300;
const CLIENTS = 16;

const scenario = useFaultStack(SLUG, {
  gateway: smtpSink(),
  env: {
    WEBHOOK_ALLOW_HTTP: 'true',
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
    // The default timeout (a hanging receiver holds each attempt 10 s); retries at most 2 s apart.
    WEBHOOK_RETRY_INITIAL_INTERVAL_MS: '1000',
    WEBHOOK_RETRY_MAX_INTERVAL_MS: '2000',
    WEBHOOK_POLL_INTERVAL_MS: '200',
  },
});

/** The receiver's port: hanging, closed, then answering 200 and recording. */
class Receiver {
  readonly received: Array<{ id: string; type: string }> = [];
  private server?: http.Server;
  private readonly sockets = new Set<Socket>();
  constructor(readonly port: number) {}

  async listen(mode: 'hang' | 'answer'): Promise<void> {
    await this.close();
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (mode === 'hang') return;
        this.received.push({ id: String(req.headers['webhook-id']), type: JSON.parse(Buffer.concat(chunks).toString()).type });
        res.writeHead(204).end();
      });
    });
    this.server.on('connection', (s) => (this.sockets.add(s), s.on('close', () => this.sockets.delete(s))));
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', () => resolve()));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let sql: Sql;
/** The tenant with the endpoint, and one without any (the baselines). */
const keys: { hooked?: string; plain?: string } = {};
let receiver: Receiver;

beforeAll(async () => {
  sql = createSql(scenario.stack.opts.databaseUrl, 2);
  const admin = createTenantAdmin(sql);
  const limits = { sendingDomains: ['herald.test'], ratePerSecond: 100_000, burst: 100_000, dailyQuota: 10_000_000 };
  for (const which of ['hooked', 'plain'] as const) {
    await admin.createTenant(`faults-${which}`, { name: `webhook fault scenario (${which})`, ...limits });
    keys[which] = (await admin.createKey(`faults-${which}`, ['send', 'read', 'webhooks'], 'fault scenario')).key;
  }
  receiver = new Receiver(await freePort());
});

afterAll(async () => {
  await receiver?.close();
  await sql?.end({ timeout: 2 });
});

const auth = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' });

/** CLIENTS clients, each POSTing its next email as soon as the last was accepted; emails/s until all are sent. */
async function closedLoop(phase: string, key: string): Promise<{ phase: string; seconds: number; perSecond: number }> {
  const started = Date.now();
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < EMAILS) {
        const i = next++;
        const body = JSON.stringify({
          from: 'shop@herald.test',
          to: [`rcpt-${i}@example.org`],
          subject: `[${SLUG}] ${phase} #${i}`,
          text: 'Hello',
        });
        const res = await request(`${scenario.stack.apiUrl}/v1/emails`, 'POST', body, auth(key));
        if (res.status !== 202) throw new Error(`${phase} #${i}: HTTP ${res.status} ${res.body}`);
        ids.push(JSON.parse(res.body).id);
      }
    }),
  );
  const sent = async () =>
    (await sql<Array<{ n: number }>>`select count(*)::int as n from emails where id = any(${ids}::uuid[]) and status = 'sent'`)[0].n;
  await waitFor(
    async () => (await sent()) === EMAILS,
    180_000,
    () => `${phase}: not all ${EMAILS} sent`,
    100,
  );
  const seconds = (Date.now() - started) / 1000;
  return { phase, seconds, perSecond: EMAILS / seconds };
}

const count = async (endpointId: string, where: 'pending' | 'not delivered') =>
  (
    await sql<Array<{ n: number }>>`select count(*)::int as n from webhook_deliveries
      where endpoint_id = ${endpointId} and ${where === 'pending' ? sql`status = 'pending'` : sql`status <> 'delivered'`}`
  )[0].n;

test('a receiver that hangs, or is down, does not lower the emails/s; it gets every event once it is back', async () => {
  const before = await closedLoop('baseline (no endpoint)', keys.plain!);

  await receiver.listen('hang');
  const url = `http://127.0.0.1:${receiver.port}/hooks`;
  const created = await request(
    `${scenario.stack.apiUrl}/v1/webhooks`,
    'POST',
    JSON.stringify({ url, events: WEBHOOK_EVENT_TYPES }),
    auth(keys.hooked!),
  );
  expect(created.status).toBe(201);
  const endpointId = JSON.parse(created.body).id as string;
  const hanging = await closedLoop('receiver hangs', keys.hooked!);

  await receiver.close();
  const down = await closedLoop('receiver down', keys.hooked!);
  const pending = await count(endpointId, 'pending');

  // Back: every event it missed arrives (at least once, under its stable webhook-id).
  await receiver.listen('answer');
  const back = Date.now();
  await waitFor(
    async () => (await count(endpointId, 'not delivered')) === 0,
    180_000,
    () => `not every delivery of ${endpointId} delivered`,
    500,
  );
  const drainSeconds = (Date.now() - back) / 1000;
  const messages = await sql<Array<{ id: string }>>`select message_id as id from webhook_deliveries where endpoint_id = ${endpointId}`;
  const got = new Set(receiver.received.map((r) => r.id));

  const after = await closedLoop('baseline again', keys.plain!);
  const baseline = (before.perSecond + after.perSecond) / 2;
  const figures = [before, hanging, down, after].map(({ phase, seconds, perSecond }) => ({
    phase,
    seconds: +seconds.toFixed(2),
    emailsPerSecond: +perSecond.toFixed(1),
  }));
  const report = {
    emails: EMAILS,
    clients: CLIENTS,
    figures,
    pendingWhileDown: pending,
    deliveries: messages.length,
    drainSeconds,
    receivedDistinct: got.size,
    receivedTotal: receiver.received.length,
  };
  writeFileSync(path.join(runDir(), `${SLUG}.json`), JSON.stringify(report, null, 2));
  console.log(
    [
      `${SLUG}: ${EMAILS} emails per phase, ${CLIENTS} clients`,
      ...figures.map((f) => `  ${f.phase.padEnd(24)} ${String(f.emailsPerSecond).padStart(6)} emails/s (${f.seconds} s)`),
      `  webhook deliveries pending while the receiver was away: ${pending} of ${messages.length}; all delivered ${drainSeconds.toFixed(1)} s after it came back`,
      `  receiver got ${got.size} distinct webhook-ids in ${receiver.received.length} requests`,
    ].join('\n'),
  );

  expect(hanging.perSecond).toBeGreaterThanOrEqual(0.8 * baseline);
  expect(down.perSecond).toBeGreaterThanOrEqual(0.8 * baseline);
  expect(pending).toBeGreaterThan(EMAILS);
  expect(messages.length).toBeGreaterThanOrEqual(4 * EMAILS); // accepted and sent, for the emails of two phases
  for (const { id } of messages) expect(got.has(id)).toBe(true);
});
