#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { parseConfig } from '../config';
import { ensureDatabase, migrate } from '../db/migrate';
import { createSql } from '../db/sql';
import type { TenantRow } from '../db/tenants';
import { AdminError, createTenantAdmin, parseScopes } from '../tenants/admin';

// The operator's CLI: `herald tenant ...` and `herald key ...` against DATABASE_URL.

const USAGE = `usage:
  herald tenant create <id> --name <name> --domain <domain> [--domain <domain>...] [--rate-per-second N] [--burst N] [--daily-quota N]
  herald tenant update <id> [--name <name>] [--domain <domain>...] [--rate-per-second N] [--burst N] [--daily-quota N]
  herald tenant list
  herald key create --tenant <id> --scopes send,read,operate,webhooks [--name <label>]   (prints the key alone on the last line)
  herald key list --tenant <id>
  herald key revoke <key id>`;

const OPTIONS = {
  name: { type: 'string' },
  domain: { type: 'string', multiple: true },
  'rate-per-second': { type: 'string' },
  burst: { type: 'string' },
  'daily-quota': { type: 'string' },
  tenant: { type: 'string' },
  scopes: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

function number(value: string | undefined, what: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min) throw new UsageError(`--${what} must be a number >= ${min}`);
  return n;
}

function integer(value: string | undefined, what: string, min: number): number | undefined {
  const n = number(value, what, min);
  if (n !== undefined && !Number.isInteger(n)) throw new UsageError(`--${what} must be a whole number`);
  return n;
}

function describeTenant(t: TenantRow): string {
  const domains = t.anySendingDomain ? 'any (development tenant: give it domains with --domain)' : t.sendingDomains.join(', ');
  return `${t.id}  "${t.name}"  domains: ${domains}  rate: ${t.ratePerSecond}/s (burst ${t.burst})  daily quota: ${t.dailyQuota}`;
}

async function run(argv: string[], out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [resource, action, target] = positionals;
  if (values.help || !resource) return out(USAGE);
  const config = parseConfig();
  await ensureDatabase(config.databaseUrl);
  await migrate(config.databaseUrl);
  const sql = createSql(config.databaseUrl, 2);
  const admin = createTenantAdmin(sql);
  const limits = {
    ratePerSecond: number(values['rate-per-second'], 'rate-per-second', 0.001),
    burst: integer(values.burst, 'burst', 1),
    dailyQuota: integer(values['daily-quota'], 'daily-quota', 0),
  };
  try {
    switch (`${resource} ${action}`) {
      case 'tenant create':
        if (!target || !values.name) throw new UsageError('tenant create needs <id> and --name');
        return out(describeTenant(await admin.createTenant(target, { name: values.name, sendingDomains: values.domain, ...limits })));
      case 'tenant update':
        if (!target) throw new UsageError('tenant update needs <id>');
        return out(describeTenant(await admin.updateTenant(target, { name: values.name, sendingDomains: values.domain, ...limits })));
      case 'tenant list':
        for (const t of await admin.listTenants()) out(describeTenant(t));
        return;
      case 'key create': {
        if (!values.tenant || !values.scopes) throw new UsageError('key create needs --tenant and --scopes');
        const { row, key } = await admin.createKey(values.tenant, parseScopes(values.scopes), values.name);
        out(`key ${row.id} for tenant ${row.tenantId}, scopes ${row.scopes.join(',')}; it is shown once, keep it now:`);
        return out(key);
      }
      case 'key list':
        if (!values.tenant) throw new UsageError('key list needs --tenant');
        for (const k of await admin.listKeys(values.tenant)) {
          const state = k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : 'active';
          out(`${k.id}  ${k.scopes.join(',')}  ${state}  created ${k.createdAt.toISOString()}  last used ${k.lastUsedAt?.toISOString() ?? 'never'}  ${k.name ?? ''}`.trimEnd());
        }
        return;
      case 'key revoke':
        if (!target) throw new UsageError('key revoke needs <key id>');
        await admin.revokeKey(target);
        return out(`key ${target} revoked`);
      default:
        throw new UsageError(`unknown command: ${positionals.join(' ')}`);
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

run(process.argv.slice(2), (line) => console.log(line)).catch((err) => {
  if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    console.error(`herald: ${err.message}\n\n${USAGE}`);
    process.exit(2);
  }
  console.error(`herald: ${err instanceof AdminError ? err.message : (err as Error).stack}`);
  process.exit(1);
});
