import type { DeliveryStore, EmailChange } from '../db/delivery-store';
import type { TransportRegistry } from '../smtp/transports';
import { createSendEmail } from './send-email';
import type { EmailStatus } from '../shared';

export interface ActivityDeps {
  store: DeliveryStore;
  transports: TransportRegistry;
  /** SMTP gateway URL, e.g. smtp://127.0.0.1:2525 */
  gatewayUrl: string;
}

/** All of Herald's side effects. Dependencies are injected so tests can wire real or fake ones. */
export function createActivities(deps: ActivityDeps) {
  return {
    sendEmail: createSendEmail(deps),
    async finishUndelivered(emailId: string, reason: string): Promise<EmailStatus> {
      return deps.store.finishUndelivered(emailId, reason);
    },
    async cancelEmail(emailId: string, actor: string, reason: string): Promise<EmailStatus> {
      return deps.store.cancel(emailId, actor, reason);
    },
    /** A control (reschedule, pause, ...) into the timeline, with the status it leaves. */
    async recordChange(emailId: string, change: EmailChange): Promise<void> {
      await deps.store.recordChange(emailId, change);
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
