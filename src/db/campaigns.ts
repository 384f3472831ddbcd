import type { Sql } from './sql';
import type { CampaignStatus, EmailStatus } from '../shared';

// Campaigns, their recipients, and the emails a campaign hands to the delivery path.

export interface NewCampaign {
  id: string;
  tenantId: string;
  workflowId: string;
  from: { address: string; name?: string };
  subject: string;
  text?: string;
  html?: string;
  variables: string[];
  tags: string[];
  sendAt?: string;
  ratePerSecond?: number;
}

export interface CampaignRow {
  id: string;
  tenantId: string;
  status: CampaignStatus;
  workflowId: string;
  fromAddress: string;
  fromName: string | null;
  subject: string;
  textBody: string | null;
  htmlBody: string | null;
  variables: string[];
  tags: string[];
  sendAt: Date | null;
  ratePerSecond: number | null;
  recipients: number;
  duplicates: number;
  suppressed: number;
  invalid: number;
  statusReason: string | null;
  statusChangedBy: string | null;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

/** Thrown inside an upload's transaction: the campaign takes no more recipients. */
export class CampaignNotDraft extends Error {
  constructor(readonly status: CampaignStatus) {
    super(`the campaign is ${status}`);
  }
}

/** Thrown inside an upload's transaction: the campaign would have more than the bound. */
export class TooManyRecipients extends Error {
  constructor(readonly max: number) {
    super(`a campaign has at most ${max} recipients`);
  }
}

/** One recipient of a page, with its email when it has been handed over already. */
export interface PageRecipient {
  id: string;
  address: string;
  variables: Record<string, string>;
  emailId: string;
  emailStatus: EmailStatus | null;
}

/** The email row a recipient becomes. */
export interface CampaignEmail {
  id: string;
  recipientId: string;
  workflowId: string;
  messageId: string;
  address: string;
  domain: string;
  subject: string;
}

export interface RecipientListRow {
  id: string;
  address: string;
  variables: Record<string, string>;
  emailId: string;
  status: EmailStatus | 'waiting';
  sentAt: Date | null;
  lastError: string | null;
}

export interface RecipientFilter {
  statuses?: Array<EmailStatus | 'waiting'>;
  address?: string;
}

/** Not finished: what counts in a campaign's window. */
const OPEN_STATUSES: EmailStatus[] = ['queued', 'scheduled', 'sending', 'retrying', 'paused'];

const COLUMNS = [
  'id',
  'tenant_id',
  'status',
  'workflow_id',
  'from_address',
  'from_name',
  'subject',
  'text_body',
  'html_body',
  'variables',
  'tags',
  'send_at',
  'rate_per_second',
  'recipients',
  'duplicates',
  'suppressed',
  'invalid',
  'status_reason',
  'status_changed_by',
  'created_at',
  'updated_at',
  'started_at',
  'finished_at',
];

export function createCampaignStore(sql: Sql) {
  return {
    async insert(c: NewCampaign): Promise<CampaignRow> {
      const [row] = await sql<CampaignRow[]>`
        insert into campaigns (id, tenant_id, workflow_id, from_address, from_name, subject, text_body, html_body, variables, tags, send_at, rate_per_second)
        values (${c.id}, ${c.tenantId}, ${c.workflowId}, ${c.from.address}, ${c.from.name ?? null}, ${c.subject}, ${c.text ?? null}, ${c.html ?? null},
          ${c.variables}, ${c.tags}, ${c.sendAt ?? null}, ${c.ratePerSecond ?? null})
        returning ${sql(COLUMNS)}`;
      return row;
    },

    /** A campaign of this tenant (another tenant's is not found). */
    async find(tenantId: string, id: string): Promise<CampaignRow | undefined> {
      const [row] = await sql<CampaignRow[]>`select ${sql(COLUMNS)} from campaigns where tenant_id = ${tenantId} and id = ${id}`;
      return row;
    },

    /** For the worker, which knows campaigns by id alone; with the tenant's daily quota. */
    async get(id: string): Promise<(CampaignRow & { dailyQuota: number }) | undefined> {
      const [row] = await sql<Array<CampaignRow & { dailyQuota: number }>>`
        select ${sql(COLUMNS.map((c) => `c.${c}`))}, t.daily_quota from campaigns c join tenants t on t.id = c.tenant_id where c.id = ${id}`;
      return row;
    },

    /**
     * One upload, in one transaction: `fill` inserts the rows batch by batch through `insert`
     * (which answers how many were new); the campaign's counters are updated at the end. Only
     * a draft takes recipients; the campaign row is locked meanwhile (uploads to one campaign
     * take turns, and a start waits for the upload under way).
     */
    async upload(
      id: string,
      maxRecipients: number,
      fill: (
        insert: (rows: Array<{ address: string; variables: Record<string, string> }>) => Promise<number>,
      ) => Promise<{ invalid: number }>,
    ): Promise<{ added: number; duplicates: number; suppressed: number; invalid: number; recipients: number }> {
      return sql.begin(async (tx) => {
        const [campaign] = await tx<
          Array<{ status: CampaignStatus; recipients: number; tenantId: string }>
        >`select status, recipients, tenant_id from campaigns where id = ${id} for update`;
        if (campaign.status !== 'draft') throw new CampaignNotDraft(campaign.status);
        let added = 0;
        let duplicates = 0;
        let suppressed = 0;
        const { invalid } = await fill(async (rows) => {
          if (rows.length === 0) return 0;
          // Addresses on the tenant's suppression list are skipped (and counted): never an email.
          const [skipped] = await tx<Array<{ n: number }>>`
            select count(*)::int as n from unnest(${rows.map((r) => r.address)}::text[]) as t (a)
            where exists (select 1 from suppressions s where s.tenant_id = ${campaign.tenantId} and s.address = t.a)`;
          const inserted = await tx`
            insert into campaign_recipients (campaign_id, address, variables)
            select ${id}, a, v::jsonb from unnest(${rows.map((r) => r.address)}::text[], ${rows.map((r) => JSON.stringify(r.variables))}::text[]) as t (a, v)
            where not exists (select 1 from suppressions s where s.tenant_id = ${campaign.tenantId} and s.address = t.a)
            on conflict (campaign_id, address) do nothing
            returning 1`;
          added += inserted.length;
          suppressed += skipped.n;
          duplicates += rows.length - skipped.n - inserted.length;
          if (campaign.recipients + added > maxRecipients) throw new TooManyRecipients(maxRecipients);
          return inserted.length;
        });
        const [counters] = await tx<Array<{ recipients: number }>>`
          update campaigns set recipients = recipients + ${added}, duplicates = duplicates + ${duplicates}, suppressed = suppressed + ${suppressed},
            invalid = invalid + ${invalid}, updated_at = now()
          where id = ${id} returning recipients`;
        return { added, duplicates, suppressed, invalid, recipients: counters.recipients };
      }) as Promise<{ added: number; duplicates: number; suppressed: number; invalid: number; recipients: number }>;
    },

    /** draft -> running (waits for an upload under way); false when it is not a draft. */
    async markStarted(id: string, actor: string): Promise<boolean> {
      const rows = await sql`update campaigns set status = 'running', started_at = now(), updated_at = now(), status_changed_by = ${actor}
        where id = ${id} and status = 'draft' returning id`;
      return rows.length > 0;
    },

    /** Undoes markStarted when the workflow could not be started. */
    async unmarkStarted(id: string): Promise<void> {
      await sql`update campaigns set status = 'draft', started_at = null where id = ${id} and status = 'running'`;
    },

    /** A status change of a campaign not finished; false when it is finished already. */
    async setStatus(id: string, status: CampaignStatus, actor: string, reason: string | null): Promise<boolean> {
      const rows = await sql`
        update campaigns set status = ${status}, status_changed_by = ${actor}, status_reason = ${reason}, updated_at = now(),
          finished_at = case when ${status} in ('cancelled', 'completed') then now() else finished_at end
        where id = ${id} and status not in ('cancelled', 'completed') returning id`;
      return rows.length > 0;
    },

    /**
     * Hands over up to `limit` recipients after `afterId` (keyset on the upload order): stores the
     * email of each one not handed over yet, with its recipient row and its accepted event, and
     * counts them against the tenant's daily quota, all in one transaction. The page stops where
     * the quota does. Returns the page (recipients handed over before included: a page done again
     * after a crash finds its emails and starts them again, which is a no-op when they run).
     */
    async handOver(args: {
      campaign: CampaignRow & { dailyQuota: number };
      afterId: string | null;
      limit: number;
      emailOf: (r: PageRecipient) => CampaignEmail;
    }): Promise<{ page: PageRecipient[]; created: CampaignEmail[]; quotaUsedUp: boolean; exhausted: boolean }> {
      const { campaign, limit } = args;
      return sql.begin(async (tx) => {
        const page = await tx<PageRecipient[]>`
          select r.id::text as id, r.address, r.variables, r.email_id, e.status as email_status
          from campaign_recipients r left join emails e on e.id = r.email_id
          where r.campaign_id = ${campaign.id} ${args.afterId ? tx`and r.id > ${args.afterId}::bigint` : tx``}
          order by r.id limit ${limit}`;
        const exhausted = page.length < limit;
        const fresh = page.filter((r) => r.emailStatus === null).length;
        if (fresh === 0) return { page: [...page], created: [], quotaUsedUp: false, exhausted };
        // The quota row is locked until commit: pages and API accepts of this tenant count in turn.
        const [usage] = await tx<Array<{ emails: number }>>`
          insert into tenant_daily_usage (tenant_id, day, emails) values (${campaign.tenantId}, (now() at time zone 'utc')::date, 0)
          on conflict (tenant_id, day) do update set emails = tenant_daily_usage.emails
          returning emails`;
        let room = Math.max(0, campaign.dailyQuota - usage.emails);
        const taken: PageRecipient[] = [];
        for (const r of page) {
          if (r.emailStatus === null) {
            if (room === 0) break;
            room--;
          }
          taken.push(r);
        }
        const created = taken.filter((r) => r.emailStatus === null).map(args.emailOf);
        if (created.length > 0) {
          const content = (address: string) =>
            tx.json({
              to: [{ address }],
              cc: [],
              bcc: [],
              replyTo: [],
              headers: {},
              from: campaign.fromName ? { address: campaign.fromAddress, name: campaign.fromName } : { address: campaign.fromAddress },
            } as never);
          const emails = created.map((e) => ({
            id: e.id,
            tenantId: campaign.tenantId,
            status: 'queued',
            workflowId: e.workflowId,
            messageId: e.messageId,
            fromAddress: campaign.fromAddress,
            subject: e.subject,
            content: content(e.address),
            metadata: tx.json({ campaignId: campaign.id } as never),
            tags: campaign.tags,
            campaignId: campaign.id,
            campaignRecipientId: e.recipientId,
          }));
          const columns = Object.keys(emails[0]) as Array<keyof (typeof emails)[0]>;
          const inserted = await tx<
            Array<{ id: string }>
          >`insert into emails ${tx(emails, ...columns)} on conflict (id) do nothing returning id`;
          const isNew = new Set(inserted.map((r) => r.id));
          const fresh = created.filter((e) => isNew.has(e.id));
          if (fresh.length > 0) {
            await tx`insert into email_recipients ${tx(
              fresh.map((e) => ({ emailId: e.id, address: e.address, kind: 'to', domain: e.domain })),
              'emailId',
              'address',
              'kind',
              'domain',
            )}`;
            await tx`insert into email_events ${tx(
              fresh.map((e) => ({
                emailId: e.id,
                type: 'email.accepted',
                actor: 'campaign',
                data: tx.json({ status: 'queued', campaignId: campaign.id } as never),
              })),
              'emailId',
              'type',
              'actor',
              'data',
            )}`;
            await tx`update tenant_daily_usage set emails = emails + ${fresh.length}
              where tenant_id = ${campaign.tenantId} and day = (now() at time zone 'utc')::date`;
          }
        }
        return { page: taken, created, quotaUsedUp: taken.length < page.length, exhausted: exhausted && taken.length === page.length };
      }) as Promise<{ page: PageRecipient[]; created: CampaignEmail[]; quotaUsedUp: boolean; exhausted: boolean }>;
    },

    /** Its emails not finished (the window), at most `limit`. */
    async openEmails(id: string, limit: number): Promise<Array<{ id: string; workflowId: string; status: EmailStatus }>> {
      return sql<Array<{ id: string; workflowId: string; status: EmailStatus }>>`
        select id, workflow_id, status from emails where campaign_id = ${id} and status = any(${OPEN_STATUSES}) limit ${limit}`;
    },

    async openCount(id: string): Promise<number> {
      const [row] = await sql<
        Array<{ n: number }>
      >`select count(*)::int as n from emails where campaign_id = ${id} and status = any(${OPEN_STATUSES})`;
      return row.n;
    },

    /** Its emails by status, and how many were sent in the last minute. */
    async progress(id: string): Promise<{ byStatus: Partial<Record<EmailStatus, number>>; sentLastMinute: number }> {
      const [rows, [recent]] = await Promise.all([
        sql<
          Array<{ status: EmailStatus; n: number }>
        >`select status, count(*)::int as n from emails where campaign_id = ${id} group by status`,
        sql<
          Array<{ n: number }>
        >`select count(*)::int as n from emails where campaign_id = ${id} and sent_at > now() - interval '60 seconds'`,
      ]);
      return { byStatus: Object.fromEntries(rows.map((r) => [r.status, r.n])), sentLastMinute: recent.n };
    },

    /** Its recipients in upload order (keyset on their id), each with its email's status, or `waiting` before it is handed over. */
    async recipients(id: string, filter: RecipientFilter, limit: number, afterId?: string): Promise<RecipientListRow[]> {
      const status = sql`coalesce(e.status, 'waiting')`;
      return sql<RecipientListRow[]>`
        select r.id::text as id, r.address, r.variables, r.email_id, ${status} as status, e.sent_at, e.last_error
        from campaign_recipients r left join emails e on e.id = r.email_id
        where r.campaign_id = ${id}
          ${afterId ? sql`and r.id > ${afterId}::bigint` : sql``}
          ${filter.address ? sql`and r.address = ${filter.address}` : sql``}
          ${filter.statuses?.length ? sql`and ${status} = any(${filter.statuses})` : sql``}
        order by r.id limit ${limit}`;
    },
  };
}

export type CampaignStore = ReturnType<typeof createCampaignStore>;
