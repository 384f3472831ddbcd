import { Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Sql } from '../db/sql';
import type { Deliveries } from '../temporal/deliveries';
import type { DeliveryPolicy } from '../shared';
import type { Logger } from '../logger';
import { Problem } from './problem';
import { emailRoutes } from './routes/emails';
import { healthRoutes } from './routes/health';
import { emailActionRoutes } from './routes/email-actions';

export interface ApiDeps {
  sql: Sql;
  deliveries: Deliveries;
  /** Answers whether the Temporal server can be reached (for /readyz). */
  temporalReady: () => Promise<boolean>;
  policy: DeliveryPolicy;
  messageIdDomain: string;
  maxMessageBytes: number;
  logger: Logger;
}

export type ApiEnv = { Variables: { tenantId: string } };

export const DEFAULT_TENANT = 'default';

export function createApp(deps: ApiDeps) {
  const app = new Hono<ApiEnv>();
  app.use('/v1/*', async (c, next) => {
    // One tenant until API keys arrive; every query is already scoped by it.
    c.set('tenantId', DEFAULT_TENANT);
    await next();
  });
  app.route('/', healthRoutes(deps));
  app.route('/v1/emails', emailRoutes(deps));
  app.route('/v1/emails', emailActionRoutes(deps));

  app.notFound(() => new Problem(404, 'not-found', 'No such resource').toResponse());
  app.onError((err, c) => {
    if (err instanceof Problem) return err.toResponse();
    if (err instanceof HTTPException) {
      return new Problem(err.status, 'http-error', err.message || 'Request failed').toResponse();
    }
    deps.logger.error({ err, path: c.req.path }, 'unhandled error');
    return new Problem(500, 'internal-error', 'Internal server error').toResponse();
  });
  return app;
}
