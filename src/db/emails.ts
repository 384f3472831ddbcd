import type { Sql } from './sql';
import {
  domainOf,
  initialStatus,
  type Address,
  type Attachment,
  type EmailContent,
  type EmailSource,
  type EmailStatus,
  type RecipientOutcome,
  type SubmittedMessage,
} from '../shared';

// The email aggregate as the accept path and the readers see it: storing a new email with its
// recipients and attachments, and reading it back.

export interface NewEmail {
  id: string;
  tenantId: string;
  workflowId: string;
  messageId: string;
  from: Address;
  subject: string;
  content: EmailContent;
  attachments: Attachment[];
  metadata: Record<string, unknown>;
  tags: string[];
  sendAt?: string;
  /** The API's when absent. */
  source?: EmailSource;
  /** A message submitted whole, stored as it is (email_raw_messages). */
  submitted?: SubmittedMessage;
  idempotencyKey?: string;
  requestHash: string;
  /** The tenant's daily quota: a new email past it is refused and nothing is stored. */
  dailyQuota: number;
}

/** Thrown (rolling the insert back) when the tenant has accepted its daily quota already. */
export class DailyQuotaExceeded extends Error {
  constructor(readonly quota: number) {
    super(`the daily quota of ${quota} emails is used up`);
  }
}

export interface StoredEmailRef {
  id: string;
  status: EmailStatus;
  workflowId: string;
  requestHash: string | null;
  sendAt: string | null;
  created: boolean;
}

/** The answer for an email this call stored. */
function createdRef(email: Pick<NewEmail, 'id' | 'workflowId' | 'requestHash' | 'sendAt'>, status: EmailStatus): StoredEmailRef {
  return {
    id: email.id,
    status,
    workflowId: email.workflowId,
    requestHash: email.requestHash,
    sendAt: email.sendAt ?? null,
    created: true,
  };
}

/** What is needed to steer an email's workflow. */
export interface EmailRef {
  id: string;
  tenantId: string;
  status: EmailStatus;
  workflowId: string;
  sendAt: Date | null;
  tags: string[];
  domains: string[];
}

export interface EmailFilter {
  statuses?: EmailStatus[];
  source?: EmailSource;
  recipient?: string;
  domain?: string;
  tag?: string;
  createdAfter?: string;
  createdBefore?: string;
}

export interface ListCursor {
  createdAt: string;
  id: string;
}

export interface EmailRow {
  id: string;
  tenantId: string;
  status: EmailStatus;
  workflowId: string;
  messageId: string;
  fromAddress: string;
  subject: string;
  content: EmailContent & { from?: Address };
  metadata: Record<string, unknown>;
  tags: string[];
  source: EmailSource;
  sendAt: Date | null;
  lastError: string | null;
  statusReason: string | null;
  statusChangedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  sentAt: Date | null;
}

export interface RecipientRow {
  address: string;
  kind: 'to' | 'cc' | 'bcc';
  status: RecipientOutcome;
  smtpCode: number | null;
  smtpResponse: string | null;
  updatedAt: Date;
}

export interface AttemptRow {
  attempt: number;
  /** The gateway's name (null for attempts recorded before gateways had names). */
  gateway: string | null;
  startedAt: Date;
  finishedAt: Date | null;
  outcome: string | null;
  smtpCode: number | null;
  smtpResponse: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  accepted: string[];
  rejected: string[];
}

export interface ListedEmailRow extends Omit<EmailRow, 'tenantId' | 'content' | 'metadata' | 'statusReason' | 'statusChangedBy'> {
  recipients: string[];
}

export interface EventRow {
  id: number;
  type: string;
  at: Date;
  actor: string | null;
  data: Record<string, unknown>;
}

const refColumns = (sql: Sql) => sql`
  e.id, e.tenant_id, e.status, e.workflow_id, e.send_at, e.tags,
  array(select distinct r.domain from email_recipients r where r.email_id = e.id order by 1) as domains`;

/** The filters of a listing, each served by an index. */
function filterClauses(sql: Sql, filter: EmailFilter) {
  return sql`
    ${filter.statuses?.length ? sql`and e.status = any(${filter.statuses})` : sql``}
    ${filter.source ? sql`and e.source = ${filter.source}` : sql``}
    ${filter.recipient ? sql`and exists (select 1 from email_recipients r where r.email_id = e.id and r.address = ${filter.recipient})` : sql``}
    ${filter.domain ? sql`and exists (select 1 from email_recipients r where r.email_id = e.id and r.domain = ${filter.domain})` : sql``}
    ${filter.tag ? sql`and e.tags @> ${[filter.tag]}` : sql``}
    ${filter.createdAfter ? sql`and e.created_at > ${filter.createdAfter}` : sql``}
    ${filter.createdBefore ? sql`and e.created_at < ${filter.createdBefore}` : sql``}`;
}

/** An email's recipients as rows: the same address twice (to and cc, say) is one recipient, the first kind wins. */
function recipientRows(email: Pick<NewEmail, 'id' | 'content'>) {
  const recipients = (['to', 'cc', 'bcc'] as const).flatMap((kind) =>
    email.content[kind].map((a) => ({ emailId: email.id, address: a.address, kind, domain: domainOf(a.address) })),
  );
  return [...new Map(recipients.map((r) => [r.address, r])).values()];
}

/** Splits rows so that one statement stays far below PostgreSQL's 65,535 parameters. */
function chunks<T>(rows: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}

/**
 * `insert` in one statement with data-modifying CTEs instead of a transaction of BEGIN + 4-5
 * + COMMIT (one round trip on the accept path): the daily quota first, and the email, its
 * recipients, its submitted message and its event only when the quota counted it; past the
 * quota nothing is stored. Only without an idempotency key: with one, a resend racing the
 * first request would count the quota for an email it then does not store (the transaction
 * counts after the key is known to be new). Attachments (bytes, several rows) keep the
 * transaction too. Values are cast: in `insert ... select` their types are not inferred
 * from the columns.
 */
async function insertInOneStatement(sql: Sql, email: NewEmail): Promise<StoredEmailRef> {
  const status = initialStatus(email.sendAt);
  const source = email.source ?? 'api';
  const recipients = recipientRows(email);
  const [row] = await sql<Array<{ inserted: boolean }>>`
    with counted as (
      insert into tenant_daily_usage (tenant_id, day, emails)
      select ${email.tenantId}, (now() at time zone 'utc')::date, 1 where ${email.dailyQuota} >= 1
      on conflict (tenant_id, day) do update set emails = tenant_daily_usage.emails + 1
        where tenant_daily_usage.emails < ${email.dailyQuota}
      returning emails),
    e as (
      insert into emails (id, tenant_id, status, workflow_id, message_id, request_hash,
        from_address, subject, content, metadata, tags, send_at, source)
      select ${email.id}::uuid, ${email.tenantId}::text, ${status}::text, ${email.workflowId}::text, ${email.messageId}::text,
        ${email.requestHash}::text, ${email.from.address}::text, ${email.subject}::text,
        ${sql.json({ ...email.content, from: email.from } as never)}::jsonb, ${sql.json(email.metadata as never)}::jsonb,
        ${email.tags}::text[], ${email.sendAt ?? null}::timestamptz, ${source}::text
      where exists (select 1 from counted)
      returning id),
    r as (
      insert into email_recipients (email_id, address, kind, domain)
      select e.id, x.address, x.kind, x.domain
      from e, unnest(${recipients.map((r) => r.address)}::text[], ${recipients.map((r) => r.kind)}::text[], ${recipients.map((r) => r.domain)}::text[])
        as x (address, kind, domain)),
    ${
      email.submitted
        ? sql`raw as (
      insert into email_raw_messages (email_id, mail_from, message)
      select e.id, ${email.submitted.mailFrom}::text, ${email.submitted.message}::bytea from e),`
        : sql``
    }
    ev as (
      insert into email_events (email_id, type, actor, data)
      select e.id, 'email.accepted', ${source}::text, ${sql.json({ status, sendAt: email.sendAt ?? null } as never)}::jsonb from e)
    select exists (select 1 from e) as inserted`;
  if (!row.inserted) throw new DailyQuotaExceeded(email.dailyQuota);
  return createdRef(email, status);
}

/** What starting an email's workflow needs (a batch's starter, a campaign's page). */
export interface StartRef {
  id: string;
  tenantId: string;
  workflowId: string;
  sendAt?: string;
  tags: string[];
  domains: string[];
  /** The one-line summary of its workflow. */
  summary: { firstRecipient: string; recipients: number; subject: string };
}

export function createEmailStore(sql: Sql) {
  return {
    /**
     * Stores a new email with its recipients and attachments, all or nothing. With an
     * idempotency key already used by this tenant, stores nothing and returns the existing one.
     */
    async insert(email: NewEmail): Promise<StoredEmailRef> {
      if (email.attachments.length === 0 && email.idempotencyKey === undefined) return insertInOneStatement(sql, email);
      return sql.begin(async (tx) => {
        const status = initialStatus(email.sendAt);
        const inserted = await tx`
          insert into emails (id, tenant_id, status, workflow_id, message_id, idempotency_key, request_hash,
            from_address, subject, content, metadata, tags, send_at, source)
          values (${email.id}, ${email.tenantId}, ${status}, ${email.workflowId}, ${email.messageId},
            ${email.idempotencyKey ?? null}, ${email.requestHash}, ${email.from.address}, ${email.subject},
            ${tx.json({ ...email.content, from: email.from } as never)}, ${tx.json(email.metadata as never)},
            ${email.tags}, ${email.sendAt ?? null}, ${email.source ?? 'api'})
          on conflict (tenant_id, idempotency_key) do nothing
          returning id`;
        if (inserted.length === 0) {
          const [existing] = await tx<
            Array<{ id: string; status: EmailStatus; workflowId: string; requestHash: string | null; sendAt: Date | null }>
          >`
            select id, status, workflow_id, request_hash, send_at from emails
            where tenant_id = ${email.tenantId} and idempotency_key = ${email.idempotencyKey ?? null}`;
          return { ...existing, sendAt: existing.sendAt?.toISOString() ?? null, created: false };
        }
        const [counted] = await tx`
          insert into tenant_daily_usage (tenant_id, day, emails)
          select ${email.tenantId}, (now() at time zone 'utc')::date, 1 where ${email.dailyQuota} >= 1
          on conflict (tenant_id, day) do update set emails = tenant_daily_usage.emails + 1
            where tenant_daily_usage.emails < ${email.dailyQuota}
          returning emails`;
        if (!counted) throw new DailyQuotaExceeded(email.dailyQuota);
        await tx`insert into email_recipients ${tx(recipientRows(email), 'emailId', 'address', 'kind', 'domain')}`;
        if (email.attachments.length > 0) {
          const rows = email.attachments.map((a, position) => ({ emailId: email.id, position, ...a }));
          await tx`insert into email_attachments ${tx(rows, 'emailId', 'position', 'filename', 'contentType', 'content')}`;
        }
        if (email.submitted) {
          await tx`insert into email_raw_messages (email_id, mail_from, message)
            values (${email.id}, ${email.submitted.mailFrom}, ${email.submitted.message})`;
        }
        await tx`insert into email_events (email_id, type, actor, data)
          values (${email.id}, 'email.accepted', ${email.source ?? 'api'}, ${tx.json({ status, sendAt: email.sendAt ?? null } as never)})`;
        return createdRef(email, status);
      }) as Promise<StoredEmailRef>;
    },

    /**
     * Stores a batch of new emails, each with its recipients and attachments, in one
     * transaction, marked with the batch's id. Emails whose idempotency key this tenant has used
     * already are not stored again: their existing ref comes back (created: false), in the order
     * given. The new ones count against the daily quota all together: past it, nothing is stored.
     */
    async insertMany(batch: Array<Omit<NewEmail, 'dailyQuota'>>, batchId: string, dailyQuota: number): Promise<StoredEmailRef[]> {
      if (batch.length === 0) return [];
      return sql.begin(async (tx) => {
        const rows = batch.map((email) => ({
          id: email.id,
          tenantId: email.tenantId,
          status: initialStatus(email.sendAt),
          workflowId: email.workflowId,
          messageId: email.messageId,
          idempotencyKey: email.idempotencyKey ?? null,
          requestHash: email.requestHash,
          fromAddress: email.from.address,
          subject: email.subject,
          content: tx.json({ ...email.content, from: email.from } as never),
          metadata: tx.json(email.metadata as never),
          tags: email.tags,
          sendAt: email.sendAt ?? null,
          batchId,
        }));
        const columns = Object.keys(rows[0]) as Array<keyof (typeof rows)[0]>;
        const inserted = await tx<Array<{ id: string }>>`
          insert into emails ${tx(rows, ...columns)} on conflict (tenant_id, idempotency_key) do nothing returning id`;
        const created = new Set(inserted.map((r) => r.id));
        const keys = batch.filter((e) => !created.has(e.id)).map((e) => e.idempotencyKey!);
        const existing = new Map<string, StoredEmailRef>();
        if (keys.length > 0) {
          const found = await tx<
            Array<{
              id: string;
              status: EmailStatus;
              workflowId: string;
              requestHash: string | null;
              sendAt: Date | null;
              idempotencyKey: string;
            }>
          >`
            select id, status, workflow_id, request_hash, send_at, idempotency_key from emails
            where tenant_id = ${batch[0].tenantId} and idempotency_key = any(${keys})`;
          for (const f of found)
            existing.set(f.idempotencyKey, {
              id: f.id,
              status: f.status,
              workflowId: f.workflowId,
              requestHash: f.requestHash,
              sendAt: f.sendAt?.toISOString() ?? null,
              created: false,
            });
        }
        const fresh = batch.filter((e) => created.has(e.id));
        if (fresh.length > 0) {
          const [counted] = await tx`
            insert into tenant_daily_usage (tenant_id, day, emails)
            select ${batch[0].tenantId}, (now() at time zone 'utc')::date, ${fresh.length}::int where ${dailyQuota}::int >= ${fresh.length}::int
            on conflict (tenant_id, day) do update set emails = tenant_daily_usage.emails + ${fresh.length}
              where tenant_daily_usage.emails + ${fresh.length} <= ${dailyQuota}
            returning emails`;
          if (!counted) throw new DailyQuotaExceeded(dailyQuota);
          for (const part of chunks(fresh.flatMap(recipientRows), 5000)) {
            await tx`insert into email_recipients ${tx(part, 'emailId', 'address', 'kind', 'domain')}`;
          }
          const attachments = fresh.flatMap((e) => e.attachments.map((a, position) => ({ emailId: e.id, position, ...a })));
          for (const part of chunks(attachments, 100)) {
            await tx`insert into email_attachments ${tx(part, 'emailId', 'position', 'filename', 'contentType', 'content')}`;
          }
          const events = fresh.map((e) => ({
            emailId: e.id,
            type: 'email.accepted',
            actor: 'api',
            data: tx.json({ status: initialStatus(e.sendAt), sendAt: e.sendAt ?? null, batchId } as never),
          }));
          await tx`insert into email_events ${tx(events, 'emailId', 'type', 'actor', 'data')}`;
        }
        return batch.map((e): StoredEmailRef =>
          created.has(e.id) ? createdRef(e, initialStatus(e.sendAt)) : existing.get(e.idempotencyKey!)!,
        );
      }) as Promise<StoredEmailRef[]>;
    },

    /** What starting the workflows of these emails needs, for those still waiting for theirs (queued or scheduled). */
    async startRefs(ids: string[]): Promise<StartRef[]> {
      if (ids.length === 0) return [];
      const rows = await sql<
        Array<{
          id: string;
          tenantId: string;
          workflowId: string;
          sendAt: Date | null;
          tags: string[];
          subject: string;
          domains: string[];
          firstRecipient: string;
          recipients: number;
        }>
      >`
        select e.id, e.tenant_id, e.workflow_id, e.send_at, e.tags, e.subject,
          array(select distinct r.domain from email_recipients r where r.email_id = e.id order by 1) as domains,
          (select r.address from email_recipients r where r.email_id = e.id order by r.kind desc, r.address limit 1) as first_recipient,
          (select count(*)::int from email_recipients r where r.email_id = e.id) as recipients
        from emails e where e.id = any(${ids}::uuid[]) and e.status in ('queued', 'scheduled')`;
      return rows.map((r) => ({
        id: r.id,
        tenantId: r.tenantId,
        workflowId: r.workflowId,
        sendAt: r.sendAt?.toISOString(),
        tags: r.tags,
        domains: r.domains,
        summary: { firstRecipient: r.firstRecipient, recipients: r.recipients, subject: r.subject },
      }));
    },

    /** Removes emails whose workflows could not be started (a batch that got no 202). */
    async removeMany(ids: string[]): Promise<void> {
      if (ids.length > 0) await sql`delete from emails where id = any(${ids}::uuid[])`;
    },

    /** Removes an email whose workflow could not be started, so nothing half-accepted stays. */
    async remove(id: string): Promise<void> {
      await sql`delete from emails where id = ${id}`;
    },

    async find(tenantId: string, id: string): Promise<{ email: EmailRow; recipients: RecipientRow[]; attempts: AttemptRow[] } | undefined> {
      const [email] = await sql<EmailRow[]>`
        select id, tenant_id, status, workflow_id, message_id, from_address, subject, content, metadata, tags, source,
          send_at, last_error, status_reason, status_changed_by, created_at, updated_at, sent_at
        from emails where tenant_id = ${tenantId} and id = ${id}`;
      if (!email) return undefined;
      const [recipients, attempts] = await Promise.all([
        sql<RecipientRow[]>`select address, kind, status, smtp_code, smtp_response, updated_at
            from email_recipients where email_id = ${id} order by kind, address`,
        sql<
          AttemptRow[]
        >`select attempt, gateway, started_at, finished_at, outcome, smtp_code, smtp_response, error_code, error_message, accepted, rejected
            from delivery_attempts where email_id = ${id} order by id`,
      ]);
      return { email, recipients, attempts };
    },

    async findRef(tenantId: string, id: string): Promise<EmailRef | undefined> {
      const [row] = await sql<EmailRef[]>`select ${refColumns(sql)} from emails e where e.tenant_id = ${tenantId} and e.id = ${id}`;
      return row;
    },

    async status(id: string): Promise<EmailStatus | undefined> {
      const [row] = await sql<Array<{ status: EmailStatus }>>`select status from emails where id = ${id}`;
      return row?.status;
    },

    /** Newest first, keyset-paginated on (created_at, id); every filter is served by an index. */
    async list(tenantId: string, filter: EmailFilter, limit: number, cursor?: ListCursor): Promise<ListedEmailRow[]> {
      return sql<ListedEmailRow[]>`
        select e.id, e.status, e.workflow_id, e.message_id, e.from_address, e.subject, e.tags, e.source, e.send_at,
          e.created_at, e.updated_at, e.sent_at, e.last_error,
          array(select r.address from email_recipients r where r.email_id = e.id order by r.kind, r.address) as recipients
        from emails e
        where e.tenant_id = ${tenantId}
          ${filterClauses(sql, filter)}
          ${cursor ? sql`and (e.created_at, e.id) < (${cursor.createdAt}::timestamptz, ${cursor.id}::uuid)` : sql``}
        order by e.created_at desc, e.id desc
        limit ${limit}`;
    },

    /** The refs of the failed emails that match a filter, oldest first (bulk re-drive). */
    async failedRefs(tenantId: string, filter: EmailFilter, limit: number): Promise<EmailRef[]> {
      return sql<EmailRef[]>`
        select ${refColumns(sql)} from emails e
        where e.tenant_id = ${tenantId} ${filterClauses(sql, { ...filter, statuses: ['failed'] })}
        order by e.created_at desc, e.id desc
        limit ${limit}`;
    },

    async events(id: string): Promise<EventRow[]> {
      return sql<EventRow[]>`select id::int as id, type, at, actor, data from email_events where email_id = ${id} order by id`;
    },
  };
}

export type EmailStore = ReturnType<typeof createEmailStore>;
