import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config';
import { createSql } from '../db/sql';
import { createApp } from '../api/app';
import { createDeliveries } from '../temporal/deliveries';
import type { Logger } from '../logger';

export interface RunningApi {
  url: string;
  stop(): Promise<void>;
}

/** The HTTP API with its one Temporal client and one sql pool, closed on stop. */
export async function startApiServer(config: Config, temporalAddress: string, logger: Logger): Promise<RunningApi> {
  const sql = createSql(config.databaseUrl, config.databasePoolMax);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const app = createApp({
    sql,
    deliveries: createDeliveries(client, config.temporal.taskQueue),
    temporalReady: async () => {
      await connection.workflowService.getSystemInfo({});
      return true;
    },
    policy: config.policy,
    messageIdDomain: config.messageIdDomain,
    maxMessageBytes: config.maxMessageBytes,
    logger,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.http.port, hostname: config.http.host }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  return {
    url: `http://${host}:${port}`,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await connection.close();
      await sql.end({ timeout: 5 });
    },
  };
}
