import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { newWebhookSecret, signatureHeaders } from '../../src/webhooks/signing';

// Standard Webhooks (v1): what Herald sends verifies with the standardwebhooks package, and is the
// HMAC-SHA256 of "id.timestamp.body" under the secret's bytes, as the spec writes it.

const body = JSON.stringify({ type: 'email.sent', timestamp: '2026-11-23T12:00:00.000Z', data: { emailId: 'e1' } });

test('a secret is whsec_ and 32 random bytes', () => {
  const secret = newWebhookSecret();
  expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
  expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
  expect(newWebhookSecret()).not.toBe(secret);
});

test("the headers verify with the package's verifier, and are the spec's HMAC", () => {
  const secret = newWebhookSecret();
  const now = new Date();
  const headers = signatureHeaders('msg_1', body, [secret], now);
  expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  const timestamp = Math.floor(now.getTime() / 1000);
  const expected = createHmac('sha256', Buffer.from(secret.slice(6), 'base64'))
    .update(`msg_1.${timestamp}.${body}`)
    .digest('base64');
  expect(headers).toEqual({ 'webhook-id': 'msg_1', 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${expected}` });
});

test('a changed body, id or timestamp, another secret, or an old timestamp does not verify', () => {
  const secret = newWebhookSecret();
  const headers = signatureHeaders('msg_1', body, [secret], new Date());
  expect(() => new Webhook(secret).verify(body.replace('e1', 'e2'), headers)).toThrow(WebhookVerificationError);
  expect(() => new Webhook(secret).verify(body, { ...headers, 'webhook-id': 'msg_2' })).toThrow(WebhookVerificationError);
  expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow(WebhookVerificationError);
  const old = signatureHeaders('msg_1', body, [secret], new Date(Date.now() - 10 * 60_000));
  expect(() => new Webhook(secret).verify(body, old)).toThrow(/too old/);
});

test('after a rotation both secrets sign: a receiver with either verifies', () => {
  const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
  const headers = signatureHeaders('msg_9', body, [current, previous], new Date());
  expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
  expect(new Webhook(current).verify(body, headers)).toBeTruthy();
  expect(new Webhook(previous).verify(body, headers)).toBeTruthy();
});
