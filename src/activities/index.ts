import { ApplicationFailure } from '@temporalio/activity';
import type { Sql } from '../db/sql';
import { createAttemptStore } from '../db/attempts';
import { createCampaignStore } from '../db/campaigns';
import { createPersonalizer, createTemplateCache } from '../campaigns/render';
import type { UnsubscribeLinks } from '../campaigns/unsubscribe';
import { RenderError } from '../campaigns/template';
import { isDataRefusal } from '../db/errors';
import { createLifecycleStore, type EmailChange, type OnEnded } from '../db/lifecycle';
import { createTenantStore } from '../db/tenants';
import { createMetrics, type Metrics } from '../metrics';
import type { TransportRegistry } from '../smtp/transports';
import type { Breakers } from '../smtp/breaker';
import { EMAIL_NOT_SENDABLE, STATUS_WRITE_REFUSED, toStorable, type EmailStatus } from '../shared';
import { createGatewayPlan } from './gateway-plan';
import { createSendEmail } from './send-email';

export interface ActivityDeps {
  sql: Sql;
  /** The configured gateways' pooled transports, by name (URLs stay here, in the worker). */
  transports: TransportRegistry;
  /** One circuit breaker per gateway, shared by every attempt of this worker. */
  breakers: Breakers;
  /** The process's metrics (a registry of their own when left out). */
  metrics?: Metrics;
  /** One-click unsubscribe links for campaign emails; absent: none. */
  unsubscribe?: UnsubscribeLinks;
}

/**
 * A status write is retried without end while PostgreSQL is away, so that an outage never loses
 * a change. A write PostgreSQL refuses for its data would get the same refusal forever: it fails
 * for good instead (non-retryable), and the workflow ends visibly rather than loop.
 */
async function statusWrite<T>(what: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (!isDataRefusal(err)) throw err;
    throw ApplicationFailure.create({
      type: STATUS_WRITE_REFUSED,
      message: toStorable(`PostgreSQL refused the ${what} (SQLSTATE ${err.code}): ${err.message}`),
      nonRetryable: true,
    });
  }
}

/** The gateway label of an email that ends outside an attempt (a cancel, a give-up). */
const NO_GATEWAY = 'none';

/** The side effects of a delivery. Dependencies are injected so tests can wire real or fake ones. */
export function createActivities({ sql, transports, breakers, metrics = createMetrics(), unsubscribe }: ActivityDeps) {
  const lifecycle = createLifecycleStore(sql);
  const onEnded: OnEnded = (e) => metrics.emailEnded(e.tenantId, NO_GATEWAY, e.status, e.dueAt);
  const campaigns = createCampaignStore(sql);
  const personalizer = createPersonalizer(
    createTemplateCache((id) => campaigns.get(id).then((c) => c && { subject: c.subject, text: c.textBody, html: c.htmlBody })),
    unsubscribe,
  );
  // A campaign email whose templates cannot be rendered will not render at the next attempt either.
  const personalize: Parameters<typeof createSendEmail>[0]['personalize'] = (email) =>
    personalizer(email).catch((err) => {
      if (err instanceof RenderError)
        throw ApplicationFailure.create({ type: EMAIL_NOT_SENDABLE, message: err.message, nonRetryable: true });
      throw err;
    });
  return {
    sendEmail: createSendEmail({ attempts: createAttemptStore(sql), personalize, lifecycle, transports, breakers, metrics }),
    planGateways: createGatewayPlan({ tenants: createTenantStore(sql), transports }),
    /** A control (reschedule, pause, ...) into the timeline, with the status it leaves. */
    async recordChange(emailId: string, change: EmailChange): Promise<void> {
      await statusWrite(`${change.event} write`, () => lifecycle.recordChange(emailId, change));
    },
    /** Ends the email cancelled, unless the gateway already has it; returns its final status. */
    async cancelEmail(emailId: string, actor: string, reason: string): Promise<EmailStatus> {
      return statusWrite('cancellation', () => lifecycle.cancel(emailId, actor, reason, onEnded));
    },
    /** Ends an email whose delivery gave up or was refused; returns its final status. */
    async endDelivery(emailId: string, reason: string): Promise<EmailStatus> {
      return statusWrite('final status', () => lifecycle.endDelivery(emailId, reason, onEnded));
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
