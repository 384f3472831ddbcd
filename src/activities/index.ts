import type { Sql } from '../db/sql';
import { createAttemptStore } from '../db/attempts';
import { createLifecycleStore, type EmailChange } from '../db/lifecycle';
import { createTenantStore } from '../db/tenants';
import type { TransportRegistry } from '../smtp/transports';
import type { Breakers } from '../smtp/breaker';
import type { EmailStatus } from '../shared';
import { createGatewayPlan } from './gateway-plan';
import { createSendEmail } from './send-email';

export interface ActivityDeps {
  sql: Sql;
  /** The configured gateways' pooled transports, by name (URLs stay here, in the worker). */
  transports: TransportRegistry;
  /** One circuit breaker per gateway, shared by every attempt of this worker. */
  breakers: Breakers;
}

/** The side effects of a delivery. Dependencies are injected so tests can wire real or fake ones. */
export function createActivities({ sql, transports, breakers }: ActivityDeps) {
  const lifecycle = createLifecycleStore(sql);
  return {
    sendEmail: createSendEmail({ attempts: createAttemptStore(sql), lifecycle, transports, breakers }),
    planGateways: createGatewayPlan({ tenants: createTenantStore(sql), transports }),
    /** A control (reschedule, pause, ...) into the timeline, with the status it leaves. */
    async recordChange(emailId: string, change: EmailChange): Promise<void> {
      await lifecycle.recordChange(emailId, change);
    },
    /** Ends the email cancelled, unless the gateway already has it; returns its final status. */
    async cancelEmail(emailId: string, actor: string, reason: string): Promise<EmailStatus> {
      return lifecycle.cancel(emailId, actor, reason);
    },
    /** Ends an email whose delivery gave up or was refused; returns its final status. */
    async endDelivery(emailId: string, reason: string): Promise<EmailStatus> {
      return lifecycle.endDelivery(emailId, reason);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
