import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type State, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createOrphanSweepActivities } from '../activities/orphan-sweep';
import { createOrphanStore } from '../db/orphans';
import type { Sql } from '../db/sql';
import { createDeliveryService } from '../deliveries/service';
import { createDeliveryWorkflows } from '../deliveries/workflows';
import type { Logger } from '../logger';
import { gatewayTaskQueue, type DeliveryPolicy } from '../shared';
import type { TransportRegistry } from '../smtp/transports';
import { createBreakers, type BreakerOptions } from '../smtp/breaker';

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
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
  /** A prebuilt bundle (production), or bundled from the sources when absent. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

// `npm run build` writes this next to the compiled code; bundling at start costs seconds.
export const DEFAULT_BUNDLE_PATH = path.resolve(__dirname, '../workflow-bundle.js');
export const WORKFLOWS_PATH = require.resolve('../workflows');

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

/** The worker of the delivery workflows, their activities and the orphan sweep. */
export async function createHeraldWorker(opts: HeraldWorkerOptions): Promise<HeraldWorker> {
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : existsSync(DEFAULT_BUNDLE_PATH)
      ? { workflowBundle: { codePath: DEFAULT_BUNDLE_PATH } }
      : { workflowsPath: WORKFLOWS_PATH };
  const deliveries = createDeliveryService({
    sql: opts.sql,
    workflows: createDeliveryWorkflows(opts.client, opts.taskQueue),
    policy: opts.policy,
    messageIdDomain: opts.messageIdDomain,
    logger: opts.logger,
  });
  const breakers = createBreakers(opts.breaker ?? { failures: 5, coolDownMs: 30_000 }, {
    opened: (gateway, failures, coolDownMs) => opts.logger.warn({ gateway, failures, coolDownMs }, 'gateway circuit open: attempts go to the next gateway'),
    closed: (gateway) => opts.logger.info({ gateway }, 'gateway circuit closed'),
  });
  const activities = createActivities({ sql: opts.sql, transports: opts.transports, breakers });
  const maxConcurrentActivityTaskExecutions = opts.maxConcurrentActivities ?? 100;
  const main = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflowSource,
    activities: {
      ...activities,
      ...createOrphanSweepActivities({ orphans: createOrphanStore(opts.sql), deliveries }),
    },
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
