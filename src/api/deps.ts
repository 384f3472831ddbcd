import type { Logger } from '../logger';
import type { DeliveryService } from '../deliveries/service';
import type { SuppressionService } from '../suppressions/service';
import type { TenantStore } from '../db/tenants';
import type { KeyScope, Tenant } from '../shared';

/** What the HTTP API needs, created once at boot by its entry point. */
export interface ApiDeps {
  deliveries: DeliveryService;
  suppressions: SuppressionService;
  tenants: Pick<TenantStore, 'authenticate'>;
  /** Whether PostgreSQL and the Temporal server can be reached (for /readyz). */
  readiness: () => Promise<{ postgres: boolean; temporal: boolean }>;
  maxMessageBytes: number;
  logger: Logger;
}

/** What the authentication middleware leaves for the handlers: the caller's tenant and scopes. */
export type ApiEnv = { Variables: { tenant: Tenant; scopes: KeyScope[] } };
