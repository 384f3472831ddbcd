import type { Sql } from './sql';
import type { KeyScope, Tenant } from '../shared';

// Tenants, their API keys and the limits every API instance shares.

export interface TenantRow extends Tenant {
  /** Its own gateways, by name, in order; empty: every configured gateway by priority. */
  gateways: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ApiKeyRow {
  id: string;
  tenantId: string;
  name: string | null;
  scopes: KeyScope[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface TenantChanges {
  name?: string;
  sendingDomains?: string[];
  ratePerSecond?: number;
  burst?: number;
  dailyQuota?: number;
  /** Gateway names in the order to try them; [] gives the tenant every gateway again. */
  gateways?: string[];
}

/** A request's key, its tenant and whether the tenant's request rate lets it through. */
export interface Authenticated {
  keyId: string;
  scopes: KeyScope[];
  tenant: Tenant;
  rate: { allowed: boolean; remaining: number; retryAfterS: number };
}

const TENANT_COLUMNS = [
  'id',
  'name',
  'sending_domains',
  'any_sending_domain',
  'rate_per_second',
  'burst',
  'daily_quota',
  'gateways',
  'created_at',
  'updated_at',
];

export function createTenantStore(sql: Sql) {
  return {
    /** Creates a tenant; undefined when the id is taken. */
    async create(tenant: { id: string; name: string; anySendingDomain?: boolean } & TenantChanges): Promise<TenantRow | undefined> {
      return sql.begin(async (tx) => {
        const [row] = await tx<TenantRow[]>`
          insert into tenants (id, name, sending_domains, any_sending_domain, rate_per_second, burst, daily_quota)
          values (${tenant.id}, ${tenant.name}, ${tenant.sendingDomains ?? []}, ${tenant.anySendingDomain ?? false},
            ${tenant.ratePerSecond ?? 50}, ${tenant.burst ?? 100}, ${tenant.dailyQuota ?? 100_000})
          on conflict (id) do nothing
          returning ${tx(TENANT_COLUMNS)}`;
        if (row) await tx`insert into tenant_rate_buckets (tenant_id) values (${tenant.id})`;
        return row;
      }) as Promise<TenantRow | undefined>;
    },

    /** Giving a tenant sending domains ends the development tenant's "any domain". */
    async update(id: string, changes: TenantChanges): Promise<TenantRow | undefined> {
      const [row] = await sql<TenantRow[]>`
        update tenants set
          name = coalesce(${changes.name ?? null}, name),
          sending_domains = coalesce(${changes.sendingDomains ?? null}::text[], sending_domains),
          any_sending_domain = any_sending_domain and ${changes.sendingDomains === undefined},
          rate_per_second = coalesce(${changes.ratePerSecond ?? null}, rate_per_second),
          burst = coalesce(${changes.burst ?? null}, burst),
          daily_quota = coalesce(${changes.dailyQuota ?? null}, daily_quota),
          gateways = coalesce(${changes.gateways ?? null}::text[], gateways),
          updated_at = now()
        where id = ${id}
        returning ${sql(TENANT_COLUMNS)}`;
      return row;
    },

    async get(id: string): Promise<TenantRow | undefined> {
      const [row] = await sql<TenantRow[]>`select ${sql(TENANT_COLUMNS)} from tenants where id = ${id}`;
      return row;
    },

    /** The tenant's own gateway names, in order ([] for every gateway; undefined: no such tenant). */
    async gateways(id: string): Promise<string[] | undefined> {
      const [row] = await sql<Array<{ gateways: string[] }>>`select gateways from tenants where id = ${id}`;
      return row?.gateways;
    },

    async list(): Promise<TenantRow[]> {
      return sql<TenantRow[]>`select ${sql(TENANT_COLUMNS)} from tenants order by id`;
    },

    async createKey(key: { id: string; tenantId: string; name?: string; scopes: KeyScope[]; keyHash: string }): Promise<ApiKeyRow> {
      const [row] = await sql<ApiKeyRow[]>`
        insert into api_keys (id, tenant_id, name, scopes, key_hash)
        values (${key.id}, ${key.tenantId}, ${key.name ?? null}, ${key.scopes}, ${key.keyHash})
        returning id, tenant_id, name, scopes, created_at, last_used_at, revoked_at`;
      return row;
    },

    /** Revokes a key; false when there is no such key or it was revoked already. */
    async revokeKey(id: string): Promise<boolean> {
      const rows = await sql`update api_keys set revoked_at = now() where id = ${id} and revoked_at is null returning id`;
      return rows.length > 0;
    },

    async listKeys(tenantId: string): Promise<ApiKeyRow[]> {
      return sql<ApiKeyRow[]>`
        select id, tenant_id, name, scopes, created_at, last_used_at, revoked_at from api_keys
        where tenant_id = ${tenantId} order by created_at`;
    },

    async keyIsActive(keyHash: string): Promise<boolean> {
      const [row] = await sql`select 1 from api_keys where key_hash = ${keyHash} and revoked_at is null`;
      return row !== undefined;
    },

    /**
     * One statement per request: finds the key (unrevoked) and its tenant, records its use (at
     * most once a minute), and takes one request from the tenant's rate bucket (GCRA: allowed
     * while the theoretical arrival time is at most burst-1 intervals ahead of now).
     */
    async authenticate(keyHash: string): Promise<Authenticated | undefined> {
      const [row] = await sql<
        Array<{
          keyId: string;
          scopes: KeyScope[];
          tenant: Tenant & { createdAt?: unknown };
          tatAfter: Date | null;
          tatBefore: Date;
          now: Date;
        }>
      >`
        with k as (
          select id, tenant_id, scopes from api_keys where key_hash = ${keyHash} and revoked_at is null
        ), t as (
          select t.* from tenants t join k on t.id = k.tenant_id
        ), used as (
          update api_keys set last_used_at = now()
          where id = (select id from k) and (last_used_at is null or last_used_at < now() - interval '1 minute')
        ), took as (
          update tenant_rate_buckets b set tat = greatest(b.tat, now()) + make_interval(secs => 1 / t.rate_per_second)
          from t
          where b.tenant_id = t.id and greatest(b.tat, now()) - make_interval(secs => (t.burst - 1) / t.rate_per_second) <= now()
          returning b.tat
        )
        select k.id as key_id, k.scopes, now() as now,
          json_build_object('id', t.id, 'name', t.name, 'sendingDomains', t.sending_domains, 'anySendingDomain', t.any_sending_domain,
            'ratePerSecond', t.rate_per_second, 'burst', t.burst, 'dailyQuota', t.daily_quota) as tenant,
          (select tat from took) as tat_after,
          (select tat from tenant_rate_buckets where tenant_id = t.id) as tat_before
        from k join t on true`;
      if (!row) return undefined;
      const { ratePerSecond, burst } = row.tenant;
      const now = row.now.getTime();
      const interval = 1000 / ratePerSecond;
      const rate = row.tatAfter
        ? { allowed: true, remaining: Math.max(0, Math.floor(burst - (row.tatAfter.getTime() - now) / interval)), retryAfterS: 0 }
        : {
            allowed: false,
            remaining: 0,
            retryAfterS: Math.max(1, Math.ceil((row.tatBefore.getTime() - (burst - 1) * interval - now) / 1000)),
          };
      return { keyId: row.keyId, scopes: row.scopes, tenant: row.tenant, rate };
    },
  };
}

export type TenantStore = ReturnType<typeof createTenantStore>;
