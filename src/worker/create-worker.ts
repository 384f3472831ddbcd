import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { createOrphanSweepActivities } from '../activities/orphan-sweep';
import { createCampaignActivities } from '../activities/campaign';
import { createStarterActivities } from '../activities/start-deliveries';
import { createCampaignService } from '../campaigns/service';
import { DEFAULT_CAMPAIGN_SETTINGS } from '../campaigns/settings';
import { createCampaignWorkflows } from '../campaigns/workflows';
import { createOrphanStore } from '../db/orphans';
import type { Sql } from '../db/sql';
import { createDeliveryService } from '../deliveries/service';
import { createDeliveryWorkflows } from '../deliveries/workflows';
import type { Logger } from '../logger';
import type { DeliveryPolicy } from '../shared';
import type { TransportRegistry } from '../smtp/transports';

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
  transports: TransportRegistry;
  gatewayUrl: string;
  logger: Logger;
  maxConcurrentActivities?: number;
  maxConcurrentWorkflowTasks?: number;
  /** A prebuilt bundle (production), or bundled from the sources when absent. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

// `npm run build` writes this next to the compiled code; bundling at start costs seconds.
export const DEFAULT_BUNDLE_PATH = path.resolve(__dirname, '../workflow-bundle.js');
export const WORKFLOWS_PATH = require.resolve('../workflows');

/** The worker of the delivery workflows, their activities, the orphan sweep, batch starters and campaigns. */
export async function createHeraldWorker(opts: HeraldWorkerOptions): Promise<Worker> {
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
  // The campaign steps need no pacing settings: a campaign's pacing is in its workflow's input.
  const campaigns = createCampaignService({
    sql: opts.sql,
    deliveries,
    workflows: createCampaignWorkflows(opts.client, opts.taskQueue),
    messageIdDomain: opts.messageIdDomain,
    settings: DEFAULT_CAMPAIGN_SETTINGS,
    logger: opts.logger,
  });
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    ...workflowSource,
    activities: {
      ...createActivities({ sql: opts.sql, transports: opts.transports, gatewayUrl: opts.gatewayUrl }),
      ...createOrphanSweepActivities({ orphans: createOrphanStore(opts.sql), deliveries }),
      ...createStarterActivities({ deliveries }),
      ...createCampaignActivities({ campaigns }),
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
