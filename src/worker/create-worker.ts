import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createReconcileActivities } from '../activities/reconcile';
import { createDeliveries } from '../temporal/deliveries';
import type { DeliveryPolicy } from '../shared';
import { createDeliveryStore } from '../db/delivery-store';
import type { Sql } from '../db/sql';
import type { TransportRegistry } from '../smtp/transports';

export interface HeraldWorkerOptions {
  connection: NativeConnection;
  /** For the orphan sweep, which looks up and starts delivery workflows. */
  client: Client;
  /** The policy given to deliveries the orphan sweep starts. */
  policy: DeliveryPolicy;
  namespace: string;
  taskQueue: string;
  sql: Sql;
  transports: TransportRegistry;
  gatewayUrl: string;
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
  /** A prebuilt bundle (production) or, when absent, the workflow sources to bundle at start. */
  workflowBundlePath?: string;
}

// `npm run build` writes this next to the compiled code; bundling at start costs seconds.
export const DEFAULT_BUNDLE_PATH = path.resolve(__dirname, '../workflow-bundle.js');
export const WORKFLOWS_PATH = require.resolve('../workflows');

export async function createHeraldWorker(opts: HeraldWorkerOptions): Promise<Worker> {
  const bundlePath = opts.workflowBundlePath ?? DEFAULT_BUNDLE_PATH;
  const workflowSource: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = existsSync(bundlePath)
    ? { workflowBundle: { codePath: bundlePath } }
    : { workflowsPath: WORKFLOWS_PATH };
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflowSource,
    activities: {
      ...createActivities({ store: createDeliveryStore(opts.sql), transports: opts.transports, gatewayUrl: opts.gatewayUrl }),
      ...createReconcileActivities({
        sql: opts.sql,
        client: opts.client,
        deliveries: createDeliveries(opts.client, opts.taskQueue),
        policy: opts.policy,
      }),
    },
    maxConcurrentActivityTaskExecutions: opts.maxConcurrentActivities ?? 100,
    maxConcurrentWorkflowTaskExecutions: opts.maxConcurrentWorkflowTasks ?? 100,
    // A stopping worker lets attempts under way finish (SMTP timeouts are shorter than this).
    shutdownGraceTime: '30 seconds',
    // After a worker dies, its workflows' next tasks wait this long on its sticky queue before
    // another worker takes them (the SDK's default, 10 s, slows recovery for nothing).
    stickyQueueScheduleToStartTimeout: '3 seconds',
  });
}
