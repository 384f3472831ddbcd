import { createRoute, z } from '@hono/zod-openapi';
import type { ApiDeps } from '../deps';
import { createRouter } from '../router';
import { json } from '../schemas/responses';

// Liveness and readiness, for load balancers and orchestrators (no key needed).

const Ready = z.object({ status: z.enum(['ready', 'not ready']), postgres: z.boolean(), temporal: z.boolean() }).openapi('Readiness');

export function healthRoutes({ readiness }: ApiDeps) {
  const live = createRoute({
    method: 'get',
    path: '/healthz',
    summary: 'The API process is up',
    responses: { 200: json(z.object({ status: z.literal('ok') }), 'Up') },
  });
  const ready = createRoute({
    method: 'get',
    path: '/readyz',
    summary: 'PostgreSQL and Temporal are reachable',
    responses: { 200: json(Ready, 'Ready'), 503: json(Ready, 'Not ready: which of the two cannot be reached') },
  });
  return createRouter()
    .openapi(live, (c) => c.json({ status: 'ok' as const }, 200))
    .openapi(ready, async (c) => {
      const { postgres, temporal } = await readiness();
      return postgres && temporal
        ? c.json({ status: 'ready' as const, postgres, temporal }, 200)
        : c.json({ status: 'not ready' as const, postgres, temporal }, 503);
    });
}
