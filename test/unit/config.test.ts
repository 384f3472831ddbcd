import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
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
  expect(config.smtp.gateways).toEqual([{ name: 'default', url: 'smtp://127.0.0.1:2525', priority: 0 }]);
});

test('a bad value is refused with its name', () => {
  expect(() => parseConfig({ PORT: 'eighty' })).toThrow(/PORT/);
  expect(() => parseConfig({ RETRY_BACKOFF_COEFFICIENT: '0.5' })).toThrow(/RETRY_BACKOFF_COEFFICIENT/);
  expect(() => parseConfig({ RETRY_INITIAL_INTERVAL_MS: '5000', RETRY_MAX_INTERVAL_MS: '1000' })).toThrow(/RETRY_MAX_INTERVAL_MS/);
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
    ['twice the same name', '[{"name": "a", "url": "smtp://u:secret@h", "priority": 1}, {"name": "a", "url": "smtp://h2", "priority": 2}]', /unique/],
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
