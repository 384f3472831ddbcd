import { Hono } from 'hono';
import type { ApiDeps, ApiEnv } from '../app';

export function healthRoutes({ sql, temporalReady }: ApiDeps) {
  return new Hono<ApiEnv>()
    .get('/healthz', (c) => c.json({ status: 'ok' }))
    .get('/readyz', async (c) => {
      const [postgres, temporal] = await Promise.all([
        sql`select 1`.then(() => true, () => false),
        temporalReady().catch(() => false),
      ]);
      const ready = postgres && temporal;
      return c.json({ status: ready ? 'ready' : 'not ready', postgres, temporal }, ready ? 200 : 503);
    });
}
