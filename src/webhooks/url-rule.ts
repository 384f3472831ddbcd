import ipaddr from 'ipaddr.js';

// Where a tenant's webhooks may go: the one rule, checked when an endpoint is created and again at
// every delivery, on the addresses the host resolves to then (src/webhooks/http.ts), so that a name
// re-pointed at the operator's network (DNS rebinding) is refused too. Pure: no I/O.

export interface WebhookTargetPolicy {
  /** http:// URLs (development); https only otherwise. */
  allowHttp: boolean;
  /** Private, loopback, link-local and other non-public addresses (WEBHOOK_ALLOW_PRIVATE_TARGETS). */
  allowPrivateTargets: boolean;
}

export const STRICT_TARGETS: WebhookTargetPolicy = { allowHttp: false, allowPrivateTargets: false };

export const MAX_WEBHOOK_URL_LENGTH = 2048;

export type UrlVerdict = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * Whether an address is publicly routable unicast: anything ipaddr.js puts in a special range
 * (private, loopback, link-local, unique-local, carrier-grade NAT, multicast, reserved, NAT64,
 * 6to4, Teredo, ...) is not. An IPv4-mapped IPv6 address is judged as the IPv4 address it holds.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  return parsed.range() === 'unicast';
}

export function isAllowedAddress(address: string, policy: WebhookTargetPolicy): boolean {
  return policy.allowPrivateTargets || isPublicAddress(address);
}

const refuse = (reason: string): UrlVerdict => ({ ok: false, reason });

/** The URL check of an endpoint; a host name is checked again on what it resolves to, at delivery. */
export function checkWebhookUrl(raw: string, policy: WebhookTargetPolicy): UrlVerdict {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH) return refuse(`must be at most ${MAX_WEBHOOK_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse('must be an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowHttp)) {
    return refuse(policy.allowHttp ? 'must be an http or https URL' : 'must be an https URL');
  }
  if (url.username || url.password) return refuse('must not carry credentials');
  if (url.hash) return refuse('must not have a fragment');
  // WHATWG URL has already normalised 0x7f.1, 2130706433 and the like to dotted IPv4.
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) return refuse('must name a host');
  if (policy.allowPrivateTargets) return { ok: true, url };
  if (ipaddr.isValid(host)) {
    return isPublicAddress(host) ? { ok: true, url } : refuse(`must not point to a private, loopback or link-local address (${host})`);
  }
  if (!host.includes('.') || host === 'localhost' || host.endsWith('.localhost')) return refuse(`must name a public host (${host})`);
  return { ok: true, url };
}
