import { createRouter } from './router';
import type { ApiDeps } from './deps';
import { Problem, toProblem } from './problem';
import { emailRoutes } from './routes/emails';
import { emailActionRoutes } from './routes/email-actions';
import { emailBatchRoutes } from './routes/email-batch';
import { campaignRoutes } from './routes/campaigns';
import { healthRoutes } from './routes/health';
import { docsRoutes } from './routes/docs';
import { suppressionRoutes } from './routes/suppressions';
import { unsubscribeRoutes } from './routes/unsubscribe';
import { authenticate } from './auth';
import { webhookRoutes } from './routes/webhooks';
import { requestTelemetry } from './telemetry';
import { API_KEY_SCHEME } from './schemas/responses';
import { UNSUBSCRIBE_PATH } from '../campaigns/unsubscribe';

/** The OpenAPI document's header; its paths and schemas come from the routes' own zod schemas. */
const DOCUMENT = {
  openapi: '3.1.0',
  info: {
    title: 'Herald',
    version: '1.0.0',
    description:
      'Durable email delivery on Temporal. Every /v1 route needs an API key of your tenant (Authorization: Bearer hk_...). Every error is application/problem+json (RFC 9457); its type ends with the error code listed in the README.',
  },
};

/** The HTTP API: one module per resource, one error shape. */
export function createApp(deps: ApiDeps) {
  const app = createRouter();
  app.use('*', requestTelemetry(deps.metrics, deps.logger));
  app.use('/v1/*', authenticate(deps.tenants));
  app.route('/', healthRoutes(deps));
  app.route('/v1/emails', emailRoutes(deps));
  app.route('/v1/emails', emailBatchRoutes(deps));
  app.route('/v1/emails', emailActionRoutes(deps));
  app.route('/v1/campaigns', campaignRoutes(deps));
  app.route('/v1/webhooks', webhookRoutes(deps));
  app.route('/v1/suppressions', suppressionRoutes(deps));
  app.route(UNSUBSCRIBE_PATH, unsubscribeRoutes(deps));
  app.openAPIRegistry.registerComponent('securitySchemes', API_KEY_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key of the tenant (hk_<id>_<secret>), created with `herald key create`',
  });
  app.doc31('/openapi.json', DOCUMENT);
  app.route('/', docsRoutes());

  app.notFound(() => new Problem(404, 'not-found', 'No such resource').toResponse());
  app.onError((err, c) => {
    const problem = toProblem(err);
    if (problem) return problem.toResponse();
    deps.logger.error({ err, path: c.req.path }, 'unhandled error');
    return new Problem(500, 'internal-error', 'Internal server error').toResponse();
  });
  return app;
}
