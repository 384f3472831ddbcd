import type { Sql } from './sql';
import { toStorable, type Address, type Attachment, type EmailContent, type EmailMessage, type EmailStatus, type RecipientOutcome } from '../shared';

// The send path's reads and writes: the message to send, and each attempt's record. Every status
// change goes through the emails_status_transition trigger, so a wrong one fails here, loudly.

export interface SendableEmail extends EmailMessage {
  id: string;
  tenantId: string;
  status: EmailStatus;
  recipients: Array<{ address: string; status: RecipientOutcome }>;
  /** When it was accepted, or its sendAt (metrics: accept-to-attempt and accept-to-sent). */
  dueAt: Date;
  /** An attempt was made before (this one is not the first). */
  attempted: boolean;
}

export type AttemptOutcome = 'sent' | 'partial' | 'transient' | 'permanent' | 'uncertain';

export interface AttemptResult {
  outcome: AttemptOutcome;
  smtpCode?: number;
  smtpResponse?: string;
  errorCode?: string;
  errorMessage?: string;
  accepted: string[];
  rejected: string[];
}

export interface RecipientUpdate {
  address: string;
  status: RecipientOutcome;
  smtpCode?: number;
  smtpResponse?: string;
}

export const INTERRUPTED_ATTEMPT = 'attempt interrupted (worker stopped or timed out) before its outcome was recorded';

export function createAttemptStore(sql: Sql) {
  return {
    async loadForSend(emailId: string): Promise<SendableEmail | undefined> {
      const [email] = await sql<
        Array<{
          id: string;
          tenantId: string;
          status: EmailStatus;
          messageId: string;
          fromAddress: string;
          subject: string;
          content: EmailContent & { from?: Address };
          mailFrom: string | null;
          message: Buffer | null;
          dueAt: Date;
          attempted: boolean;
        }>
      >`
        select e.id, e.tenant_id, e.status, e.message_id, e.from_address, e.subject, e.content, m.mail_from, m.message,
          coalesce(e.send_at, e.created_at) as due_at,
          exists (select 1 from delivery_attempts a where a.email_id = e.id) as attempted
        from emails e left join email_raw_messages m on m.email_id = e.id
        where e.id = ${emailId}`;
      if (!email) return undefined;
      const [recipients, attachments] = await Promise.all([
        sql<Array<{ address: string; status: RecipientOutcome }>>`
          select address, status from email_recipients where email_id = ${emailId} order by address`,
        sql<Attachment[]>`
          select filename, content_type, content from email_attachments where email_id = ${emailId} order by position`,
      ]);
      return {
        id: email.id,
        tenantId: email.tenantId,
        status: email.status,
        messageId: email.messageId,
        from: email.content.from ?? { address: email.fromAddress },
        subject: email.subject,
        content: email.content,
        recipients: [...recipients],
        attachments: [...attachments],
        ...(email.message && email.mailFrom !== null ? { submitted: { message: email.message, mailFrom: email.mailFrom } } : {}),
        dueAt: email.dueAt,
        attempted: email.attempted,
      };
    },

    /**
     * Marks the email `sending` and opens an attempt row. An earlier attempt of the same email
     * still open means a worker died mid-send: it is closed as `uncertain`.
     */
    async beginAttempt(emailId: string): Promise<string> {
      return sql.begin(async (tx) => {
        await tx`
          update delivery_attempts set finished_at = now(), outcome = 'uncertain', error_message = ${INTERRUPTED_ATTEMPT}
          where email_id = ${emailId} and finished_at is null`;
        await tx`update emails set status = 'sending' where id = ${emailId}`;
        const [row] = await tx<Array<{ id: string }>>`
          insert into delivery_attempts (email_id, attempt)
          select ${emailId}, count(*) + 1 from delivery_attempts where email_id = ${emailId}
          returning id::text as id`;
        return row.id;
      }) as Promise<string>;
    },

    /**
     * Records what one attempt produced, all in one transaction: the attempt, each recipient's
     * outcome, the email status and an event. This is the first thing done after the gateway
     * answers, so a retried attempt finds it before sending again. Returns false when the attempt
     * was late (a later attempt had closed it) and so left the status alone.
     */
    async recordAttempt(args: {
      emailId: string;
      attemptId: string;
      result: AttemptResult;
      recipients: RecipientUpdate[];
      status: EmailStatus;
      lastError?: string;
    }): Promise<boolean> {
      const { emailId, attemptId, status } = args;
      // Replies and errors come from the gateway: a NUL or a broken surrogate in them must not
      // make the record of what the gateway did fail (and the attempt be sent again).
      const text = (s: string | undefined) => (s === undefined ? undefined : toStorable(s));
      const result = { ...args.result, smtpResponse: text(args.result.smtpResponse), errorMessage: text(args.result.errorMessage) };
      const recipients = args.recipients.map((r) => ({ ...r, smtpResponse: text(r.smtpResponse) }));
      const lastError = text(args.lastError);
      return sql.begin(async (tx) => {
        const closed = await tx`
          update delivery_attempts set finished_at = now(), outcome = ${result.outcome},
            smtp_code = ${result.smtpCode ?? null}, smtp_response = ${result.smtpResponse ?? null},
            error_code = ${result.errorCode ?? null}, error_message = ${result.errorMessage ?? null},
            accepted = ${result.accepted}, rejected = ${result.rejected}
          where id = ${attemptId} and finished_at is null
          returning id`;
        // A later attempt already closed this one as uncertain: that record stays, and what
        // this attempt learnt late is written to the timeline (and to the recipients below).
        let late = closed.length === 0;
        if (recipients.length > 0) {
          const rows = recipients.map((r) => [r.address, r.status, String(r.smtpCode ?? ''), r.smtpResponse ?? '']);
          await tx`
            update email_recipients as r set status = u.status, smtp_code = nullif(u.smtp_code, '')::int,
              smtp_response = nullif(u.smtp_response, ''), updated_at = now()
            from (values ${tx(rows)}) as u (address, status, smtp_code, smtp_response)
            where r.email_id = ${emailId} and r.address = u.address`;
        }
        // A late attempt leaves the status to the attempt now under way; an email that ended
        // meanwhile (a give-up or a cancel that raced this attempt) keeps its end, and what the
        // attempt learnt is still recorded above and in the timeline.
        if (!late) {
          const updated = await tx`
            update emails set status = ${status}, last_error = ${lastError ?? null},
              sent_at = case when ${status} = 'sent' then now() else sent_at end
            where id = ${emailId} and status not in ('sent', 'failed', 'cancelled')
            returning id`;
          late = updated.length === 0;
        }
        await tx`
          insert into email_events (email_id, type, actor, data)
          values (${emailId}, ${late ? 'attempt.late' : 'attempt.' + result.outcome}, 'worker', ${tx.json({
            attemptId,
            outcome: result.outcome,
            status,
            smtpCode: result.smtpCode ?? null,
            errorCode: result.errorCode ?? null,
            accepted: result.accepted,
            rejected: result.rejected,
          })})`;
        if (!late && (status === 'sent' || status === 'failed')) {
          // The final status gets its own timeline entry.
          await tx`insert into email_events (email_id, type, actor, data)
            values (${emailId}, ${'email.' + status}, 'worker', ${tx.json({ attemptId, reason: lastError ?? null })})`;
        }
        return !late;
      }) as Promise<boolean>;
    },
  };
}

export type AttemptStore = ReturnType<typeof createAttemptStore>;
