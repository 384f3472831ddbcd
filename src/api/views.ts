import type { EmailStore } from '../db/email-store';

type Found = NonNullable<Awaited<ReturnType<EmailStore['findById']>>>;
type Row = Record<string, any>;

const iso = (d: Date | null | undefined) => (d ? new Date(d).toISOString() : null);

/** The public JSON shape of one email (GET /v1/emails/:id). */
export function toEmailView({ email, recipients, attempts }: Found) {
  const content = email.content as Row;
  return {
    id: email.id,
    tenantId: email.tenant_id,
    status: email.status,
    workflowId: email.workflow_id,
    messageId: email.message_id,
    from: content.from ?? { address: email.from_address },
    subject: email.subject,
    sendAt: iso(email.send_at),
    metadata: email.metadata,
    lastError: email.last_error,
    statusReason: email.status_reason,
    statusChangedBy: email.status_changed_by,
    createdAt: iso(email.created_at),
    updatedAt: iso(email.updated_at),
    sentAt: iso(email.sent_at),
    recipients: (recipients as Row[]).map((r) => ({
      address: r.address,
      kind: r.kind,
      status: r.status,
      smtpCode: r.smtp_code,
      smtpResponse: r.smtp_response,
      updatedAt: iso(r.updated_at),
    })),
    attempts: (attempts as Row[]).map((a) => ({
      attempt: a.attempt,
      startedAt: iso(a.started_at),
      finishedAt: iso(a.finished_at),
      outcome: a.outcome,
      smtpCode: a.smtp_code,
      smtpResponse: a.smtp_response,
      errorCode: a.error_code,
      errorMessage: a.error_message,
      accepted: a.accepted,
      rejected: a.rejected,
    })),
  };
}

/** One row of GET /v1/emails. */
export function toListItemView(e: Row) {
  return {
    id: e.id,
    status: e.status,
    workflowId: e.workflow_id,
    messageId: e.message_id,
    from: e.from_address,
    recipients: e.recipients,
    subject: e.subject,
    tags: e.tags,
    sendAt: iso(e.send_at),
    lastError: e.last_error,
    createdAt: iso(e.created_at),
    updatedAt: iso(e.updated_at),
    sentAt: iso(e.sent_at),
  };
}

/** One entry of GET /v1/emails/:id/events. */
export function toEventView(e: Row) {
  return { id: e.id, type: e.type, at: iso(e.at), actor: e.actor, data: e.data };
}
