import type { Sql } from './sql';
import { isTerminal, outcomeWhenEnded, statusOfRecipients, toStorable, type EmailStatus, type RecipientOutcome } from '../shared';

// Status changes outside an attempt: controls, cancellation, the end of a delivery, re-drive.
// Each writes the status and its timeline entry in one transaction.

export interface EmailChange {
  /** The status it leaves the email in; absent for a timeline entry alone. */
  status?: EmailStatus;
  sendAt?: string;
  actor: string;
  event: string;
  data?: Record<string, unknown>;
}

/** An email that a write has just ended (for metrics), with when it was due (accepted, or its sendAt). */
export interface EmailEnded {
  tenantId: string;
  status: 'sent' | 'failed' | 'cancelled';
  dueAt: Date;
}
export type OnEnded = (ended: EmailEnded) => void;

/** The reason a control gave, kept with the status it leaves (a pause by Herald says why it holds). */
function reasonOf(change: EmailChange): string | null {
  const reason = change.data?.reason;
  return typeof reason === 'string' ? reason : null;
}

export function createLifecycleStore(sql: Sql) {
  return {
    /** A control (reschedule, pause, ...) into the timeline, with the status it leaves. */
    async recordChange(emailId: string, change: EmailChange): Promise<void> {
      await sql.begin(async (tx) => {
        if (change.status || change.sendAt) {
          await tx`update emails set
              status = coalesce(${change.status ?? null}, status),
              send_at = coalesce(${change.sendAt ?? null}::timestamptz, send_at),
              status_reason = case when ${change.status ?? null}::text is null then status_reason else ${reasonOf(change)} end,
              status_changed_by = ${change.actor}
            where id = ${emailId}`;
        }
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, ${change.event}, ${change.actor}, ${tx.json({ ...change.data, status: change.status ?? null, sendAt: change.sendAt ?? null } as never)})`;
      });
    },

    /**
     * Cancels unless the email has already reached a terminal status; returns the status it ends
     * in. `onEnded` hears of it when this call is the one that ended it.
     */
    async cancel(emailId: string, actor: string, reason: string, onEnded?: OnEnded): Promise<EmailStatus> {
      const [status, ended] = (await sql.begin(async (tx) => {
        const [email] = await tx<Array<{ status: EmailStatus; tenantId: string; dueAt: Date }>>`
          select status, tenant_id, coalesce(send_at, created_at) as due_at from emails where id = ${emailId} for update`;
        if (!email) return ['cancelled'];
        if (isTerminal(email.status)) return [email.status];
        await tx`update emails set status = 'cancelled', status_reason = ${reason}, status_changed_by = ${actor} where id = ${emailId}`;
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, 'email.cancelled', ${actor}, ${tx.json({ reason })})`;
        return ['cancelled', { tenantId: email.tenantId, status: 'cancelled', dueAt: email.dueAt }];
      })) as [EmailStatus, EmailEnded?];
      if (ended) onEnded?.(ended);
      return status;
    },

    /**
     * Ends a delivery whose retries are exhausted or that was refused for good: recipients not
     * sent to are refused, and the email gets the status their outcomes lead to (`sent` when some
     * were accepted before). Returns that status; an email already terminal keeps its own.
     */
    async endDelivery(emailId: string, why: string, onEnded?: OnEnded): Promise<EmailStatus> {
      // The reason quotes the gateway's last reply: made storable, so the end is always recorded.
      const reason = toStorable(why);
      const [status, ended] = (await sql.begin(async (tx) => {
        const [email] = await tx<Array<{ status: EmailStatus; tenantId: string; dueAt: Date }>>`
          select status, tenant_id, coalesce(send_at, created_at) as due_at from emails where id = ${emailId} for update`;
        if (!email) return ['failed'];
        if (isTerminal(email.status)) return [email.status];
        const outcomes = await tx<Array<{ status: RecipientOutcome }>>`select status from email_recipients where email_id = ${emailId}`;
        const status = statusOfRecipients(outcomes.map((r) => outcomeWhenEnded(r.status)));
        await tx`
          update email_recipients set status = 'rejected', smtp_response = coalesce(smtp_response, ${reason}), updated_at = now()
          where email_id = ${emailId} and status in ('pending', 'deferred')`;
        // A give-up by timeout says nothing of SMTP: keep the last attempt's error beside it.
        await tx`update emails set status = ${status}, status_reason = ${reason} || coalesce('; last error: ' || last_error, ''),
          sent_at = case when ${status} = 'sent' then now() else sent_at end where id = ${emailId}`;
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, ${'email.' + status}, 'workflow', ${tx.json({ reason })})`;
        return [status, { tenantId: email.tenantId, status, dueAt: email.dueAt }];
      })) as [EmailStatus, EmailEnded?];
      if (ended) onEnded?.(ended);
      return status;
    },

    /**
     * Gives its final status to an email whose recipients all have their outcome already (an
     * earlier, late attempt delivered it), unless it has one.
     */
    async closeWithKnownOutcome(emailId: string, status: 'sent' | 'failed', onEnded?: OnEnded): Promise<void> {
      const ended = (await sql.begin(async (tx) => {
        const [updated] = await tx<Array<{ tenantId: string; dueAt: Date }>>`update emails set status = ${status},
            sent_at = case when ${status} = 'sent' then coalesce(sent_at, now()) else sent_at end
          where id = ${emailId} and status not in ('sent', 'failed', 'cancelled') returning tenant_id, coalesce(send_at, created_at) as due_at`;
        if (!updated) return undefined;
        await tx`insert into email_events (email_id, type, actor, data)
          values (${emailId}, ${'email.' + status}, 'worker', ${tx.json({ reason: 'every recipient already had its outcome' })})`;
        return { tenantId: updated.tenantId, status, dueAt: updated.dueAt };
      })) as EmailEnded | undefined;
      if (ended) onEnded?.(ended);
    },

    /**
     * Puts a failed email back to `queued` for a new run of its workflow: recipients not
     * accepted become pending again. Returns false when the email is not failed (any more).
     */
    async prepareRedrive(id: string, actor: string): Promise<boolean> {
      return sql.begin(async (tx) => {
        const updated = await tx`update emails set status = 'queued', status_reason = null, last_error = null,
            status_changed_by = ${actor}
          where id = ${id} and status = 'failed' returning id`;
        if (updated.length === 0) return false;
        // Suppressed recipients too: they are checked against the list again when sent.
        await tx`update email_recipients set status = 'pending', updated_at = now()
          where email_id = ${id} and status in ('rejected', 'deferred', 'suppressed')`;
        await tx`insert into email_events (email_id, type, actor) values (${id}, 'email.redriven', ${actor})`;
        return true;
      }) as Promise<boolean>;
    },

    /** Undoes prepareRedrive when the new run could not be started. */
    async abandonRedrive(id: string, reason: string): Promise<void> {
      await sql`update emails set status = 'failed', status_reason = ${reason} where id = ${id} and status = 'queued'`;
    },
  };
}

export type LifecycleStore = ReturnType<typeof createLifecycleStore>;
