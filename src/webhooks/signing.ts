import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

// Standard Webhooks (v1): webhook-id, webhook-timestamp and webhook-signature, the signature being
// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` under the endpoint's whsec_ secret. The
// `standardwebhooks` package signs; receivers verify with it (or any Standard Webhooks library).

/** A new endpoint secret: 32 random bytes, `whsec_<base64>`. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/**
 * The headers of one attempt. The id is the message's (stable across attempts and re-sends: the
 * receiver's de-duplication key); the timestamp is the attempt's. With several secrets (just after
 * a rotation) the signature header carries one signature per secret, space-separated.
 */
export function signatureHeaders(messageId: string, body: string, secrets: string[], at: Date): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': secrets.map((secret) => new Webhook(secret).sign(messageId, at, body)).join(' '),
  };
}
