import { ApplicationFailure, log } from '@temporalio/activity';
import type { TenantStore } from '../db/tenants';
import type { GatewayRef } from '../shared';
import type { TransportRegistry } from '../smtp/transports';

export const NO_GATEWAY = 'NoGateway';

export interface GatewayPlanDeps {
  tenants: Pick<TenantStore, 'gateways'>;
  transports: Pick<TransportRegistry, 'gateways'>;
}

/**
 * The gateways of a tenant's email, in the order to try them: the tenant's own list (names this
 * worker does not know are left out, and logged), else every configured gateway by priority.
 * Only names and whether each is rate-limited go to the workflow.
 */
export function createGatewayPlan({ tenants, transports }: GatewayPlanDeps) {
  return async function planGateways(tenantId: string): Promise<GatewayRef[]> {
    const own = (await tenants.gateways(tenantId)) ?? [];
    const configured = transports.gateways;
    const chosen = own.length === 0 ? configured : own.flatMap((name) => configured.filter((g) => g.name === name));
    if (own.length > chosen.length) {
      log.warn('tenant names gateways this worker does not have', {
        tenantId,
        unknown: own.filter((n) => !configured.some((g) => g.name === n)),
      });
    }
    if (chosen.length === 0) {
      // The operator's configuration and the tenant's list disagree: retried until fixed, the
      // email waits rather than going out through a gateway the tenant was not given.
      throw ApplicationFailure.create({ type: NO_GATEWAY, message: `tenant ${tenantId} names no configured gateway (${own.join(', ')})` });
    }
    return chosen.map((g) => ({ name: g.name, rateLimited: g.ratePerSecond !== undefined }));
  };
}
