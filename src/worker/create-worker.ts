import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Worker, type State, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import type { UnsubscribeLinks } from '../campaigns/unsubscribe';
import { createOrphanSweepActivities } from '../activities/orphan-sweep';
import { createCampaignActivities } from '../activities/campaign';
import { createStarterActivities } from '../activities/start-deliveries';
import { createCampaignService } from '../campaigns/service';
import { DEFAULT_CAMPAIGN_SETTINGS } from '../campaigns/settings';
import { createCampaignWorkflows } from '../campaigns/workflows';
import { createWebhookActivities } from '../activities/webhooks';
import { createOrphanStore } from '../db/orphans';
import type { Sql } from '../db/sql';
import { createWebhookStore } from '../db/webhooks';
import { createDeliveryService } from '../deliveries/service';
import { createDeliveryWorkflows } from '../deliveries/workflows';
import { temporalLogger, type Logger } from '../logger';
import { createMetrics, type Metrics } from '../metrics';
import { gatewayTaskQueue, type DeliveryPolicy, type WebhookPolicy } from '../shared';
import type { TransportRegistry } from '../smtp/transports';
import { createBreakers, type BreakerOptions } from '../smtp/breaker';
import { logContextActivityInterceptor } from '../telemetry/interceptors';
import type { WebhookPoster } from '../webhooks/http';
import type { WebhookService } from '../webhooks/service';
import { webhookTaskQueue } from '../webhooks/workflows';

export interface HeraldWorkerOptions {
  connection: NativeConnection;
  /** For the orphan sweep, which looks up and starts delivery workflows. */
  client: Client;
  /** The policy given to deliveries the orphan sweep starts. */
  policy: DeliveryPolicy;
  messageIdDomain: string;
  namespace: string;
  taskQueue: string;
  sql: Sql;
  /** The configured gateways' transports (their names, URLs and limits stay in this process). */
  transports: TransportRegistry;
  /** Each gateway's circuit breaker (default: 5 failures in a row, 30 s cool-down). */
  breaker?: BreakerOptions;
  logger: Logger;
  metrics?: Metrics;
  /** One-click unsubscribe links written into campaign emails (absent: none). */
  unsubscribe?: UnsubscribeLinks;
  /** Events that are not an email's (campaign.completed) go to the tenant's webhook endpoints through it. */
  webhooks?: Pick<WebhookService, 'publish'>;
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
  /** A prebuilt bundle (production), or bundled from the sources when absent. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

// `npm run build` writes this next to the compiled code; bundling at start costs seconds.
export const DEFAULT_BUNDLE_PATH = path.resolve(__dirname, '../workflow-bundle.js');
export const WORKFLOWS_PATH = require.resolve('../workflows');
/** The workflows with their interceptors (log context from the start to every activity). */
export const WORKFLOW_BUNDLE_OPTIONS = {
  workflowsPath: WORKFLOWS_PATH,
  workflowInterceptorModules: [require.resolve('../workflows/interceptors')],
};

/** The prebuilt bundle, else one bundled now, quietly: only the bundler's warnings and errors reach the log. */
export async function loadWorkflowBundle(logger: Logger): Promise<NonNullable<WorkerOptions['workflowBundle']>> {
  if (existsSync(DEFAULT_BUNDLE_PATH)) return { codePath: DEFAULT_BUNDLE_PATH };
  const { code } = await bundleWorkflowCode({
    ...WORKFLOW_BUNDLE_OPTIONS,
    logger: temporalLogger(logger.child({ component: 'bundler' }, { level: 'warn' })),
  });
  return { code };
}

/**
 * The workers of one process: the delivery workflows, their activities and the orphan sweep on
 * the main task queue, and one activity worker per rate-limited gateway on that gateway's own
 * queue, whose rate the Temporal server enforces across every worker polling it.
 */
export interface HeraldWorker {
  run(): Promise<void>;
  shutdown(): void;
  getState(): State;
}

/** The worker of the delivery workflows, their activities, the orphan sweep, batch starters and campaigns. */
export async function createHeraldWorker(opts: HeraldWorkerOptions): Promise<HeraldWorker> {
  const deliveries = createDeliveryService({
    sql: opts.sql,
    workflows: createDeliveryWorkflows(opts.client, opts.taskQueue),
    policy: opts.policy,
    messageIdDomain: opts.messageIdDomain,
    logger: opts.logger,
  });
  // The campaign steps need no pacing settings: a campaign's pacing is in its workflow's input.
  const campaigns = createCampaignService({
    sql: opts.sql,
    deliveries,
    workflows: createCampaignWorkflows(opts.client, opts.taskQueue),
    messageIdDomain: opts.messageIdDomain,
    settings: DEFAULT_CAMPAIGN_SETTINGS,
    logger: opts.logger,
    webhooks: opts.webhooks,
  });
  const breakers = createBreakers(opts.breaker ?? { failures: 5, coolDownMs: 30_000 }, {
    opened: (gateway, failures, coolDownMs) =>
      opts.logger.warn({ gateway, failures, coolDownMs }, 'gateway circuit open: attempts go to the next gateway'),
    closed: (gateway) => opts.logger.info({ gateway }, 'gateway circuit closed'),
  });
  const activities = createActivities({
    sql: opts.sql,
    transports: opts.transports,
    breakers,
    metrics: opts.metrics ?? createMetrics(),
    unsubscribe: opts.unsubscribe,
  });
  const maxConcurrentActivityTaskExecutions = opts.maxConcurrentActivities ?? 100;
  const main = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle ?? (await loadWorkflowBundle(opts.logger)),
    activities: {
      ...activities,
      ...createOrphanSweepActivities({ orphans: createOrphanStore(opts.sql), deliveries }),
      ...createStarterActivities({ deliveries }),
      ...createCampaignActivities({ campaigns }),
    },
    interceptors: { activity: [logContextActivityInterceptor] },
    maxConcurrentActivityTaskExecutions,
    maxConcurrentWorkflowTaskExecutions: opts.maxConcurrentWorkflowTasks ?? 100,
    // A stopping worker lets attempts under way finish (SMTP timeouts are shorter than this).
    shutdownGraceTime: '30 seconds',
    // After a worker dies, its workflows' next tasks wait this long on its sticky queue before
    // another worker takes them (the SDK's default, 10 s, slows recovery for nothing).
    stickyQueueScheduleToStartTimeout: '3 seconds',
  });
  const gatewayWorkers = await Promise.all(
    opts.transports.gateways
      .filter((g) => g.ratePerSecond !== undefined)
      .map((g) =>
        Worker.create({
          connection: opts.connection,
          namespace: opts.namespace,
          taskQueue: gatewayTaskQueue(opts.taskQueue, g.name),
          activities: { sendEmail: activities.sendEmail },
          interceptors: { activity: [logContextActivityInterceptor] },
          // Server-side: the Temporal server dispatches at most this many attempts per second
          // from the queue, whatever the number of workers polling it.
          maxTaskQueueActivitiesPerSecond: g.ratePerSecond,
          maxConcurrentActivityTaskExecutions,
          shutdownGraceTime: '30 seconds',
        }),
      ),
  );
  const workers = [main, ...gatewayWorkers];
  const shutdown = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  return {
    async run() {
      // One worker stopping (a fatal error) stops the others: the process has one fate.
      await Promise.all(workers.map((w) => w.run().finally(shutdown)));
    },
    shutdown,
    getState: () => main.getState(),
  };
}

export interface WebhookWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  /** The email task queue; the webhook one is derived from it (webhookTaskQueue). */
  taskQueue: string;
  sql: Sql;
  poster: WebhookPoster;
  metrics?: Metrics;
  policy: WebhookPolicy;
  disableAfterMs: number;
  maxConcurrentActivities?: number;
  workflowBundle: NonNullable<WorkerOptions['workflowBundle']>;
}

/**
 * The worker of the webhook dispatchers, on a task queue of its own: receivers that hang take its
 * activity slots, never those of email delivery.
 */
export async function createWebhookWorker(opts: WebhookWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: webhookTaskQueue(opts.taskQueue),
    workflowBundle: opts.workflowBundle,
    activities: createWebhookActivities({
      store: createWebhookStore(opts.sql),
      poster: opts.poster,
      metrics: opts.metrics ?? createMetrics(),
      timeoutMs: opts.policy.timeoutMs,
      disableAfterMs: opts.disableAfterMs,
      maxRetryAfterMs: opts.policy.maximumIntervalMs,
    }),
    interceptors: { activity: [logContextActivityInterceptor] },
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 100,
    maxConcurrentWorkflowTaskExecutions: 20,
    shutdownGraceTime: '15 seconds',
    stickyQueueScheduleToStartTimeout: '3 seconds',
  });
}
