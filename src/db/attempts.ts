import type { Sql } from './sql';
import { toStorable, type Address, type EmailContent, type EmailMessage, type EmailStatus, type RecipientOutcome } from '../shared';

// The send path's reads and writes: the message to send, and each attempt's record. Every status
// change goes through the emails_status_transition trigger, so a wrong one fails here, loudly.

export interface SendableEmail extends EmailMessage {
  id: string;
  tenantId: string;
  status: EmailStatus;
  /** `suppressedBecause`: the address is on the tenant's suppression list, for that reason. */
  recipients: Array<{ address: string; status: RecipientOutcome; suppressedBecause?: string }>;
  /** When it was accepted, or its sendAt (metrics: accept-to-attempt and accept-to-sent). */
  dueAt: Date;
  /** An attempt was made before (this one is not the first). */
  attempted: boolean;
  /** The From domain's signing key, when the operator gave it one. Never logged, never returned. */
  dkim?: DkimSigningKey;
  /** A campaign's email: its subject and bodies are rendered from the campaign's templates at send time. */
  personalization?: { campaignId: string; variables: Record<string, string> };
}

/** nodemailer's DKIM options for one key. */
export interface DkimSigningKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

/** An address to put on the tenant's suppression list, from a gateway's refusal. */
export interface NewBounceSuppression {
  address: string;
  reason: string;
  smtpCode?: number;
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
      // One round trip: the recipients (with the suppression that holds each back) and the
      // attachments come as JSON arrays, and the DKIM key of the From domain joins the email.
      // JSON keys are not camelCased by the column transform, so they are written camelCased.
      // Attachment bytes travel as base64 (JSON has no bytes), without encode()'s line breaks.
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
          dkimSelector: string | null;
          dkimPrivateKey: string | null;
          dkimDomain: string | null;
          campaignId: string | null;
          variables: Record<string, string> | null;
          recipients: Array<{ address: string; status: RecipientOutcome; suppressedBecause: string | null }>;
          attachments: Array<{ filename: string; contentType: string; content: string }>;
        }>
      >`
        select e.id, e.tenant_id, e.status, e.message_id, e.from_address, e.subject, e.content, m.mail_from, m.message,
          coalesce(e.send_at, e.created_at) as due_at,
          exists (select 1 from delivery_attempts a where a.email_id = e.id) as attempted,
          k.selector as dkim_selector, k.private_key as dkim_private_key, k.domain as dkim_domain,
          e.campaign_id, cr.variables,
          coalesce((
            select json_agg(json_build_object('address', r.address, 'status', r.status, 'suppressedBecause', s.reason) order by r.address)
            from email_recipients r
            left join suppressions s on s.tenant_id = e.tenant_id and s.address = r.address
            where r.email_id = e.id), '[]') as recipients,
          coalesce((
            select json_agg(json_build_object('filename', a.filename, 'contentType', a.content_type,
              'content', translate(encode(a.content, 'base64'), chr(10), '')) order by a.position)
            from email_attachments a where a.email_id = e.id), '[]') as attachments
        from emails e
        left join email_raw_messages m on m.email_id = e.id
        left join campaign_recipients cr on cr.campaign_id = e.campaign_id and cr.id = e.campaign_recipient_id
        left join dkim_keys k on k.tenant_id = e.tenant_id and k.domain = lower(substring(e.from_address from '[^@]*$'))
        where e.id = ${emailId}`;
      if (!email) return undefined;
      return {
        id: email.id,
        tenantId: email.tenantId,
        status: email.status,
        messageId: email.messageId,
        from: email.content.from ?? { address: email.fromAddress },
        subject: email.subject,
        content: email.content,
        recipients: email.recipients.map((r) => ({
          address: r.address,
          status: r.status,
          ...(r.suppressedBecause !== null ? { suppressedBecause: r.suppressedBecause } : {}),
        })),
        attachments: email.attachments.map((a) => ({
          filename: a.filename,
          contentType: a.contentType,
          content: Buffer.from(a.content, 'base64'),
        })),
        ...(email.message && email.mailFrom !== null ? { submitted: { message: email.message, mailFrom: email.mailFrom } } : {}),
        dueAt: email.dueAt,
        attempted: email.attempted,
        ...(email.dkimPrivateKey && email.dkimSelector && email.dkimDomain
          ? { dkim: { domainName: email.dkimDomain, keySelector: email.dkimSelector, privateKey: email.dkimPrivateKey } }
          : {}),
        ...(email.campaignId ? { personalization: { campaignId: email.campaignId, variables: email.variables ?? {} } } : {}),
      };
    },

    /**
     * Marks the email `sending` and opens an attempt row. An earlier attempt of the same email
     * still open means a worker died mid-send: it is closed as `uncertain`. One statement
     * (atomic on its own) instead of a transaction of three: every part sees the same snapshot,
     * so the new attempt's number counts the attempts as they were before it.
     */
    async beginAttempt(emailId: string, gateway: string): Promise<string> {
      const [row] = await sql<Array<{ id: string }>>`
        with interrupted as (
          update delivery_attempts set finished_at = now(), outcome = 'uncertain', error_message = ${INTERRUPTED_ATTEMPT}
          where email_id = ${emailId} and finished_at is null),
        marked as (update emails set status = 'sending' where id = ${emailId})
        insert into delivery_attempts (email_id, attempt, gateway)
        select ${emailId}, count(*) + 1, ${gateway} from delivery_attempts where email_id = ${emailId}
        returning id::text as id`;
      return row.id;
    },

    /**
     * Records what one attempt produced, all in one statement: the attempt, each recipient's
     * outcome, the email status and an event (and the bounces to suppress). This is the first
     * thing done after the gateway answers, so a retried attempt finds it before sending again.
     * Returns false when the attempt was late (a later attempt had closed it, or the email had
     * ended meanwhile) and so left the status alone.
     */
    async recordAttempt(args: {
      emailId: string;
      attemptId: string;
      result: AttemptResult;
      recipients: RecipientUpdate[];
      status: EmailStatus;
      lastError?: string;
      /** Recipients the gateway refused for good as unknown mailboxes: suppressed from now on. */
      suppress?: { tenantId: string; addresses: NewBounceSuppression[] };
    }): Promise<boolean> {
      const { emailId, attemptId, status } = args;
      // Replies and errors come from the gateway: a NUL or a broken surrogate in them must not
      // make the record of what the gateway did fail (and the attempt be sent again).
      const text = (s: string | undefined) => (s === undefined ? undefined : toStorable(s));
      const result = { ...args.result, smtpResponse: text(args.result.smtpResponse), errorMessage: text(args.result.errorMessage) };
      const recipients = args.recipients.map((r) => [r.address, r.status, String(r.smtpCode ?? ''), text(r.smtpResponse) ?? '']);
      const lastError = text(args.lastError);
      const suppressions = (args.suppress?.addresses ?? []).map((a) => ({
        tenantId: args.suppress!.tenantId,
        address: a.address,
        source: 'bounce',
        reason: text(a.reason),
        smtpCode: a.smtpCode ?? null,
        emailId,
      }));
      const final = status === 'sent' || status === 'failed';
      // One statement with data-modifying CTEs instead of a transaction of up to six: atomic all
      // the same, one round trip. `att` is empty when a later attempt already closed this one as
      // uncertain: that record stays. `em` is empty then, or when the email ended meanwhile (a
      // give-up or a cancel that raced this attempt): the status is left to the attempt now under
      // way, or the end is kept. Either way the attempt is late: its event says so, and what it
      // learnt is still recorded (recipients, suppressions, timeline). Every CTE runs whether
      // read or not; the final event reads `ev` so that it comes after the attempt's event in
      // the timeline.
      const [row] = await sql<Array<{ applied: boolean }>>`
        with ${
          suppressions.length > 0
            ? sql`sup as (
          insert into suppressions ${sql(suppressions, 'tenantId', 'address', 'source', 'reason', 'smtpCode', 'emailId')}
          on conflict (tenant_id, address) do nothing),`
            : sql``
        }
        att as (
          update delivery_attempts set finished_at = now(), outcome = ${result.outcome},
            smtp_code = ${result.smtpCode ?? null}, smtp_response = ${result.smtpResponse ?? null},
            error_code = ${result.errorCode ?? null}, error_message = ${result.errorMessage ?? null},
            accepted = ${result.accepted}, rejected = ${result.rejected}
          where id = ${attemptId} and finished_at is null
          returning id),
        ${
          recipients.length > 0
            ? sql`rcpt as (
          update email_recipients as r set status = u.status, smtp_code = nullif(u.smtp_code, '')::int,
            smtp_response = nullif(u.smtp_response, ''), updated_at = now()
          from (values ${sql(recipients)}) as u (address, status, smtp_code, smtp_response)
          where r.email_id = ${emailId} and r.address = u.address),`
            : sql``
        }
        em as (
          update emails set status = ${status}, last_error = ${lastError ?? null},
            sent_at = case when ${status} = 'sent' then now() else sent_at end
          where id = ${emailId} and status not in ('sent', 'failed', 'cancelled') and exists (select 1 from att)
          returning id),
        ev as (
          insert into email_events (email_id, type, actor, data)
          select ${emailId}, case when exists (select 1 from em) then ${'attempt.' + result.outcome} else 'attempt.late' end, 'worker', ${sql.json(
            {
              attemptId,
              outcome: result.outcome,
              status,
              smtpCode: result.smtpCode ?? null,
              errorCode: result.errorCode ?? null,
              accepted: result.accepted,
              rejected: result.rejected,
            },
          )}
          returning id)
        ${
          final
            ? // The final status gets its own timeline entry.
              sql`, fin as (
          insert into email_events (email_id, type, actor, data)
          select ${emailId}, ${'email.' + status}, 'worker', ${sql.json({ attemptId, reason: lastError ?? null })}
          from ev where exists (select 1 from em))`
            : sql``
        }
        select exists (select 1 from em) as applied`;
      return row.applied;
    },
    /**
     * Records the recipients found on the suppression list (never sent to), and, when none is
     * left to send to, the email's final status with the reason, all in one transaction.
     */
    async recordSuppressed(args: {
      emailId: string;
      recipients: Array<{ address: string; reason: string }>;
      finalStatus?: 'sent' | 'failed';
      reason: string;
    }): Promise<void> {
      const { emailId, finalStatus, reason } = args;
      await sql.begin(async (tx) => {
        const rows = args.recipients.map((r) => [r.address, `suppressed: ${r.reason}`]);
        await tx`
          update email_recipients as r set status = 'suppressed', smtp_code = null, smtp_response = u.reason, updated_at = now()
          from (values ${tx(rows)}) as u (address, reason)
          where r.email_id = ${emailId} and r.address = u.address`;
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, 'recipients.suppressed', 'worker', ${tx.json({ addresses: args.recipients.map((r) => r.address) })})`;
        if (finalStatus) {
          await tx`update emails set status = ${finalStatus}, last_error = ${reason}, status_reason = ${reason},
              sent_at = case when ${finalStatus} = 'sent' then coalesce(sent_at, now()) else sent_at end
            where id = ${emailId} and status not in ('sent', 'failed', 'cancelled')`;
          await tx`insert into email_events (email_id, type, actor, data)
            values (${emailId}, ${'email.' + finalStatus}, 'worker', ${tx.json({ reason })})`;
        }
      });
    },
  };
}

export type AttemptStore = ReturnType<typeof createAttemptStore>;
