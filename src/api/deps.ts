import type { Logger } from '../logger';
import type { DeliveryService } from '../deliveries/service';

/** What the HTTP API needs, created once at boot by its entry point. */
export interface ApiDeps {
  deliveries: DeliveryService;
  /** Whether PostgreSQL and the Temporal server can be reached (for /readyz). */
  readiness: () => Promise<{ postgres: boolean; temporal: boolean }>;
  maxMessageBytes: number;
  logger: Logger;
}

export type ApiEnv = { Variables: { tenantId: string } };
