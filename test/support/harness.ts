import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import pino from 'pino';
import { createApp } from '../../src/api/app';
import { createSql, type Sql } from '../../src/db/sql';
import { createDeliveryService } from '../../src/deliveries/service';
import { createDeliveryWorkflows } from '../../src/deliveries/workflows';
import { createTenantStore } from '../../src/db/tenants';
import { createSuppressionService } from '../../src/suppressions/service';
import { createTenantAdmin } from '../../src/tenants/admin';
import { DEFAULT_GATEWAY, KEY_SCOPES } from '../../src/shared';
import { createTransportRegistry, type TransportRegistry } from '../../src/smtp/transports';
import { createHeraldWorker, WORKFLOWS_PATH } from '../../src/worker/create-worker';
import type { GatewayConfig } from '../../src/config';
import type { BreakerOptions } from '../../src/smtp/breaker';
import type { DeliveryPolicy, EmailStatus } from '../../src/shared';
import { startScriptedSmtp, type ScriptedSmtp } from './smtp-test-server';

// Wires the real parts for one test file: the shared Temporal dev server and PostgreSQL
// database from global-setup, the real worker (createHeraldWorker) on a task queue of its own, a
// scripted SMTP server and the Hono app (called in-process with app.request()).

export const TEST_POLICY: DeliveryPolicy = {
  initialIntervalMs: 200,
  backoffCoefficient: 1.5,
  maximumIntervalMs: 1000,
  giveUpAfterMs: 30_000,
  attemptTimeoutMs: 10_000,
};

// Failed activities and workflows are what many tests expect: keep the SDK's log to errors.
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // already installed in this process by an earlier test file
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundled once per test file (each file is its own module registry). */
function workflowBundle() {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger() });
  return bundle;
}

function quietLogger() {
  const noop = () => {};
  return { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
}

export interface Harness {
  sql: Sql;
  client: Client;
  /** The scripted server of the first gateway (the only one unless `gateways` says otherwise). */
  smtp: ScriptedSmtp;
  /** Each gateway's scripted server, by gateway name. */
  gateways: Record<string, ScriptedSmtp>;
  app: ReturnType<typeof createApp>;
  taskQueue: string;
  /** The tenant of this test file (sends from any domain, limits out of the way) and its key. */
  tenantId: string;
  apiKey: string;
  /** A request to the app with this file's key (unless headers say otherwise). */
  request(path: string, init?: RequestInit): Promise<Response>;
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  getEmail(id: string): Promise<any>;
  waitForStatus(id: string, statuses: EmailStatus[], timeoutMs?: number): Promise<any>;
  /** Row counts of every table for the emails sent from or to one domain (test files run in parallel). */
  countRows(domain: string): Promise<{ emails: number; recipients: number; attachments: number; events: number }>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  policy?: Partial<DeliveryPolicy>;
  maxMessageBytes?: number;
  /** Gateways, each with a scripted SMTP server of its own (default: one named `default`). */
  gateways?: Array<Omit<GatewayConfig, 'url'>>;
  breaker?: BreakerOptions;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const address = process.env.HERALD_TEST_TEMPORAL_ADDRESS!;
  const sql = createSql(process.env.HERALD_TEST_DATABASE_URL!, 5);
  const gatewaySpecs = options.gateways ?? [{ name: DEFAULT_GATEWAY, priority: 0 }];
  const servers = await Promise.all(gatewaySpecs.map(() => startScriptedSmtp()));
  const smtp = servers[0];
  const gatewayConfigs: GatewayConfig[] = gatewaySpecs.map((g, i) => ({ ...g, url: servers[i].url }));
  const taskQueue = `test-${randomUUID()}`;
  const policy = { ...TEST_POLICY, ...options.policy };

  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const nativeConnection = await NativeConnection.connect({ address });
  const logger = pino({ level: 'silent' });
  const transports: TransportRegistry = createTransportRegistry({ gateways: gatewayConfigs, maxConnections: 2, attemptTimeoutMs: policy.attemptTimeoutMs });
  const worker = await createHeraldWorker({
    connection: nativeConnection,
    client,
    policy,
    messageIdDomain: 'test.herald',
    namespace: 'default',
    taskQueue,
    sql,
    transports,
    breaker: options.breaker,
    logger,
    workflowBundle: await workflowBundle(),
  });
  const running = worker.run();

  const tenantId = `test-${randomUUID().slice(0, 8)}`;
  await createTenantStore(sql).create({ id: tenantId, name: 'integration tests', anySendingDomain: true, ratePerSecond: 100_000, burst: 100_000 });
  const { key: apiKey } = await createTenantAdmin(sql).createKey(tenantId, [...KEY_SCOPES], 'integration tests');

  const app = createApp({
    deliveries: createDeliveryService({ sql, workflows: createDeliveryWorkflows(client, taskQueue), policy, messageIdDomain: 'test.herald', logger }),
    suppressions: createSuppressionService({ sql }),
    tenants: createTenantStore(sql),
    readiness: async () => ({ postgres: true, temporal: await connection.workflowService.getSystemInfo({}).then(() => true, () => false) }),
    maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
    logger,
  });

  const harness: Harness = {
    sql,
    client,
    smtp,
    gateways: Object.fromEntries(gatewaySpecs.map((g, i) => [g.name, servers[i]])),
    app,
    taskQueue,
    tenantId,
    apiKey,
    request(path, init = {}) {
      return Promise.resolve(app.request(path, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string>) } }));
    },
    post(body, headers = {}) {
      return harness.request('/v1/emails', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    async getEmail(id) {
      const res = await harness.request(`/v1/emails/${id}`);
      return res.status === 200 ? res.json() : { httpStatus: res.status, body: await res.json() };
    },
    async waitForStatus(id, statuses, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < deadline) {
        last = await harness.getEmail(id);
        if (statuses.includes(last.status)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`email ${id} did not reach ${statuses.join('|')} in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    },
    async countRows(domain) {
      const [row] = await sql`
        with scoped as (
          select id from emails where from_address like ${'%@' + domain}
          union select email_id from email_recipients where domain = ${domain})
        select
          (select count(*)::int from scoped) as emails,
          (select count(*)::int from email_recipients where email_id in (select id from scoped)) as recipients,
          (select count(*)::int from email_attachments where email_id in (select id from scoped)) as attachments,
          (select count(*)::int from email_events where email_id in (select id from scoped)) as events`;
      return row as any;
    },
    async close() {
      worker.shutdown();
      await running;
      transports.closeAll();
      await nativeConnection.close();
      await connection.close();
      for (const server of servers) await server.close();
      await sql.end({ timeout: 5 });
    },
  };
  return harness;
}

export function validEmail(overrides: Record<string, unknown> = {}) {
  return {
    from: { email: 'sender@herald.test', name: 'Herald Test' },
    to: ['alice@example.org'],
    subject: 'Hello from Herald',
    text: 'Hello!',
    ...overrides,
  };
}
