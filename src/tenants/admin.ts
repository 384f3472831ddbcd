import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Sql } from '../db/sql';
import { createTenantStore, type ApiKeyRow, type TenantChanges, type TenantRow } from '../db/tenants';
import { createDkimKeyStore, type DkimKeyInfo } from '../db/dkim-keys';
import { DEFAULT_TENANT, GATEWAY_NAME, KEY_SCOPES, TENANT_ID, type KeyScope } from '../shared';
import { generateKey, hashKey } from './keys';

// What an operator does with tenants and keys (the `herald` CLI), and the development key of
// `npm start`.

export class AdminError extends Error {}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;

function checkDomains(domains: string[] | undefined): string[] | undefined {
  if (domains === undefined) return undefined;
  const lower = domains.map((d) => d.trim().toLowerCase());
  const bad = lower.filter((d) => !DOMAIN.test(d));
  if (bad.length) throw new AdminError(`not a domain name: ${bad.join(', ')}`);
  return [...new Set(lower)];
}

/** `a,b`: gateway names in the order the tenant's mail tries them. */
export function parseGatewayNames(list: string): string[] {
  const names = [
    ...new Set(
      list
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  const bad = names.filter((n) => !GATEWAY_NAME.test(n));
  if (bad.length || names.length === 0)
    throw new AdminError(`--gateways takes gateway names (a,b), lower-case letters, digits, - and _; got ${list}`);
  return names;
}

/** A DKIM selector: one or more DNS labels (RFC 6376 3.1). */
const SELECTOR = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * The DNS TXT record that publishes an RSA private key's public half (nodemailer signs with RSA
 * only), for the operator to publish. Throws when the PEM is not an RSA private key.
 */
export function dkimDnsRecord(domain: string, selector: string, privateKeyPem: string): { name: string; value: string } {
  const key = createPrivateKey(privateKeyPem);
  if (key.asymmetricKeyType !== 'rsa') throw new Error('not an RSA key');
  const p = createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('base64');
  return { name: `${selector}._domainkey.${domain}`, value: `v=DKIM1; k=rsa; p=${p}` };
}

export function parseScopes(list: string): KeyScope[] {
  const scopes = [
    ...new Set(
      list
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = scopes.filter((s) => !(KEY_SCOPES as readonly string[]).includes(s));
  if (unknown.length || scopes.length === 0) throw new AdminError(`scopes must be some of ${KEY_SCOPES.join(', ')}; got ${list}`);
  return scopes as KeyScope[];
}

export function createTenantAdmin(sql: Sql) {
  const tenants = createTenantStore(sql);
  const dkimKeys = createDkimKeyStore(sql);
  return {
    async createTenant(id: string, changes: { name: string } & TenantChanges): Promise<TenantRow> {
      if (!TENANT_ID.test(id)) throw new AdminError('a tenant id is 1-63 lower-case letters, digits and dashes');
      if (!changes.sendingDomains?.length) throw new AdminError('a tenant needs at least one sending domain (--domain)');
      const row = await tenants.create({ id, ...changes, sendingDomains: checkDomains(changes.sendingDomains) });
      if (!row) throw new AdminError(`tenant ${id} exists already`);
      return row;
    },

    async updateTenant(id: string, changes: TenantChanges): Promise<TenantRow> {
      const row = await tenants.update(id, { ...changes, sendingDomains: checkDomains(changes.sendingDomains) });
      if (!row) throw new AdminError(`no tenant ${id}`);
      return row;
    },

    listTenants: () => tenants.list(),

    /**
     * Sets the DKIM signing key (RSA, PEM) of one of a tenant's sending domains.
     * Returns what was stored (never the key) and the DNS record to publish.
     */
    async setDkimKey(
      tenantId: string,
      domain: string,
      selector: string,
      privateKeyPem: string,
    ): Promise<{ info: DkimKeyInfo; dns: { name: string; value: string } }> {
      const tenant = await tenants.get(tenantId);
      if (!tenant) throw new AdminError(`no tenant ${tenantId}`);
      const [lower] = checkDomains([domain])!;
      if (!tenant.anySendingDomain && !tenant.sendingDomains.includes(lower))
        throw new AdminError(`${lower} is not one of tenant ${tenantId}'s sending domains`);
      if (!SELECTOR.test(selector)) throw new AdminError(`not a DKIM selector: ${selector}`);
      let dns: { name: string; value: string };
      try {
        dns = dkimDnsRecord(lower, selector, privateKeyPem);
      } catch {
        // The parser's message could quote the key: say only what is wrong.
        throw new AdminError('the private key is not an RSA private key in PEM');
      }
      const info = await dkimKeys.set({ tenantId, domain: lower, selector, privateKey: privateKeyPem.trim() + '\n' });
      return { info, dns };
    },

    async listDkimKeys(tenantId: string): Promise<DkimKeyInfo[]> {
      if (!(await tenants.get(tenantId))) throw new AdminError(`no tenant ${tenantId}`);
      return dkimKeys.list(tenantId);
    },

    async removeDkimKey(tenantId: string, domain: string): Promise<void> {
      if (!(await dkimKeys.remove(tenantId, domain.toLowerCase())))
        throw new AdminError(`tenant ${tenantId} has no DKIM key for ${domain}`);
    },

    /** Creates a key and returns it whole, the only time it is ever shown. */
    async createKey(tenantId: string, scopes: KeyScope[], name?: string): Promise<{ row: ApiKeyRow; key: string }> {
      if (!(await tenants.get(tenantId))) throw new AdminError(`no tenant ${tenantId}`);
      const { id, key, hash } = generateKey();
      return { row: await tenants.createKey({ id, tenantId, name, scopes, keyHash: hash }), key };
    },

    async revokeKey(id: string): Promise<void> {
      if (!(await tenants.revokeKey(id))) throw new AdminError(`no active key ${id}`);
    },

    async listKeys(tenantId: string): Promise<ApiKeyRow[]> {
      if (!(await tenants.get(tenantId))) throw new AdminError(`no tenant ${tenantId}`);
      return tenants.listKeys(tenantId);
    },

    /**
     * The development key of `npm start`: the one in `<dataDir>/dev-api-key` while it is still
     * valid, else a new key of the default tenant written there (mode 0600).
     */
    async ensureDevKey(dataDir: string): Promise<{ key: string; file: string; created: boolean }> {
      const file = path.join(dataDir, 'dev-api-key');
      if (existsSync(file)) {
        const key = readFileSync(file, 'utf8').trim();
        if (await tenants.keyIsActive(hashKey(key))) return { key, file, created: false };
      }
      const { key } = await this.createKey(DEFAULT_TENANT, [...KEY_SCOPES], 'development key (npm start)');
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(file, `${key}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      return { key, file, created: true };
    },
  };
}

export type TenantAdmin = ReturnType<typeof createTenantAdmin>;
