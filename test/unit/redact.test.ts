import { classifySmtpError } from '../../src/smtp/classify';
import { redactGateway, redactOutcome } from '../../src/smtp/redact';

// Tenants read attempts, replies and reasons: none of them may carry the gateway's address or
// credentials.

const GATEWAY = 'smtp://relay-user:s3cret@smtp.internal.example:587';

test('a reply that names the gateway is redacted', () => {
  expect(redactGateway('421 smtp.internal.example Service not available', GATEWAY)).toBe('421 <gateway> Service not available');
  expect(redactGateway('535 5.7.8 relay-user: authentication failed', GATEWAY)).toBe('535 5.7.8 <gateway>: authentication failed');
  expect(redactGateway('250 2.0.0 Ok', GATEWAY)).toBe('250 2.0.0 Ok');
  expect(redactGateway(undefined, GATEWAY)).toBeUndefined();
});

test('a nodemailer error keeps its shape and code, with every reply redacted', () => {
  const error = Object.assign(new Error('Can not send mail to smtp.internal.example:587'), {
    code: 'EENVELOPE',
    responseCode: 450,
    response: '450 smtp.internal.example busy',
    rejectedErrors: [{ recipient: 'a@example.org', responseCode: 450, response: '450 4.2.0 smtp.internal.example greylisted' }],
  });
  const redacted = redactOutcome(error, GATEWAY);
  expect(redacted).toBeInstanceOf(Error);
  expect(redacted).toMatchObject({ code: 'EENVELOPE', responseCode: 450, response: '450 <gateway> busy' });
  expect(redacted.message).toBe('Can not send mail to <gateway>');
  expect(redacted.rejectedErrors[0]).toMatchObject({ recipient: 'a@example.org', response: '450 4.2.0 <gateway> greylisted' });
  expect(JSON.stringify(classifySmtpError(redacted, false))).not.toContain('internal');
});

test.each([
  ['ECONNECTION', 'connect ECONNREFUSED 10.0.0.5:587'],
  ['ETIMEDOUT', 'Greeting never received from 10.0.0.5'],
  ['EDNS', 'getaddrinfo ENOTFOUND smtp.internal.example'],
  ['ESOCKET', 'read ECONNRESET 10.0.0.5:587'],
])('a %s without a reply is described without the address nodemailer gives', (code, message) => {
  const failure = classifySmtpError(Object.assign(new Error(message), { code }), false);
  expect(failure.kind).toBe('transient');
  expect(failure.errorCode).toBe(code);
  expect(failure.message).not.toMatch(/10\.0\.0\.5|internal|587/);
  expect(failure.message).toMatch(/gateway/);
});
