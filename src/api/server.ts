import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { createSql } from '../db/sql';
import { createDeliveryService } from '../deliveries/service';
import { createDeliveryWorkflows } from '../deliveries/workflows';
import { createTenantStore } from '../db/tenants';
import { createSuppressionService } from '../suppressions/service';
import { createApp } from './app';

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
    deliveries: createDeliveryService({
      sql,
      workflows: createDeliveryWorkflows(client, config.temporal.taskQueue),
      policy: config.policy,
      messageIdDomain: config.messageIdDomain,
      logger,
    }),
    suppressions: createSuppressionService({ sql }),
    tenants: createTenantStore(sql),
    readiness: async () => {
      const [postgres, temporal] = await Promise.all([
        sql`select 1`.then(() => true, () => false),
        connection.workflowService.getSystemInfo({}).then(() => true, () => false),
      ]);
      return { postgres, temporal };
    },
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
