import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { developmentTargets, parseConfig } from '../../src/config';

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
  expect(config.smtp.gateways).toEqual([{ name: 'default', url: 'smtp://127.0.0.1:2525', priority: 0 }]);
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

test('webhooks: retried for 72 h (at least a day), https and public targets only unless the operator says otherwise; npm start allows what is unset', () => {
  const config = parseConfig({});
  expect(config.webhooks.policy).toEqual({
    initialIntervalMs: 10_000,
    backoffCoefficient: 2,
    maximumIntervalMs: 3_600_000,
    giveUpAfterMs: 72 * 3_600_000,
    timeoutMs: 10_000,
    concurrency: 10,
  });
  expect(config.webhooks.policy.giveUpAfterMs).toBeGreaterThanOrEqual(24 * 3_600_000);
  expect(config.webhooks.disableAfterMs).toBe(5 * 24 * 3_600_000);
  expect(config.webhooks.targets).toEqual({ allowHttp: false, allowPrivateTargets: false });
  expect(developmentTargets(config)).toEqual({ allowHttp: true, allowPrivateTargets: true });
  const strictDev = parseConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' });
  expect(developmentTargets(strictDev)).toEqual({ allowHttp: true, allowPrivateTargets: false });
  expect(parseConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }).webhooks.targets.allowPrivateTargets).toBe(true);
  expect(() => parseConfig({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'yes' })).toThrow(/WEBHOOK_ALLOW_PRIVATE_TARGETS/);
  expect(() => parseConfig({ WEBHOOK_RETRY_INITIAL_INTERVAL_MS: '5000', WEBHOOK_RETRY_MAX_INTERVAL_MS: '1000' })).toThrow(
    /WEBHOOK_RETRY_MAX_INTERVAL_MS/,
  );
});

test('metrics and logs: ports of their own, a format', () => {
  const config = parseConfig({});
  expect(config.metrics).toEqual({ host: '127.0.0.1', apiPort: 9464, workerPort: 9465, temporalPort: undefined });
  expect(config.logFormat).toBe('auto');
  expect(parseConfig({ LOG_FORMAT: 'json', METRICS_PORT: '0' })).toMatchObject({ logFormat: 'json', metrics: { apiPort: 0 } });
  expect(() => parseConfig({ LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
});

describe('gateways', () => {
  const two = JSON.stringify([
    { name: 'backup', url: 'smtp://user:secret@backup.example:587', priority: 20, maxConnections: 2 },
    { name: 'ses', url: 'smtps://AKIA:pw@email-smtp.eu-west-1.amazonaws.com:465', priority: 10, ratePerSecond: 14 },
  ]);

  test('SMTP_GATEWAYS: parsed once, in priority order (lower first)', () => {
    const { smtp } = parseConfig({ SMTP_GATEWAYS: two });
    expect(smtp.gateways!.map((g) => [g.name, g.priority, g.ratePerSecond, g.maxConnections])).toEqual([
      ['ses', 10, 14, undefined],
      ['backup', 20, undefined, 2],
    ]);
    expect(smtp.urlIgnored).toBe(false);
  });

  test('SMTP_GATEWAYS_FILE: the same content from a file; SMTP_URL alone: one gateway named default', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-config-'));
    const file = path.join(dir, 'gateways.json');
    writeFileSync(file, two);
    expect(parseConfig({ SMTP_GATEWAYS_FILE: file }).smtp.gateways!.map((g) => g.name)).toEqual(['ses', 'backup']);
    expect(parseConfig({ SMTP_URL: 'smtp://relay:25' }).smtp.gateways).toEqual([{ name: 'default', url: 'smtp://relay:25', priority: 0 }]);
    expect(parseConfig({}).smtp.gateways).toBeUndefined();
    expect(() => parseConfig({ SMTP_URL: 'http://user:secret@relay' })).toThrow(/^Invalid configuration: SMTP_URL: must be an smtp/);
    // SMTP_GATEWAYS wins over SMTP_URL; the worker says so at start.
    const both = parseConfig({ SMTP_GATEWAYS: two, SMTP_URL: 'smtp://relay:25' }).smtp;
    expect(both.gateways!.map((g) => g.name)).toEqual(['ses', 'backup']);
    expect(both.urlIgnored).toBe(true);
    expect(() => parseConfig({ SMTP_GATEWAYS_FILE: path.join(dir, 'missing.json') })).toThrow(/SMTP_GATEWAYS_FILE: cannot read .*ENOENT/);
    expect(() => parseConfig({ SMTP_GATEWAYS: two, SMTP_GATEWAYS_FILE: file })).toThrow(/not both/);
  });

  test.each([
    ['not JSON', '[{"name": "a", "url": "smtp://u:secret@h"', /SMTP_GATEWAYS: not valid JSON/],
    ['empty', '[]', /SMTP_GATEWAYS: needs at least one gateway/],
    ['bad name', '[{"name": "A B", "url": "smtp://u:secret@h", "priority": 1}]', /SMTP_GATEWAYS\.0\.name/],
    ['bad url', '[{"name": "a", "url": "http://u:secret@h", "priority": 1}]', /SMTP_GATEWAYS\.0\.url: must be an smtp/],
    ['no priority', '[{"name": "a", "url": "smtp://u:secret@h"}]', /SMTP_GATEWAYS\.0\.priority/],
    ['bad rate', '[{"name": "a", "url": "smtp://u:secret@h", "priority": 1, "ratePerSecond": 0}]', /SMTP_GATEWAYS\.0\.ratePerSecond/],
    ['unknown field', '[{"name": "a", "url": "smtp://u:secret@h", "priority": 1, "pasword": "x"}]', /SMTP_GATEWAYS\.0/],
    [
      'twice the same name',
      '[{"name": "a", "url": "smtp://u:secret@h", "priority": 1}, {"name": "a", "url": "smtp://h2", "priority": 2}]',
      /unique/,
    ],
  ])('%s is refused, naming the variable and never the secret', (_what, value, message) => {
    let error: Error | undefined;
    try {
      parseConfig({ SMTP_GATEWAYS: value });
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('secret');
  });
});

test('campaign settings: documented defaults, overrides, bounds', () => {
  expect(parseConfig({}).campaigns).toMatchObject({
    window: 200,
    pageSize: 100,
    pagesPerRun: 500,
    uploadMaxBytes: 256 * 1024 * 1024,
    maxLineBytes: 16 * 1024,
    maxRecipients: 1_000_000,
  });
  expect(parseConfig({ CAMPAIGN_WINDOW: '50', CAMPAIGN_PAGE_SIZE: '25' }).campaigns).toMatchObject({ window: 50, pageSize: 25 });
  expect(() => parseConfig({ CAMPAIGN_PAGE_SIZE: '5000' })).toThrow(/CAMPAIGN_PAGE_SIZE/);
  expect(() => parseConfig({ CAMPAIGN_WINDOW: '0' })).toThrow(/CAMPAIGN_WINDOW/);
});
