import type { Sql } from './sql';
import type { EmailStatus, RecipientOutcome } from '../shared';
import type { Address, Attachment, EmailContent } from '../smtp/message';

// Writes and reads of the send path. Every status change goes through the
// emails_status_transition trigger, so a wrong transition fails here, loudly.

export interface SendableEmail {
  id: string;
  tenantId: string;
  status: EmailStatus;
  messageId: string;
  from: Address;
  subject: string;
  content: EmailContent;
  recipients: Array<{ address: string; status: RecipientOutcome }>;
  attachments: Attachment[];
}

export interface AttemptResult {
  outcome: 'sent' | 'partial' | 'transient' | 'permanent' | 'uncertain' | 'skipped';
  smtpCode?: number;
  smtpResponse?: string;
  errorCode?: string;
  errorMessage?: string;
  accepted: string[];
  rejected: string[];
}

export interface EmailChange {
  /** The status it leaves the email in; absent for a timeline entry alone. */
  status?: EmailStatus;
  sendAt?: string;
  actor: string;
  event: string;
  data?: Record<string, unknown>;
}

export interface RecipientUpdate {
  address: string;
  status: RecipientOutcome;
  smtpCode?: number;
  smtpResponse?: string;
}

export function createDeliveryStore(sql: Sql) {
  return {
    async loadForSend(emailId: string): Promise<SendableEmail | undefined> {
      const [email] = await sql<
        Array<{ id: string; tenant_id: string; status: EmailStatus; message_id: string; from_address: string; subject: string; content: EmailContent & { from: Address } }>
      >`select id, tenant_id, status, message_id, from_address, subject, content from emails where id = ${emailId}`;
      if (!email) return undefined;
      const [recipients, attachments] = await Promise.all([
        sql<Array<{ address: string; status: RecipientOutcome }>>`
          select address, status from email_recipients where email_id = ${emailId} order by address`,
        sql<Array<{ filename: string; content_type: string; content: Buffer }>>`
          select filename, content_type, content from email_attachments where email_id = ${emailId} order by position`,
      ]);
      return {
        id: email.id,
        tenantId: email.tenant_id,
        status: email.status,
        messageId: email.message_id,
        from: email.content.from ?? { address: email.from_address },
        subject: email.subject,
        content: email.content,
        recipients: [...recipients],
        attachments: attachments.map((a) => ({ filename: a.filename, contentType: a.content_type, content: a.content })),
      };
    },

    /**
     * Marks the email `sending` and opens an attempt row. An earlier attempt of the same email
     * still open means a worker died mid-send: it is closed as `uncertain`.
     * Returns the new attempt id and how many open attempts were found.
     */
    async beginAttempt(emailId: string): Promise<{ attemptId: string; interrupted: number }> {
      return sql.begin(async (tx) => {
        const interrupted = await tx`
          update delivery_attempts set finished_at = now(), outcome = 'uncertain',
            error_message = 'attempt interrupted (worker stopped or timed out) before its outcome was recorded'
          where email_id = ${emailId} and finished_at is null
          returning id`;
        await tx`update emails set status = 'sending' where id = ${emailId}`;
        const [row] = await tx<Array<{ id: string }>>`
          insert into delivery_attempts (email_id, attempt)
          select ${emailId}, count(*) + 1 from delivery_attempts where email_id = ${emailId}
          returning id::text as id`;
        return { attemptId: row.id, interrupted: interrupted.length };
      }) as Promise<{ attemptId: string; interrupted: number }>;
    },

    /**
     * Records what one attempt produced, all in one transaction: the attempt, each recipient's
     * outcome, the email status and an event. This is the first thing done after the gateway
     * answers, so a retried attempt finds it before sending again.
     */
    async recordAttempt(args: {
      emailId: string;
      attemptId: string;
      result: AttemptResult;
      recipients: RecipientUpdate[];
      status: EmailStatus;
      lastError?: string;
    }): Promise<void> {
      const { emailId, attemptId, result, recipients, status } = args;
      await sql.begin(async (tx) => {
        const closed = await tx`
          update delivery_attempts set finished_at = now(), outcome = ${result.outcome},
            smtp_code = ${result.smtpCode ?? null}, smtp_response = ${result.smtpResponse ?? null},
            error_code = ${result.errorCode ?? null}, error_message = ${result.errorMessage ?? null},
            accepted = ${result.accepted}, rejected = ${result.rejected}
          where id = ${attemptId} and finished_at is null
          returning id`;
        // A later attempt already closed this one as uncertain: that record stays, and what
        // this attempt learnt late is written to the timeline (and to the recipients below).
        const eventType = closed.length === 0 ? 'attempt.late' : 'attempt.' + result.outcome;
        if (recipients.length > 0) {
          const rows = recipients.map((r) => ({
            address: r.address,
            status: r.status,
            smtp_code: r.smtpCode ?? null,
            smtp_response: r.smtpResponse ?? null,
          }));
          await tx`
            update email_recipients as r set status = u.status, smtp_code = nullif(u.smtp_code, '')::int,
              smtp_response = nullif(u.smtp_response, ''), updated_at = now()
            from (values ${tx(rows.map((x) => [x.address, x.status, String(x.smtp_code ?? ''), x.smtp_response ?? '']))})
              as u (address, status, smtp_code, smtp_response)
            where r.email_id = ${emailId} and r.address = u.address`;
        }
        // A late attempt leaves the status to the attempt now under way.
        if (closed.length > 0) {
          await tx`
            update emails set status = ${status}, last_error = ${args.lastError ?? null},
              sent_at = case when ${status} = 'sent' then now() else sent_at end
            where id = ${emailId}`;
        }
        await tx`
          insert into email_events (email_id, type, actor, data)
          values (${emailId}, ${eventType}, 'worker', ${tx.json({
            attemptId,
            outcome: result.outcome,
            status,
            smtpCode: result.smtpCode ?? null,
            errorCode: result.errorCode ?? null,
            accepted: result.accepted,
            rejected: result.rejected,
          })})`;
        if (closed.length > 0 && (status === 'sent' || status === 'failed')) {
          // The final status gets its own timeline entry.
          await tx`insert into email_events (email_id, type, actor, data)
            values (${emailId}, ${'email.' + status}, 'worker', ${tx.json({ attemptId, reason: args.lastError ?? null })})`;
        }
      });
    },

    /**
     * Gives the final status to an email whose recipients all have their outcome already (an
     * earlier, late attempt delivered it), unless it has one.
     */
    async settle(emailId: string, status: 'sent' | 'failed'): Promise<void> {
      await sql.begin(async (tx) => {
        const updated = await tx`update emails set status = ${status},
            sent_at = case when ${status} = 'sent' then coalesce(sent_at, now()) else sent_at end
          where id = ${emailId} and status not in ('sent', 'failed', 'cancelled') returning id`;
        if (updated.length > 0) {
          await tx`insert into email_events (email_id, type, actor, data)
            values (${emailId}, ${'email.' + status}, 'worker', ${tx.json({ reason: 'every recipient already had its outcome' })})`;
        }
      });
    },

    /**
     * Ends an email whose retries are exhausted or that failed permanently. Recipients still
     * pending become rejected; the email is `sent` if any recipient was accepted, else `failed`.
     */
    async finishUndelivered(emailId: string, reason: string): Promise<EmailStatus> {
      return sql.begin(async (tx) => {
        const [email] = await tx<Array<{ status: EmailStatus }>>`select status from emails where id = ${emailId} for update`;
        if (!email) return 'failed';
        if (['sent', 'failed', 'cancelled'].includes(email.status)) return email.status;
        await tx`
          update email_recipients set status = 'rejected', smtp_response = coalesce(smtp_response, ${reason}), updated_at = now()
          where email_id = ${emailId} and status in ('pending', 'deferred')`;
        const [{ accepted }] = await tx<Array<{ accepted: number }>>`
          select count(*)::int as accepted from email_recipients where email_id = ${emailId} and status = 'accepted'`;
        const status: EmailStatus = accepted > 0 ? 'sent' : 'failed';
        // A give-up by timeout says nothing of SMTP: keep the last attempt's error beside it.
        await tx`update emails set status = ${status}, status_reason = ${reason} || coalesce('; last error: ' || last_error, ''),
          sent_at = case when ${status} = 'sent' then now() else sent_at end where id = ${emailId}`;
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, ${'email.' + status}, 'workflow', ${tx.json({ reason })})`;
        return status;
      }) as Promise<EmailStatus>;
    },

    /** Cancels unless the email has already reached a terminal status; returns the status it ends in. */
    async cancel(emailId: string, actor: string, reason: string): Promise<EmailStatus> {
      return sql.begin(async (tx) => {
        const [email] = await tx<Array<{ status: EmailStatus }>>`select status from emails where id = ${emailId} for update`;
        if (!email) return 'cancelled';
        if (['sent', 'failed', 'cancelled'].includes(email.status)) return email.status;
        await tx`update emails set status = 'cancelled', status_reason = ${reason}, status_changed_by = ${actor} where id = ${emailId}`;
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, 'email.cancelled', ${actor}, ${tx.json({ reason })})`;
        return 'cancelled';
      }) as Promise<EmailStatus>;
    },

    async recordChange(emailId: string, change: EmailChange): Promise<void> {
      await sql.begin(async (tx) => {
        if (change.status || change.sendAt) {
          await tx`update emails set
              status = coalesce(${change.status ?? null}, status),
              send_at = coalesce(${change.sendAt ?? null}::timestamptz, send_at),
              status_changed_by = ${change.actor}
            where id = ${emailId}`;
        }
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, ${change.event}, ${change.actor}, ${tx.json({ ...change.data, status: change.status ?? null, sendAt: change.sendAt ?? null } as never)})`;
      });
    },
  };
}

export type DeliveryStore = ReturnType<typeof createDeliveryStore>;
