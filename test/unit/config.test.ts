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

test('campaign settings: documented defaults, overrides, bounds', () => {
  expect(parseConfig({}).campaigns).toMatchObject({ window: 200, pageSize: 100, pagesPerRun: 500, uploadMaxBytes: 256 * 1024 * 1024, maxLineBytes: 16 * 1024, maxRecipients: 1_000_000 });
  expect(parseConfig({ CAMPAIGN_WINDOW: '50', CAMPAIGN_PAGE_SIZE: '25' }).campaigns).toMatchObject({ window: 50, pageSize: 25 });
  expect(() => parseConfig({ CAMPAIGN_PAGE_SIZE: '5000' })).toThrow(/CAMPAIGN_PAGE_SIZE/);
  expect(() => parseConfig({ CAMPAIGN_WINDOW: '0' })).toThrow(/CAMPAIGN_WINDOW/);
});
