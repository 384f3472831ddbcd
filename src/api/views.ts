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
