import fc from 'fast-check';
import { checkWebhookUrl, isPublicAddress, STRICT_TARGETS } from '../../src/webhooks/url-rule';

// Where a tenant's webhooks may go: https to public hosts, unless the operator allows more.

const DEV = { allowHttp: true, allowPrivateTargets: true };

test.each([
  'https://hooks.example.com/herald',
  'https://hooks.example.com:8443/a/b?c=d',
  'https://93.184.215.14/hooks',
  'https://[2606:2800:220:1:248:1893:25c8:1946]/hooks',
])('%s is allowed in production', (url) => {
  expect(checkWebhookUrl(url, STRICT_TARGETS)).toMatchObject({ ok: true });
});

test.each([
  ['http://hooks.example.com/', /https/],
  ['ftp://hooks.example.com/', /https/],
  ['https://user:secret@hooks.example.com/', /credentials/],
  ['https://hooks.example.com/#x', /fragment/],
  ['hooks.example.com/herald', /absolute URL/],
  ['https://localhost/', /public host/],
  ['https://api.localhost/', /public host/],
  ['https://intranet/', /public host/],
  ['https://127.0.0.1/', /private, loopback or link-local/],
  ['https://127.1/', /127\.0\.0\.1/],
  ['https://2130706433/', /127\.0\.0\.1/],
  ['https://0x7f000001/', /127\.0\.0\.1/],
  ['https://0.0.0.0/', /private/],
  ['https://10.1.2.3/', /private/],
  ['https://172.16.0.1/', /private/],
  ['https://192.168.0.1/', /private/],
  ['https://100.64.0.1/', /private/],
  ['https://169.254.169.254/latest/meta-data/', /private/],
  ['https://224.0.0.1/', /private/],
  ['https://[::1]/', /private/],
  ['https://[::]/', /private/],
  ['https://[fe80::1]/', /private/],
  ['https://[fc00::1]/', /private/],
  ['https://[::ffff:10.0.0.1]/', /private/],
  ['https://[::ffff:7f00:1]/', /private/],
  ['https://[64:ff9b::a00:1]/', /private/],
  [`https://hooks.example.com/${'a'.repeat(2100)}`, /2048/],
])('%s is refused in production', (url, reason) => {
  const verdict = checkWebhookUrl(url, STRICT_TARGETS);
  expect(verdict.ok).toBe(false);
  expect(!verdict.ok && verdict.reason).toMatch(reason);
});

test('the operator may allow http and private targets (npm start does); credentials and fragments stay refused', () => {
  expect(checkWebhookUrl('http://127.0.0.1:8080/hooks', DEV)).toMatchObject({ ok: true });
  expect(checkWebhookUrl('http://localhost:8080/hooks', DEV)).toMatchObject({ ok: true });
  expect(checkWebhookUrl('http://10.0.0.1/hooks', { allowHttp: true, allowPrivateTargets: false })).toMatchObject({ ok: false });
  expect(checkWebhookUrl('http://hooks.example.com/', { allowHttp: false, allowPrivateTargets: true })).toMatchObject({ ok: false });
  expect(checkWebhookUrl('http://u:p@127.0.0.1/', DEV)).toMatchObject({ ok: false });
});

test('every IPv4 address in a private, loopback, link-local or CGNAT range is not public', () => {
  const octet = fc.integer({ min: 0, max: 255 });
  const inRange = fc.oneof(
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `10.${b}.${c}.${d}`),
    fc.tuple(octet, octet, octet).map(([b, c, d]) => `127.${b}.${c}.${d}`),
    fc.tuple(fc.integer({ min: 16, max: 31 }), octet, octet).map(([b, c, d]) => `172.${b}.${c}.${d}`),
    fc.tuple(octet, octet).map(([c, d]) => `192.168.${c}.${d}`),
    fc.tuple(octet, octet).map(([c, d]) => `169.254.${c}.${d}`),
    fc.tuple(fc.integer({ min: 64, max: 127 }), octet, octet).map(([b, c, d]) => `100.${b}.${c}.${d}`),
  );
  fc.assert(
    fc.property(inRange, (ip) => {
      expect(isPublicAddress(ip)).toBe(false);
      expect(isPublicAddress(`::ffff:${ip}`)).toBe(false);
      expect(checkWebhookUrl(`https://${ip}/`, STRICT_TARGETS).ok).toBe(false);
    }),
  );
  expect(isPublicAddress('8.8.8.8')).toBe(true);
  expect(isPublicAddress('not an address')).toBe(false);
});
