import { parseConfig } from '../../src/config';

test('documented defaults', () => {
  const config = parseConfig({});
  expect(config.http.port).toBe(3000);
  expect(config.policy).toEqual({
    initialIntervalMs: 60_000,
    backoffCoefficient: 2,
    maximumIntervalMs: 3_600_000,
    giveUpAfterMs: 72 * 3_600_000,
    attemptTimeoutMs: 120_000,
  });
  expect(config.dataDir).toMatch(/\.herald$/);
});

test('environment overrides are parsed once into numbers', () => {
  const config = parseConfig({ PORT: '8080', RETRY_GIVE_UP_AFTER_MS: '5000', SMTP_URL: 'smtp://127.0.0.1:2525' });
  expect(config.http.port).toBe(8080);
  expect(config.policy.giveUpAfterMs).toBe(5000);
  expect(config.smtp.url).toBe('smtp://127.0.0.1:2525');
});

test('a bad value is refused with its name', () => {
  expect(() => parseConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  expect(() => parseConfig({ RETRY_BACKOFF_COEFFICIENT: '0.5' })).toThrow(/RETRY_BACKOFF_COEFFICIENT/);
  expect(() => parseConfig({ RETRY_INITIAL_INTERVAL_MS: '5000', RETRY_MAX_INTERVAL_MS: '1000' })).toThrow(/RETRY_MAX_INTERVAL_MS/);
});

test('SMTP submission: no listener unless configured; TLS settings go together', () => {
  const none = parseConfig({}).submission;
  expect(none.port).toBeUndefined();
  expect(none.tls).toBeUndefined();
  expect(none.maxMessageBytes).toBe(Math.ceil(10 * 1024 * 1024 * 1.4));
  expect(parseConfig({ SMTP_SUBMISSION_PORT: '' }).submission.port).toBeUndefined();
  const full = parseConfig({
    SMTP_SUBMISSION_PORT: '587',
    SMTP_SUBMISSION_TLS_PORT: '465',
    SMTP_SUBMISSION_TLS_CERT_FILE: '/etc/herald/cert.pem',
    SMTP_SUBMISSION_TLS_KEY_FILE: '/etc/herald/key.pem',
    MAX_MESSAGE_BYTES: '1000',
  }).submission;
  expect(full).toMatchObject({
    port: 587,
    tlsPort: 465,
    tls: { certFile: '/etc/herald/cert.pem', keyFile: '/etc/herald/key.pem' },
    maxMessageBytes: 1400,
  });
  expect(() => parseConfig({ SMTP_SUBMISSION_TLS_CERT_FILE: '/c.pem' })).toThrow(/SMTP_SUBMISSION_TLS_KEY_FILE/);
  expect(() => parseConfig({ SMTP_SUBMISSION_TLS_PORT: '465' })).toThrow(/SMTP_SUBMISSION_TLS_PORT/);
  expect(() => parseConfig({ SMTP_SUBMISSION_PORT: '70000' })).toThrow(/SMTP_SUBMISSION_PORT/);
});
