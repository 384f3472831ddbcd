import type { Sql } from './sql';
import type { SuppressionSource } from '../shared';

// A tenant's suppression list. The worker adds `bounce` rows in the transaction that records the
// refusal (attempts.ts); the API lists, adds (`manual`) and removes rows, always within one tenant,
// and adds `unsubscribe` rows for the recipients of an email whose one-click link was used.

export interface SuppressionRow {
  address: string;
  domain: string;
  source: SuppressionSource;
  reason: string;
  smtpCode: number | null;
  emailId: string | null;
  createdAt: Date;
}

export interface SuppressionFilter {
  address?: string;
  domain?: string;
  source?: SuppressionSource;
}

export interface SuppressionCursor {
  createdAt: string;
  address: string;
}

const COLUMNS = ['address', 'domain', 'source', 'reason', 'smtp_code', 'email_id', 'created_at'];

export function createSuppressionStore(sql: Sql) {
  return {
    /** Newest first, keyset-paginated on (created_at, address). */
    async list(tenantId: string, filter: SuppressionFilter, limit: number, cursor?: SuppressionCursor): Promise<SuppressionRow[]> {
      return sql<SuppressionRow[]>`
        select ${sql(COLUMNS)} from suppressions
        where tenant_id = ${tenantId}
          ${filter.address ? sql`and address = ${filter.address}` : sql``}
          ${filter.domain ? sql`and domain = ${filter.domain}` : sql``}
          ${filter.source ? sql`and source = ${filter.source}` : sql``}
          ${cursor ? sql`and (created_at, address) < (${cursor.createdAt}::timestamptz, ${cursor.address})` : sql``}
        order by created_at desc, address desc
        limit ${limit}`;
    },

    async get(tenantId: string, address: string): Promise<SuppressionRow | undefined> {
      const [row] = await sql<
        SuppressionRow[]
      >`select ${sql(COLUMNS)} from suppressions where tenant_id = ${tenantId} and address = ${address}`;
      return row;
    },

    /** Adds an address (a manual entry); an address already there keeps its row. Returns the row and whether it is new. */
    async add(tenantId: string, entry: { address: string; reason: string }): Promise<{ row: SuppressionRow; created: boolean }> {
      const [inserted] = await sql<SuppressionRow[]>`
        insert into suppressions (tenant_id, address, source, reason)
        values (${tenantId}, ${entry.address}, 'manual', ${entry.reason})
        on conflict (tenant_id, address) do nothing
        returning ${sql(COLUMNS)}`;
      if (inserted) return { row: inserted, created: true };
      return { row: (await this.get(tenantId, entry.address))!, created: false };
    },

    /**
     * Suppresses the `to` recipients of an email for its own tenant (the email's one-click
     * unsubscribe link was used) and notes those newly added on its timeline, in one statement;
     * an address already listed keeps its entry. False when no such email exists.
     */
    async unsubscribe(emailId: string, reason: string): Promise<boolean> {
      const [row] = await sql<Array<{ found: boolean }>>`
        with e as (select id, tenant_id from emails where id = ${emailId}::uuid),
        added as (
          insert into suppressions (tenant_id, address, source, reason, email_id)
          select e.tenant_id, r.address, 'unsubscribe', ${reason}, e.id
          from e join email_recipients r on r.email_id = e.id and r.kind = 'to'
          on conflict (tenant_id, address) do nothing
          returning address),
        -- On the email's timeline (and so to the tenant's webhooks), once: a repeated POST adds nothing.
        noted as (
          insert into email_events (email_id, type, actor, data)
          select e.id, 'recipients.unsubscribed', 'recipient', jsonb_build_object('addresses', (select jsonb_agg(address order by address) from added))
          from e where exists (select 1 from added))
        select exists (select 1 from e) as found`;
      return row.found;
    },

    /** Removes an address; false when this tenant had no such entry. */
    async remove(tenantId: string, address: string): Promise<boolean> {
      const rows = await sql`delete from suppressions where tenant_id = ${tenantId} and address = ${address} returning address`;
      return rows.length > 0;
    },
  };
}

export type SuppressionStore = ReturnType<typeof createSuppressionStore>;
