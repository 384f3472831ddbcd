import type { AttemptRow, EmailRow, EventRow, ListedEmailRow, RecipientRow } from '../db/emails';
import type { RecipientListRow } from '../db/campaigns';
import type { CampaignProgress } from '../campaigns/service';
import type { Accepted, BatchItem } from '../deliveries/service';
import type { DeliveryError } from '../deliveries/errors';
import { toProblem, type ProblemBody } from './problem';
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

export const isBatchItem = (item: BatchItem | ProblemBody): item is BatchItem => 'submission' in item;

/** The answer of POST /v1/emails/batch: per item, in order, its email or its problem. */
export function toBatchView(items: Array<BatchItem | ProblemBody>, results: Map<number, Accepted | DeliveryError>) {
  const data = items.map((item, index) => {
    const result: Accepted | DeliveryError | ProblemBody = isBatchItem(item) ? results.get(index)! : item;
    if (result instanceof Error || !('id' in result)) {
      const problem = result instanceof Error ? toProblem(result)!.body : (result as ProblemBody);
      return { index, status: problem.status, problem };
    }
    const accepted = result as Accepted;
    return {
      index,
      status: 202,
      id: accepted.id,
      emailStatus: accepted.status,
      workflowId: accepted.workflowId,
      replayed: accepted.replayed,
    };
  });
  const accepted = data.filter((d) => d.status === 202).length;
  return { accepted, rejected: data.length - accepted, data };
}

/** One campaign with its progress (GET /v1/campaigns/:id and every control's answer). */
export function toCampaignView({ campaign: c, counts, currentRatePerSecond, estimatedCompletionAt }: CampaignProgress) {
  return {
    id: c.id,
    status: c.status,
    workflowId: c.workflowId,
    from: c.fromName ? { address: c.fromAddress, name: c.fromName } : { address: c.fromAddress },
    subject: c.subject,
    text: c.textBody,
    html: c.htmlBody,
    variables: c.variables,
    tags: c.tags,
    sendAt: iso(c.sendAt),
    ratePerSecond: c.ratePerSecond,
    recipients: c.recipients,
    duplicates: c.duplicates,
    suppressed: c.suppressed,
    invalid: c.invalid,
    counts,
    currentRatePerSecond: Math.round(currentRatePerSecond * 10) / 10,
    estimatedCompletionAt: iso(estimatedCompletionAt),
    statusReason: c.statusReason,
    statusChangedBy: c.statusChangedBy,
    createdAt: iso(c.createdAt),
    startedAt: iso(c.startedAt),
    finishedAt: iso(c.finishedAt),
  };
}

/** One recipient of GET /v1/campaigns/:id/recipients. */
export function toCampaignRecipientView(r: RecipientListRow) {
  return { email: r.address, status: r.status, emailId: r.emailId, variables: r.variables, sentAt: iso(r.sentAt), lastError: r.lastError };
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
  return {
    address: s.address,
    domain: s.domain,
    source: s.source,
    reason: s.reason,
    smtpCode: s.smtpCode,
    emailId: s.emailId,
    createdAt: iso(s.createdAt),
  };
}
