import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { Config, GatewayConfig } from '../config';
import type { Logger } from '../logger';
import { createSql } from '../db/sql';
import { ensureOrphanSweepSchedule } from '../deliveries/orphan-sweep-schedule';
import { createTransportRegistry } from '../smtp/transports';
import { createHeraldWorker } from './create-worker';

export interface RunningWorker {
  /** Resolves when the worker has stopped (after stop() or a fatal error). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** A worker with its own connections, sql pool and SMTP transports, all closed when it stops. */
export async function startWorker(config: Config, temporalAddress: string, gateways: readonly GatewayConfig[], logger: Logger): Promise<RunningWorker> {
  const sql = createSql(config.databaseUrl, config.databasePoolMax);
  const transports = createTransportRegistry({ gateways, maxConnections: config.smtp.maxConnections, attemptTimeoutMs: config.policy.attemptTimeoutMs });
  if (config.smtp.urlIgnored) logger.warn('SMTP_URL is ignored: SMTP_GATEWAYS (or SMTP_GATEWAYS_FILE) names the gateways');
  // Names and limits only: a gateway's URL holds its credentials.
  logger.info({ gateways: gateways.map((g) => ({ name: g.name, priority: g.priority, ratePerSecond: g.ratePerSecond ?? null })) }, 'SMTP gateways');
  const connection = await NativeConnection.connect({ address: temporalAddress });
  const clientConnection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  await ensureOrphanSweepSchedule(client, config.temporal.taskQueue);
  const worker = await createHeraldWorker({
    connection,
    client,
    policy: config.policy,
    messageIdDomain: config.messageIdDomain,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    sql,
    transports,
    breaker: config.smtp.breaker,
    logger,
    maxConcurrentActivities: config.worker.maxConcurrentActivities,
    maxConcurrentWorkflowTasks: config.worker.maxConcurrentWorkflowTasks,
  });
  const done = worker.run().finally(async () => {
    transports.closeAll();
    await connection.close();
    await clientConnection.close();
    await sql.end({ timeout: 5 });
  });
  return {
    done,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done;
    },
  };
}
