import type { AttemptRow, EmailRow, EventRow, ListedEmailRow, RecipientRow } from '../db/emails';
import type { DeliveryRow, EndpointRow } from '../db/webhooks';
import type { SuppressionRow } from '../db/suppressions';

// The public JSON shapes, from the rows PostgreSQL gives back.

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

/** One email (GET /v1/emails/:id). */
export function toEmailView({ email, recipients, attempts }: { email: EmailRow; recipients: RecipientRow[]; attempts: AttemptRow[] }) {
  return {
    id: email.id,
    tenantId: email.tenantId,
    status: email.status,
    workflowId: email.workflowId,
    messageId: email.messageId,
    source: email.source,
    from: email.content.from ?? { address: email.fromAddress },
    subject: email.subject,
    sendAt: iso(email.sendAt),
    metadata: email.metadata,
    lastError: email.lastError,
    statusReason: email.statusReason,
    statusChangedBy: email.statusChangedBy,
    createdAt: iso(email.createdAt),
    updatedAt: iso(email.updatedAt),
    sentAt: iso(email.sentAt),
    recipients: recipients.map((r) => ({ ...r, updatedAt: iso(r.updatedAt) })),
    attempts: attempts.map((a) => ({ ...a, startedAt: iso(a.startedAt), finishedAt: iso(a.finishedAt) })),
  };
}

/** One row of GET /v1/emails. */
export function toListItemView(e: ListedEmailRow) {
  return {
    id: e.id,
    status: e.status,
    workflowId: e.workflowId,
    messageId: e.messageId,
    source: e.source,
    from: e.fromAddress,
    recipients: e.recipients,
    subject: e.subject,
    tags: e.tags,
    sendAt: iso(e.sendAt),
    lastError: e.lastError,
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
    sentAt: iso(e.sentAt),
  };
}

/** One entry of GET /v1/emails/:id/events. */
export function toEventView(e: EventRow) {
  return { id: e.id, type: e.type, at: iso(e.at), actor: e.actor, data: e.data };
}

/** One webhook endpoint (never its secret, which is shown once, at creation and rotation). */
export function toWebhookView(e: EndpointRow) {
  return {
    id: e.id,
    url: e.url,
    events: e.events,
    description: e.description,
    enabled: e.disabledAt === null,
    disabledAt: iso(e.disabledAt),
    disabledReason: e.disabledReason,
    failingSince: iso(e.failingSince),
    lastError: e.lastError,
    previousSecretExpiresAt: iso(e.previousSecretExpiresAt),
    createdAt: iso(e.createdAt),
    updatedAt: iso(e.updatedAt),
  };
}

/** One delivery of a webhook event to an endpoint. */
export function toWebhookDeliveryView(d: DeliveryRow) {
  return {
    id: d.id,
    webhookId: d.messageId,
    type: d.type,
    emailId: d.emailId,
    status: d.status,
    attempts: d.attempts,
    lastAttemptAt: iso(d.lastAttemptAt),
    responseStatus: d.responseStatus,
    responseBody: d.responseBody,
    lastError: d.lastError,
    deliveredAt: iso(d.deliveredAt),
    createdAt: iso(d.createdAt),
  };
}

/** One entry of the suppression list. */
export function toSuppressionView(s: SuppressionRow) {
  return { address: s.address, domain: s.domain, source: s.source, reason: s.reason, smtpCode: s.smtpCode, emailId: s.emailId, createdAt: iso(s.createdAt) };
}
