import { serve } from '@hono/node-server';
import { Client, Connection } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { createSql } from '../db/sql';
import { createDeliveryService } from '../deliveries/service';
import { createDeliveryWorkflows } from '../deliveries/workflows';
import { createTenantStore } from '../db/tenants';
import { startSubmissionServer, type RunningSubmission } from '../submission/server';
import { createWebhookStore } from '../db/webhooks';
import { clientInterceptors } from '../telemetry/interceptors';
import { createWebhookService } from '../webhooks/service';
import { createWebhookDispatch, webhookTaskQueue } from '../webhooks/workflows';
import { createSuppressionService } from '../suppressions/service';
import { createCampaignService } from '../campaigns/service';
import { createCampaignWorkflows } from '../campaigns/workflows';
import { createApp } from './app';

export interface RunningApi {
  url: string;
  /** The SMTP submission listener, when SMTP_SUBMISSION_PORT is set. */
  submission?: Pick<RunningSubmission, 'port' | 'tlsPort'> & { starttls: boolean };
  stop(): Promise<void>;
}

/**
 * The intake: the HTTP API and, when configured, the SMTP submission listener, sharing one
 * Temporal client, one sql pool and one delivery service; all closed on stop. SMTP submission
 * lives here because it is an intake like the API (keys, tenants, the accept path), scales with
 * it and is reached where the API is; workers take no connections from clients.
 *
 * `temporal` is the server's address, or (`npm start`) the connection of the email worker of this
 * process: then every delivery is started eagerly, its first workflow task handed straight back
 * to that worker, and the connection is the worker's to close.
 */
export async function startApiServer(
  config: Config,
  temporal: string | NativeConnection,
  logger: Logger,
  metrics: Metrics,
): Promise<RunningApi> {
  const sql = createSql(config.databaseUrl, config.databasePoolMax);
  const shared = typeof temporal !== 'string';
  const connection = shared ? temporal : await Connection.connect({ address: temporal });
  const closeConnection = () => (shared ? Promise.resolve() : connection.close());
  const client = new Client({ connection, namespace: config.temporal.namespace, interceptors: clientInterceptors });
  const deliveries = createDeliveryService({
    sql,
    workflows: createDeliveryWorkflows(client, config.temporal.taskQueue, { eagerStart: shared }),
    policy: config.policy,
    messageIdDomain: config.messageIdDomain,
    logger,
    metrics,
  });
  const tenants = createTenantStore(sql);
  const app = createApp({
    deliveries,
    webhooks: createWebhookService({
      store: createWebhookStore(sql),
      dispatch: createWebhookDispatch(client, webhookTaskQueue(config.temporal.taskQueue), config.webhooks.policy),
      targets: config.webhooks.targets,
      maxEndpointsPerTenant: config.webhooks.maxEndpointsPerTenant,
      logger,
    }),
    suppressions: createSuppressionService({ sql }),
    campaigns: createCampaignService({
      sql,
      deliveries,
      workflows: createCampaignWorkflows(client, config.temporal.taskQueue),
      messageIdDomain: config.messageIdDomain,
      settings: config.campaigns,
      logger,
    }),
    campaignSettings: config.campaigns,
    tenants,
    readiness: async () => {
      const [postgres, temporal] = await Promise.all([
        sql`select 1`.then(
          () => true,
          () => false,
        ),
        connection.workflowService.getSystemInfo({}).then(
          () => true,
          () => false,
        ),
      ]);
      return { postgres, temporal };
    },
    maxMessageBytes: config.maxMessageBytes,
    unsubscribeSecret: config.unsubscribe?.secret,
    maxConcurrentLargeRequests: config.maxConcurrentLargeRequests,
    logger,
    metrics,
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: config.http.port, hostname: config.http.host }, () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;
  const host = config.http.host === '0.0.0.0' ? '127.0.0.1' : config.http.host;
  const { submission: smtp } = config;
  let submission: RunningSubmission | undefined;
  if (smtp.port !== undefined) {
    submission = await startSubmissionServer(
      { deliveries, tenants, logger },
      {
        ...smtp,
        port: smtp.port,
        host: config.http.host,
        tls: smtp.tls ? { cert: readFileSync(smtp.tls.certFile), key: readFileSync(smtp.tls.keyFile) } : undefined,
        messageIdDomain: config.messageIdDomain,
      },
    ).catch(async (err) => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeConnection();
      await sql.end({ timeout: 5 });
      throw err;
    });
  }
  return {
    url: `http://${host}:${port}`,
    submission: submission && { port: submission.port, tlsPort: submission.tlsPort, starttls: smtp.tls !== undefined },
    async stop() {
      await submission?.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeConnection();
      await sql.end({ timeout: 5 });
    },
  };
}
