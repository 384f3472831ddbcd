import { ApplicationFailure } from '@temporalio/activity';
import type { Sql } from '../db/sql';
import { createAttemptStore } from '../db/attempts';
import { createCampaignStore } from '../db/campaigns';
import { createLifecycleStore, type EmailChange } from '../db/lifecycle';
import { createPersonalizer, createTemplateCache } from '../campaigns/render';
import { RenderError } from '../campaigns/template';
import type { TransportRegistry } from '../smtp/transports';
import { EMAIL_NOT_SENDABLE, type EmailStatus } from '../shared';
import { createSendEmail } from './send-email';

export interface ActivityDeps {
  sql: Sql;
  transports: TransportRegistry;
  /** SMTP gateway URL, e.g. smtp://127.0.0.1:2525 */
  gatewayUrl: string;
}

/** The side effects of a delivery. Dependencies are injected so tests can wire real or fake ones. */
export function createActivities({ sql, transports, gatewayUrl }: ActivityDeps) {
  const lifecycle = createLifecycleStore(sql);
  const campaigns = createCampaignStore(sql);
  const personalizer = createPersonalizer(createTemplateCache((id) => campaigns.get(id).then((c) => c && { subject: c.subject, text: c.textBody, html: c.htmlBody })));
  // A campaign email whose templates cannot be rendered will not render at the next attempt either.
  const personalize: Parameters<typeof createSendEmail>[0]['personalize'] = (email) =>
    personalizer(email).catch((err) => {
      if (err instanceof RenderError) throw ApplicationFailure.create({ type: EMAIL_NOT_SENDABLE, message: err.message, nonRetryable: true });
      throw err;
    });
  return {
    sendEmail: createSendEmail({ attempts: createAttemptStore(sql), personalize, lifecycle, transports, gatewayUrl }),
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
