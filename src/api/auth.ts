import type { MiddlewareHandler } from 'hono';
import type { TenantStore } from '../db/tenants';
import type { KeyScope } from '../shared';
import { hashKey, looksLikeKey } from '../tenants/keys';
import { addToLogContext } from '../telemetry/context';
import type { ApiEnv } from './deps';
import { Problem, rateLimitHeaders } from './problem';

// Every /v1 request carries `Authorization: Bearer <key>`. The key names its tenant; the tenant's
// request rate is taken in the same statement that finds the key, shared by every API instance.

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;
const CHALLENGE = { 'www-authenticate': 'Bearer realm="herald"' };

export function authenticate(tenants: Pick<TenantStore, 'authenticate'>): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const key = BEARER.exec(c.req.header('authorization') ?? '')?.[1];
    if (!key) throw new Problem(401, 'unauthorized', 'An API key is required', { detail: 'send Authorization: Bearer <key>' }, CHALLENGE);
    const auth = looksLikeKey(key) ? await tenants.authenticate(hashKey(key)) : undefined;
    if (!auth) throw new Problem(401, 'unauthorized', 'The API key is not valid', { detail: 'unknown or revoked key' }, CHALLENGE);
    const { tenant, rate } = auth;
    const windowS = Math.ceil(tenant.burst / tenant.ratePerSecond);
    const headers = rateLimitHeaders(
      'requests',
      tenant.burst,
      windowS,
      rate.remaining,
      rate.allowed ? Math.ceil((tenant.burst - rate.remaining) / tenant.ratePerSecond) : rate.retryAfterS,
    );
    if (!rate.allowed) {
      throw new Problem(
        429,
        'rate-limited',
        'Too many requests for this tenant',
        { detail: `${tenant.ratePerSecond} requests/s, bursts of ${tenant.burst}` },
        {
          ...headers,
          'retry-after': String(rate.retryAfterS),
        },
      );
    }
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    c.set('tenant', tenant);
    c.set('scopes', auth.scopes);
    addToLogContext({ tenantId: tenant.id });
    await next();
  };
}

/** Refuses a key without the scope a route needs (it is a valid key: 403, not 401). */
export function requireScope(scope: KeyScope): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (!c.get('scopes').includes(scope)) throw new Problem(403, 'missing-scope', `This key does not have the ${scope} scope`);
    await next();
  };
}
