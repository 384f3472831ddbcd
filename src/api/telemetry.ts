import type { Context, MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import { matchedRoutes } from 'hono/route';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { withLogContext } from '../telemetry/context';
import type { ApiEnv } from './deps';

// Every request: an id (the caller's X-Request-Id when it is a sane token, else a new UUID),
// returned in the answer and carried by every log line of the request, into the workflow it
// starts and that workflow's activities; a RED sample under the route's pattern (never the raw
// path, which holds ids); one access log line.

export const REQUEST_ID_HEADER = 'X-Request-Id';
const QUIET_ROUTES = new Set(['/healthz', '/readyz']);

/** The pattern of the route that answered (/v1/emails/:id), or `unmatched`. */
export function routePattern(c: Context): string {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return handlers.at(-1)?.path ?? 'unmatched';
}

export function requestTelemetry(metrics: Metrics, logger: Logger): MiddlewareHandler<ApiEnv> {
  const assignId = requestId({ headerName: REQUEST_ID_HEADER, limitLength: 200 });
  return (c, next) =>
    assignId(c, async () => {
      const id = c.get('requestId');
      const started = performance.now();
      await withLogContext({ requestId: id }, async () => {
        await next();
        const seconds = (performance.now() - started) / 1000;
        const route = routePattern(c);
        const status = c.res.status;
        metrics.httpRequest(c.req.method, route, status, seconds);
        if (!c.res.headers.has(REQUEST_ID_HEADER)) c.res.headers.set(REQUEST_ID_HEADER, id);
        const line = { method: c.req.method, route, status, durationMs: Math.round(seconds * 10_000) / 10 };
        if (QUIET_ROUTES.has(route)) logger.debug(line, 'request');
        else logger.info(line, 'request');
      });
    });
}
