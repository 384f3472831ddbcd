import { createRouter } from './router';
import type { ApiDeps } from './deps';
import { Problem, toProblem } from './problem';
import { emailRoutes } from './routes/emails';
import { emailActionRoutes } from './routes/email-actions';
import { healthRoutes } from './routes/health';
import { suppressionRoutes } from './routes/suppressions';
import { authenticate } from './auth';

/** The HTTP API: one module per resource, one error shape. */
export function createApp(deps: ApiDeps) {
  const app = createRouter();
  app.use('/v1/*', authenticate(deps.tenants));
  app.route('/', healthRoutes(deps));
  app.route('/v1/emails', emailRoutes(deps));
  app.route('/v1/emails', emailActionRoutes(deps));
  app.route('/v1/suppressions', suppressionRoutes(deps));

  app.notFound(() => new Problem(404, 'not-found', 'No such resource').toResponse());
  app.onError((err, c) => {
    const problem = toProblem(err);
    if (problem) return problem.toResponse();
    deps.logger.error({ err, path: c.req.path }, 'unhandled error');
    return new Problem(500, 'internal-error', 'Internal server error').toResponse();
  });
  return app;
}
