import { createHash } from 'node:crypto';
import type { Sql } from './sql';
import type { EmailStatus } from '../shared';
import type { Address, EmailContent } from '../smtp/message';

// Reads and writes of the API: accepting an email and showing it.

export interface NewEmail {
  id: string;
  tenantId: string;
  workflowId: string;
  messageId: string;
  from: Address;
  subject: string;
  content: EmailContent;
  attachments: Array<{ filename: string; contentType: string; content: Buffer }>;
  metadata: Record<string, unknown>;
  tags: string[];
  sendAt?: string;
  idempotencyKey?: string;
  requestHash: string;
}

export interface StoredEmailRef {
  id: string;
  status: EmailStatus;
  workflowId: string;
  requestHash: string | null;
  sendAt: string | null;
  created: boolean;
}

export function requestHash(body: unknown): string {
  return createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase();
}

export function createEmailStore(sql: Sql) {
  return {
    /**
     * Stores a new email with its recipients and attachments in one transaction. With an
     * idempotency key already used by this tenant, stores nothing and returns the existing one.
     */
    async insert(email: NewEmail): Promise<StoredEmailRef> {
      return sql.begin(async (tx) => {
        const status: EmailStatus = email.sendAt ? 'scheduled' : 'queued';
        const inserted = await tx<Array<{ id: string }>>`
          insert into emails (id, tenant_id, status, workflow_id, message_id, idempotency_key, request_hash,
            from_address, subject, content, metadata, tags, send_at)
          values (${email.id}, ${email.tenantId}, ${status}, ${email.workflowId}, ${email.messageId},
            ${email.idempotencyKey ?? null}, ${email.requestHash}, ${email.from.address}, ${email.subject},
            ${tx.json({ ...email.content, from: email.from } as never)}, ${tx.json(email.metadata as never)},
            ${email.tags}, ${email.sendAt ?? null})
          on conflict (tenant_id, idempotency_key) do nothing
          returning id`;
        if (inserted.length === 0) {
          const [existing] = await tx<Array<{ id: string; status: EmailStatus; workflow_id: string; request_hash: string | null; send_at: Date | null }>>`
            select id, status, workflow_id, request_hash, send_at from emails
            where tenant_id = ${email.tenantId} and idempotency_key = ${email.idempotencyKey ?? null}`;
          return {
            id: existing.id,
            status: existing.status,
            workflowId: existing.workflow_id,
            requestHash: existing.request_hash,
            sendAt: existing.send_at?.toISOString() ?? null,
            created: false,
          };
        }
        const recipients = (['to', 'cc', 'bcc'] as const).flatMap((kind) =>
          email.content[kind].map((a) => ({ email_id: email.id, address: a.address, kind, domain: domainOf(a.address) })),
        );
        // The same address twice (to and cc, say) is one recipient: the first kind wins.
        const unique = [...new Map(recipients.map((r) => [r.address, r])).values()];
        await tx`insert into email_recipients ${tx(unique, 'email_id', 'address', 'kind', 'domain')}`;
        if (email.attachments.length > 0) {
          const rows = email.attachments.map((a, position) => ({
            email_id: email.id,
            position,
            filename: a.filename,
            content_type: a.contentType,
            content: a.content,
          }));
          await tx`insert into email_attachments ${tx(rows, 'email_id', 'position', 'filename', 'content_type', 'content')}`;
        }
        await tx`insert into email_events (email_id, type, actor, data)
          values (${email.id}, 'email.accepted', 'api', ${tx.json({ status, sendAt: email.sendAt ?? null } as never)})`;
        return { id: email.id, status, workflowId: email.workflowId, requestHash: email.requestHash, sendAt: email.sendAt ?? null, created: true };
      }) as Promise<StoredEmailRef>;
    },

    /** Removes an email whose workflow could not be started, so nothing half-accepted stays. */
    async remove(id: string): Promise<void> {
      await sql`delete from emails where id = ${id}`;
    },

    async findById(tenantId: string, id: string) {
      const [email] = await sql`
        select id, tenant_id, status, workflow_id, message_id, from_address, subject, content, metadata, tags,
          send_at, last_error, status_reason, status_changed_by, created_at, updated_at, sent_at
        from emails where tenant_id = ${tenantId} and id = ${id}`;
      if (!email) return undefined;
      const [recipients, attempts] = await Promise.all([
        sql`select address, kind, status, smtp_code, smtp_response, updated_at
            from email_recipients where email_id = ${id} order by kind, address`,
        sql`select attempt, started_at, finished_at, outcome, smtp_code, smtp_response, error_code, error_message, accepted, rejected
            from delivery_attempts where email_id = ${id} order by id`,
      ]);
      return { email, recipients, attempts };
    },

    /** The fields needed to steer an email's workflow. */
    async findRef(tenantId: string, id: string) {
      const [row] = await sql<Array<{ id: string; status: EmailStatus; workflow_id: string; tags: string[]; domains: string[] }>>`
        select e.id, e.status, e.workflow_id, e.tags,
          array(select distinct r.domain from email_recipients r where r.email_id = e.id order by 1) as domains
        from emails e where e.tenant_id = ${tenantId} and e.id = ${id}`;
      return row;
    },

    /** Newest first, keyset-paginated on (created_at, id); every filter is served by an index. */
    async list(tenantId: string, filter: EmailFilter, limit: number, cursor?: { createdAt: string; id: string }) {
      return sql`
        select e.id, e.status, e.workflow_id, e.message_id, e.from_address, e.subject, e.tags, e.send_at,
          e.created_at, e.updated_at, e.sent_at, e.last_error,
          array(select r.address from email_recipients r where r.email_id = e.id order by r.kind, r.address) as recipients
        from emails e
        where e.tenant_id = ${tenantId}
          ${filter.statuses?.length ? sql`and e.status = any(${filter.statuses})` : sql``}
          ${filter.recipient ? sql`and exists (select 1 from email_recipients r where r.email_id = e.id and r.address = ${filter.recipient})` : sql``}
          ${filter.domain ? sql`and exists (select 1 from email_recipients r where r.email_id = e.id and r.domain = ${filter.domain})` : sql``}
          ${filter.tag ? sql`and e.tags @> ${[filter.tag]}` : sql``}
          ${filter.createdAfter ? sql`and e.created_at > ${filter.createdAfter}` : sql``}
          ${filter.createdBefore ? sql`and e.created_at < ${filter.createdBefore}` : sql``}
          ${cursor ? sql`and (e.created_at, e.id) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)` : sql``}
        order by e.created_at desc, e.id desc
        limit ${limit}`;
    },

    async events(id: string) {
      return sql`select id::int as id, type, at, actor, data from email_events where email_id = ${id} order by id`;
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
        await tx`update email_recipients set status = 'pending', updated_at = now()
          where email_id = ${id} and status in ('rejected', 'deferred')`;
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

export interface EmailFilter {
  statuses?: EmailStatus[];
  recipient?: string;
  domain?: string;
  tag?: string;
  createdAfter?: string;
  createdBefore?: string;
}

export type EmailStore = ReturnType<typeof createEmailStore>;
