import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config, GatewayConfig } from '../config';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { createSql } from '../db/sql';
import { createWebhookStore } from '../db/webhooks';
import { ensureOrphanSweepSchedule } from '../deliveries/orphan-sweep-schedule';
import { createTransportRegistry } from '../smtp/transports';
import { clientInterceptors } from '../telemetry/interceptors';
import { createWebhookPoster } from '../webhooks/http';
import { startWebhookPump } from '../webhooks/pump';
import { createWebhookService } from '../webhooks/service';
import { createWebhookDispatch, webhookTaskQueue } from '../webhooks/workflows';
import { createHeraldWorker, createWebhookWorker, loadWorkflowBundle } from './create-worker';

export interface RunningWorker {
  /** The email worker's connection: an API in the same process starts deliveries on it, eagerly (`npm start`). */
  connection: NativeConnection;
  /** Resolves when the worker has stopped (after stop() or a fatal error). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The worker process's work: the email worker, the webhook worker (a task queue of its own) and
 * the webhook pump, with their connections, sql pool and SMTP transports, all closed when it stops.
 */
export async function startWorker(
  config: Config,
  temporalAddress: string,
  gateways: readonly GatewayConfig[],
  logger: Logger,
  metrics: Metrics,
): Promise<RunningWorker> {
  const sql = createSql(config.databaseUrl, config.databasePoolMax);
  const transports = createTransportRegistry({
    gateways,
    maxConnections: config.smtp.maxConnections,
    attemptTimeoutMs: config.policy.attemptTimeoutMs,
  });
  if (config.smtp.urlIgnored) logger.warn('SMTP_URL is ignored: SMTP_GATEWAYS (or SMTP_GATEWAYS_FILE) names the gateways');
  // Names and limits only: a gateway's URL holds its credentials.
  logger.info(
    { gateways: gateways.map((g) => ({ name: g.name, priority: g.priority, ratePerSecond: g.ratePerSecond ?? null })) },
    'SMTP gateways',
  );
  const poster = createWebhookPoster({ policy: config.webhooks.targets });
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const clientConnection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace, interceptors: clientInterceptors });
  await ensureOrphanSweepSchedule(client, config.temporal.taskQueue);
  const workflowBundle = await loadWorkflowBundle(logger);
  const common = { connection, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, sql, metrics, workflowBundle };
  const dispatch = createWebhookDispatch(client, webhookTaskQueue(config.temporal.taskQueue), config.webhooks.policy);
  const webhooks = createWebhookService({
    store: createWebhookStore(sql),
    dispatch,
    targets: config.webhooks.targets,
    maxEndpointsPerTenant: config.webhooks.maxEndpointsPerTenant,
    logger,
  });
  const worker = await createHeraldWorker({
    ...common,
    client,
    webhooks,
    policy: config.policy,
    messageIdDomain: config.messageIdDomain,
    transports,
    breaker: config.smtp.breaker,
    unsubscribe: config.unsubscribe,
    logger,
    maxConcurrentActivities: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTasks: config.worker.maxConcurrentWorkflowTasks,
  });
  const webhookWorker = await createWebhookWorker({
    ...common,
    poster,
    policy: config.webhooks.policy,
    disableAfterMs: config.webhooks.disableAfterMs,
    maxConcurrentActivities: config.webhooks.maxConcurrentActivities,
  });
  const pump = startWebhookPump({
    store: createWebhookStore(sql),
    dispatch,
    logger,
    pollIntervalMs: config.webhooks.pollIntervalMs,
    delayedEveryMs: config.webhooks.delayedEveryMs,
    staleAfterMs: config.webhooks.policy.maximumIntervalMs + 5 * 60_000,
  });
  const workers = [worker, webhookWorker];
  // One worker stopping (shutdown or a fatal error) stops the other.
  const stopWorkers = () => workers.filter((w) => w.getState() === 'RUNNING').forEach((w) => w.shutdown());
  const done = Promise.allSettled(workers.map((w) => w.run().finally(stopWorkers))).then(async (results) => {
    await pump.stop();
    poster.close();
    transports.closeAll();
    await connection.close();
    await clientConnection.close();
    await sql.end({ timeout: 5 });
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  });
  return {
    connection,
    done,
    async stop() {
      stopWorkers();
      await done;
    },
  };
}
