import type { Logger } from '../logger';
import type { DeliveryService } from '../deliveries/service';
import type { CampaignService } from '../campaigns/service';
import type { CampaignSettings } from '../campaigns/settings';
import type { SuppressionService } from '../suppressions/service';
import type { TenantStore } from '../db/tenants';
import type { KeyScope, Tenant } from '../shared';
import type { Metrics } from '../metrics';
import type { WebhookService } from '../webhooks/service';

/** What the HTTP API needs, created once at boot by its entry point. */
export interface ApiDeps {
  deliveries: DeliveryService;
  campaigns: CampaignService;
  /** The bounds of a campaign upload (checked by the route before the service reads it). */
  campaignSettings: Pick<CampaignSettings, 'uploadMaxBytes'>;
  webhooks: WebhookService;
  suppressions: SuppressionService;
  tenants: Pick<TenantStore, 'authenticate'>;
  /** Whether PostgreSQL and the Temporal server can be reached (for /readyz). */
  readiness: () => Promise<{ postgres: boolean; temporal: boolean }>;
  maxMessageBytes: number;
  /** The key of campaign emails' one-click unsubscribe links (UNSUBSCRIBE_SECRET); unset: the links are off. */
  unsubscribeSecret?: string;
  /** Large request bodies (over 1 MiB) handled at once; more wait their turn (default 4). */
  maxConcurrentLargeRequests?: number;
  logger: Logger;
  /** Request counts and durations (RED) go here. */
  metrics: Metrics;
}

/** What the authentication middleware leaves for the handlers: the caller's tenant and scopes. */
export type ApiEnv = { Variables: { tenant: Tenant; scopes: KeyScope[]; requestId: string } };
