import { domainOf } from './email';

// What a tenant is: who owns emails, keys and limits, and which domains it may send from.

export interface Tenant {
  id: string;
  name: string;
  /** Domains its mail may come from (exact domains, lower-case). */
  sendingDomains: string[];
  /** The development tenant sends from any domain until the operator gives it domains. */
  anySendingDomain: boolean;
  ratePerSecond: number;
  burst: number;
  dailyQuota: number;
}

/** What a key may do: send emails, read them, steer them (cancel, pause, ...), manage webhooks. */
export const KEY_SCOPES = ['send', 'read', 'operate', 'webhooks'] as const;
export type KeyScope = (typeof KEY_SCOPES)[number];

/** A tenant may only send from addresses of its own domains. */
export function maySendFrom(tenant: Pick<Tenant, 'sendingDomains' | 'anySendingDomain'>, address: string): boolean {
  return tenant.anySendingDomain || tenant.sendingDomains.includes(domainOf(address));
}

/** Tenant ids are short slugs: they appear in URLs, search attributes and logs. */
export const TENANT_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
