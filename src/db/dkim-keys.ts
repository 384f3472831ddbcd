import type { Sql } from './sql';

// DKIM signing keys of a tenant's sending domains, managed by the operator (herald dkim ...).
// Nothing here returns a private key: the worker reads it with the email it signs (attempts.ts).

export interface DkimKeyInfo {
  tenantId: string;
  domain: string;
  selector: string;
  createdAt: Date;
  updatedAt: Date;
}

export function createDkimKeyStore(sql: Sql) {
  return {
    /** Sets (or replaces) the key of one domain of a tenant. */
    async set(key: { tenantId: string; domain: string; selector: string; privateKey: string }): Promise<DkimKeyInfo> {
      const [row] = await sql<DkimKeyInfo[]>`
        insert into dkim_keys (tenant_id, domain, selector, private_key)
        values (${key.tenantId}, ${key.domain}, ${key.selector}, ${key.privateKey})
        on conflict (tenant_id, domain) do update set selector = excluded.selector, private_key = excluded.private_key, updated_at = now()
        returning tenant_id, domain, selector, created_at, updated_at`;
      return row;
    },

    async list(tenantId: string): Promise<DkimKeyInfo[]> {
      return sql<
        DkimKeyInfo[]
      >`select tenant_id, domain, selector, created_at, updated_at from dkim_keys where tenant_id = ${tenantId} order by domain`;
    },

    /** Removes a domain's key; false when there was none. */
    async remove(tenantId: string, domain: string): Promise<boolean> {
      const rows = await sql`delete from dkim_keys where tenant_id = ${tenantId} and domain = ${domain} returning domain`;
      return rows.length > 0;
    },
  };
}

export type DkimKeyStore = ReturnType<typeof createDkimKeyStore>;
