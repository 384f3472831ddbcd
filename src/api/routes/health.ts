import { Hono } from 'hono';
import type { ApiDeps, ApiEnv } from '../deps';

// Liveness and readiness, for load balancers and orchestrators.

export function healthRoutes({ readiness }: ApiDeps) {
  return new Hono<ApiEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const { postgres, temporal } = await readiness();
      const ready = postgres && temporal;
      return c.json({ status: ready ? 'ready' : 'not ready', postgres, temporal }, ready ? 200 : 503);
    });
}
