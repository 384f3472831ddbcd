import { createHmac, timingSafeEqual } from 'node:crypto';

// One-click unsubscribe (RFC 8058, with RFC 2369's List-Unsubscribe): every campaign email names
// a URL of Herald's that, POSTed to, puts its recipient on the tenant's suppression list. The URL
// carries the email's id and an HMAC of it under the operator's secret: no address in the URL,
// nothing to store per recipient, and a token cannot be made for an email Herald did not sign.
// The worker writes the header; the API checks the token. This module is the one home of both.

export interface UnsubscribeLinks {
  /** Where the API is reached from the internet, without a trailing slash (https://mail.example.com). */
  publicUrl: string;
  /** The HMAC key (UNSUBSCRIBE_SECRET): at least 32 characters. */
  secret: string;
}

/** The path of the unsubscribe route, under the API's public URL. */
export const UNSUBSCRIBE_PATH = '/unsubscribe';
export const MIN_UNSUBSCRIBE_SECRET_LENGTH = 32;

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
/** An email id, a dot, a SHA-256 HMAC in base64url (43 characters). */
const TOKEN = new RegExp(`^(${UUID})\\.([A-Za-z0-9_-]{43})$`);

function mac(secret: string, emailId: string): string {
  return createHmac('sha256', secret).update(`herald-unsubscribe:${emailId}`).digest('base64url');
}

export function unsubscribeToken(secret: string, emailId: string): string {
  return `${emailId}.${mac(secret, emailId)}`;
}

/** The email id a token was made for, or undefined when it is malformed or not ours. */
export function emailIdOfUnsubscribeToken(secret: string, token: string): string | undefined {
  const match = TOKEN.exec(token);
  if (!match) return undefined;
  const [, emailId, given] = match;
  const expected = Buffer.from(mac(secret, emailId));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected) ? emailId : undefined;
}

export function unsubscribeUrl(links: UnsubscribeLinks, emailId: string): string {
  return `${links.publicUrl}${UNSUBSCRIBE_PATH}/${unsubscribeToken(links.secret, emailId)}`;
}

/** The headers of a campaign email: a one-click unsubscribe URL that mail providers POST to. */
export function listUnsubscribeHeaders(links: UnsubscribeLinks, emailId: string): Record<string, string> {
  return {
    'List-Unsubscribe': `<${unsubscribeUrl(links, emailId)}>`,
    'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click',
  };
}
