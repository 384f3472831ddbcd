#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { parseConfig } from '../config';
import { ensureDatabase, migrate } from '../db/migrate';
import { createSql } from '../db/sql';
import { readFileSync } from 'node:fs';
import type { TenantRow } from '../db/tenants';
import { AdminError, createTenantAdmin, parseGatewayNames, parseScopes } from '../tenants/admin';

// The operator's CLI: `herald tenant ...`, `herald key ...` and `herald dkim ...` against DATABASE_URL.

const USAGE = `usage:
  herald tenant create <id> --name <name> --domain <domain> [--domain <domain>...] [--rate-per-second N] [--burst N] [--daily-quota N]
  herald tenant update <id> [--name <name>] [--domain <domain>...] [--rate-per-second N] [--burst N] [--daily-quota N]
                           [--gateways a,b | --all-gateways]   (its own gateways, in order; or every gateway by priority)
  herald tenant list
  herald key create --tenant <id> --scopes send,read,operate,webhooks [--name <label>]   (prints the key alone on the last line)
  herald key list --tenant <id>
  herald key revoke <key id>
  herald dkim set --tenant <id> --domain <domain> --selector <selector> --private-key-file <pem>   (prints the DNS record to publish)
  herald dkim list --tenant <id>
  herald dkim remove --tenant <id> --domain <domain>`;

const OPTIONS = {
  name: { type: 'string' },
  domain: { type: 'string', multiple: true },
  'rate-per-second': { type: 'string' },
  burst: { type: 'string' },
  'daily-quota': { type: 'string' },
  tenant: { type: 'string' },
  scopes: { type: 'string' },
  gateways: { type: 'string' },
  'all-gateways': { type: 'boolean' },
  selector: { type: 'string' },
  'private-key-file': { type: 'string' },
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
  const gateways = t.gateways.length ? t.gateways.join(' > ') : 'all, by priority';
  return `${t.id}  "${t.name}"  domains: ${domains}  rate: ${t.ratePerSecond}/s (burst ${t.burst})  daily quota: ${t.dailyQuota}  gateways: ${gateways}`;
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
      case 'tenant update': {
        if (!target) throw new UsageError('tenant update needs <id>');
        if (values.gateways !== undefined && values['all-gateways'])
          throw new UsageError('--gateways and --all-gateways exclude each other');
        const gateways = values['all-gateways'] ? [] : values.gateways !== undefined ? parseGatewayNames(values.gateways) : undefined;
        return out(
          describeTenant(await admin.updateTenant(target, { name: values.name, sendingDomains: values.domain, ...limits, gateways })),
        );
      }
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
          out(
            `${k.id}  ${k.scopes.join(',')}  ${state}  created ${k.createdAt.toISOString()}  last used ${k.lastUsedAt?.toISOString() ?? 'never'}  ${k.name ?? ''}`.trimEnd(),
          );
        }
        return;
      case 'key revoke':
        if (!target) throw new UsageError('key revoke needs <key id>');
        await admin.revokeKey(target);
        return out(`key ${target} revoked`);
      case 'dkim set': {
        const domain = values.domain?.[0];
        if (!values.tenant || !domain || !values.selector || !values['private-key-file']) {
          throw new UsageError('dkim set needs --tenant, --domain, --selector and --private-key-file');
        }
        const { info, dns } = await admin.setDkimKey(
          values.tenant,
          domain,
          values.selector,
          readFileSync(values['private-key-file'], 'utf8'),
        );
        out(`DKIM key set for ${info.domain} (tenant ${info.tenantId}, selector ${info.selector}); publish this TXT record:`);
        return out(`${dns.name}. IN TXT "${dns.value}"`);
      }
      case 'dkim list':
        if (!values.tenant) throw new UsageError('dkim list needs --tenant');
        for (const k of await admin.listDkimKeys(values.tenant))
          out(`${k.domain}  selector ${k.selector}  set ${k.updatedAt.toISOString()}`);
        return;
      case 'dkim remove': {
        const domain = values.domain?.[0];
        if (!values.tenant || !domain) throw new UsageError('dkim remove needs --tenant and --domain');
        await admin.removeDkimKey(values.tenant, domain);
        return out(`DKIM key of ${domain} removed (tenant ${values.tenant}); its mail is no longer signed`);
      }
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
