import { randomUUID } from 'node:crypto';
import type dns from 'node:dns';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { LogLevel, LogMetadata } from '@temporalio/common';
import pino from 'pino';
import { createApp } from '../../src/api/app';
import { createSql, type Sql } from '../../src/db/sql';
import { createDeliveryService } from '../../src/deliveries/service';
import { createDeliveryWorkflows } from '../../src/deliveries/workflows';
import { createTenantStore } from '../../src/db/tenants';
import { createWebhookStore } from '../../src/db/webhooks';
import { freePort } from '../../src/dev/temporal-dev-server';
import { temporalLogger, type Logger } from '../../src/logger';
import { createMetrics, type Metrics } from '../../src/metrics';
import { createTenantAdmin } from '../../src/tenants/admin';
import { DEFAULT_GATEWAY, KEY_SCOPES, type WebhookPolicy } from '../../src/shared';
import { createTransportRegistry, type TransportRegistry } from '../../src/smtp/transports';
import { clientInterceptors } from '../../src/telemetry/interceptors';
import { TEMPORAL_METRIC_PREFIX } from '../../src/telemetry/runtime';
import { createWebhookPoster } from '../../src/webhooks/http';
import { startWebhookPump, type WebhookPump } from '../../src/webhooks/pump';
import { createWebhookService } from '../../src/webhooks/service';
import type { WebhookTargetPolicy } from '../../src/webhooks/url-rule';
import { createWebhookDispatch, webhookTaskQueue } from '../../src/webhooks/workflows';
import { createHeraldWorker, createWebhookWorker, WORKFLOW_BUNDLE_OPTIONS } from '../../src/worker/create-worker';
import { createSuppressionService } from '../../src/suppressions/service';
import { createCampaignService } from '../../src/campaigns/service';
import { DEFAULT_CAMPAIGN_SETTINGS, type CampaignSettings } from '../../src/campaigns/settings';
import { createCampaignWorkflows } from '../../src/campaigns/workflows';
import type { GatewayConfig } from '../../src/config';
import type { BreakerOptions } from '../../src/smtp/breaker';
import type { DeliveryPolicy, EmailStatus } from '../../src/shared';
import { startScriptedSmtp, type ScriptedSmtp } from './smtp-test-server';
import type { UnsubscribeLinks } from '../../src/campaigns/unsubscribe';

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

/** Short webhook retries for tests: a receiver down for a second loses nothing; give up after 20 s. */
export const TEST_WEBHOOK_POLICY: WebhookPolicy = {
  initialIntervalMs: 200,
  backoffCoefficient: 2,
  maximumIntervalMs: 1000,
  giveUpAfterMs: 20_000,
  timeoutMs: 1000,
  concurrency: 4,
};

// The Temporal Runtime of this test file: its logs go to the logger a test routes them to
// (captureRuntimeLogs), else errors only to stderr (failed activities are what many tests expect);
// its worker metrics to a Prometheus exporter on a free port.
const runtime: { target?: Logger; metricsAddress?: string; installed?: Promise<void> } = {};
const errorsOnly = pino({ level: 'error' }, pino.destination(2));
function forwardingLogger() {
  const write = (level: LogLevel, message: string, meta?: LogMetadata) =>
    temporalLogger(runtime.target ?? errorsOnly).log(level, message, meta);
  return {
    log: write,
    trace: (m: string, meta?: LogMetadata) => write('TRACE', m, meta),
    debug: (m: string, meta?: LogMetadata) => write('DEBUG', m, meta),
    info: (m: string, meta?: LogMetadata) => write('INFO', m, meta),
    warn: (m: string, meta?: LogMetadata) => write('WARN', m, meta),
    error: (m: string, meta?: LogMetadata) => write('ERROR', m, meta),
  };
}
function installRuntime(): Promise<void> {
  runtime.installed ??= (async () => {
    const address = `127.0.0.1:${await freePort()}`;
    try {
      Runtime.install({
        logger: forwardingLogger(),
        telemetryOptions: {
          logging: { forward: {} },
          metrics: {
            metricPrefix: TEMPORAL_METRIC_PREFIX,
            prometheus: { bindAddress: address, useSecondsForDurations: true, countersTotalSuffix: true, unitSuffix: true },
          },
        },
      });
      runtime.metricsAddress = address;
    } catch {
      // installed already in this module registry
    }
  })();
  return runtime.installed;
}

/** Routes the Temporal Runtime's logs (SDK, workflow and activity loggers) to this logger, or back to errors only. */
export function captureRuntimeLogs(logger: Logger | undefined): void {
  runtime.target = logger;
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundled once per test file (each file is its own module registry). */
function workflowBundle() {
  bundle ??= bundleWorkflowCode({ ...WORKFLOW_BUNDLE_OPTIONS, logger: quietLogger() });
  return bundle;
}

function quietLogger() {
  const noop = () => {};
  return { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
}

export interface HarnessWebhookOptions {
  policy?: Partial<WebhookPolicy>;
  targets?: WebhookTargetPolicy;
  disableAfterMs?: number;
  delayedEveryMs?: number;
  /** The resolver the webhook client uses (a test's own, for DNS rebinding). */
  lookup?: typeof dns.lookup;
}

export interface HarnessOptions {
  policy?: Partial<DeliveryPolicy>;
  maxMessageBytes?: number;
  /** Where the API, the service and the worker log (silent by default). */
  logger?: Logger;
  /** Run the webhook worker and pump (off by default: most files need neither). */
  webhooks?: HarnessWebhookOptions;
  /** Gateways, each with a scripted SMTP server of its own (default: one named `default`). */
  gateways?: Array<Omit<GatewayConfig, 'url'>>;
  breaker?: BreakerOptions;
  campaigns?: Partial<CampaignSettings>;
  /** One-click unsubscribe links in campaign emails (off by default, as without PUBLIC_URL). */
  unsubscribe?: UnsubscribeLinks;
}

export interface Harness {
  sql: Sql;
  client: Client;
  /** The scripted server of the first gateway (the only one unless `gateways` says otherwise). */
  smtp: ScriptedSmtp;
  /** Each gateway's scripted server, by gateway name. */
  gateways: Record<string, ScriptedSmtp>;
  app: ReturnType<typeof createApp>;
  /** The deps the app was built with, to build another app with one part changed. */
  deps: Parameters<typeof createApp>[0];
  metrics: Metrics;
  /** host:port of the Temporal Runtime's Prometheus exporter of this test file. */
  temporalMetricsAddress?: string;
  webhookPump?: WebhookPump;
  taskQueue: string;
  /** The tenant of this test file (sends from any domain, limits out of the way) and its key. */
  tenantId: string;
  apiKey: string;
  /** A request to the app with this file's key (unless headers say otherwise). */
  request(path: string, init?: RequestInit): Promise<Response>;
  post(body: unknown, headers?: Record<string, string>): Promise<Response>;
  getEmail(id: string): Promise<any>;
  waitForStatus(id: string, statuses: EmailStatus[], timeoutMs?: number): Promise<any>;
  /** Polls GET /v1/emails/:id until the predicate holds. */
  waitUntil(id: string, predicate: (email: any) => boolean, timeoutMs?: number): Promise<any>;
  /** Row counts of every table for the emails sent from or to one domain (test files run in parallel). */
  countRows(domain: string): Promise<{ emails: number; recipients: number; attachments: number; events: number }>;
  close(): Promise<void>;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  await installRuntime();
  const address = process.env.HERALD_TEST_TEMPORAL_ADDRESS!;
  const sql = createSql(process.env.HERALD_TEST_DATABASE_URL!, 5);
  const gatewaySpecs = options.gateways ?? [{ name: DEFAULT_GATEWAY, priority: 0 }];
  const servers = await Promise.all(gatewaySpecs.map(() => startScriptedSmtp()));
  const smtp = servers[0];
  const gatewayConfigs: GatewayConfig[] = gatewaySpecs.map((g, i) => ({ ...g, url: servers[i].url }));
  const taskQueue = `test-${randomUUID()}`;
  const policy = { ...TEST_POLICY, ...options.policy };

  const connection = await Connection.connect({ address });
  const client = new Client({ connection, interceptors: clientInterceptors });
  const transports: TransportRegistry = createTransportRegistry({
    gateways: gatewayConfigs,
    maxConnections: 2,
    attemptTimeoutMs: policy.attemptTimeoutMs,
  });
  const nativeConnection = await NativeConnection.connect({ address });
  const logger = options.logger ?? pino({ level: 'silent' });
  const metrics = createMetrics();
  const webhookPolicy = { ...TEST_WEBHOOK_POLICY, ...options.webhooks?.policy };
  const dispatch = createWebhookDispatch(client, webhookTaskQueue(taskQueue), webhookPolicy);
  const webhooks = createWebhookService({
    store: createWebhookStore(sql),
    dispatch,
    targets: options.webhooks?.targets ?? { allowHttp: true, allowPrivateTargets: true },
    maxEndpointsPerTenant: 5,
    logger,
  });
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
    unsubscribe: options.unsubscribe,
    logger,
    metrics,
    webhooks,
    workflowBundle: await workflowBundle(),
  });
  const tenantId = `test-${randomUUID().slice(0, 8)}`;
  const workers: Array<{ run(): Promise<void>; shutdown(): void }> = [worker];
  let webhookPump: WebhookPump | undefined;
  const poster = createWebhookPoster({
    policy: options.webhooks?.targets ?? { allowHttp: true, allowPrivateTargets: true },
    lookup: options.webhooks?.lookup,
  });
  if (options.webhooks) {
    workers.push(
      await createWebhookWorker({
        connection: nativeConnection,
        namespace: 'default',
        taskQueue,
        sql,
        poster,
        metrics,
        policy: webhookPolicy,
        disableAfterMs: options.webhooks.disableAfterMs ?? 60_000,
        workflowBundle: await workflowBundle(),
      }),
    );
    webhookPump = startWebhookPump({
      store: createWebhookStore(sql),
      dispatch,
      logger,
      pollIntervalMs: 100,
      delayedEveryMs: options.webhooks.delayedEveryMs ?? 60_000,
      staleAfterMs: webhookPolicy.maximumIntervalMs + 60_000,
      // Test files share one database, each with task queues of its own: a pump serves its file's tenant.
      tenantIds: [tenantId],
    });
  }
  const running = Promise.all(workers.map((w) => w.run()));

  await createTenantStore(sql).create({
    id: tenantId,
    name: 'integration tests',
    anySendingDomain: true,
    ratePerSecond: 100_000,
    burst: 100_000,
  });
  const { key: apiKey } = await createTenantAdmin(sql).createKey(tenantId, [...KEY_SCOPES], 'integration tests');

  const deliveries = createDeliveryService({
    sql,
    workflows: createDeliveryWorkflows(client, taskQueue),
    policy,
    messageIdDomain: 'test.herald',
    logger,
    metrics,
  });
  const campaignSettings = { ...DEFAULT_CAMPAIGN_SETTINGS, ...options.campaigns };
  const deps: Parameters<typeof createApp>[0] = {
    deliveries,
    campaigns: createCampaignService({
      sql,
      deliveries,
      workflows: createCampaignWorkflows(client, taskQueue),
      messageIdDomain: 'test.herald',
      settings: campaignSettings,
      logger,
    }),
    campaignSettings,
    webhooks,
    suppressions: createSuppressionService({ sql }),
    tenants: createTenantStore(sql),
    readiness: async () => ({
      postgres: true,
      temporal: await connection.workflowService.getSystemInfo({}).then(
        () => true,
        () => false,
      ),
    }),
    maxMessageBytes: options.maxMessageBytes ?? 1024 * 1024,
    unsubscribeSecret: options.unsubscribe?.secret,
    logger,
    metrics,
  };
  const app = createApp(deps);

  const harness: Harness = {
    sql,
    client,
    smtp,
    gateways: Object.fromEntries(gatewaySpecs.map((g, i) => [g.name, servers[i]])),
    app,
    deps,
    metrics,
    temporalMetricsAddress: runtime.metricsAddress,
    webhookPump,
    taskQueue,
    tenantId,
    apiKey,
    request(path, init = {}) {
      return Promise.resolve(
        app.request(path, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string>) } }),
      );
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
    async waitUntil(id, predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: any;
      while (Date.now() < deadline) {
        last = await harness.getEmail(id);
        if (predicate(last)) return last;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`email ${id} did not get there in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
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
      await webhookPump?.stop();
      for (const w of workers) w.shutdown();
      await running;
      poster.close();
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
