import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { chromium } from 'playwright-core';
import { createHarness, type Harness } from '../support/harness';

// The OpenAPI 3.1 document is generated from the zod schemas that validate the requests, served
// at /openapi.json, and checked here with a standard validator; /docs renders it in a real
// headless browser without reaching anything but Herald itself.

const ROOT = path.resolve(__dirname, '../..');
const CHROMIUM = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';

let h: Harness;
let server: ReturnType<typeof serve>;
let origin: string;
let doc: any;
beforeAll(async () => {
  h = await createHarness();
  server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: h.app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const res = await fetch(`${origin}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await h.close();
});

/** @seriousme/openapi-schema-validator is ESM only: it runs in a node of its own. */
function validateWithStandardValidator(document: unknown): Promise<{ valid: boolean; errors?: unknown }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-openapi-'));
  const file = path.join(dir, 'openapi.json');
  writeFileSync(file, JSON.stringify(document));
  const script = `import { Validator } from '@seriousme/openapi-schema-validator';
    const v = new Validator();
    const result = await v.validate(${JSON.stringify(file)});
    console.log(JSON.stringify({ valid: result.valid, version: v.version, errors: result.errors }));`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT }, (err, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      if (err) reject(new Error(`validator failed: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

const operations = () =>
  Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([p, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ path: p, method, op })),
  );

test('the document is valid OpenAPI 3.1 for a standard validator', async () => {
  expect(doc.openapi).toBe('3.1.0');
  expect(await validateWithStandardValidator(doc)).toMatchObject({ valid: true, version: '3.1' });
});

test('it lists every route the app serves', () => {
  expect(
    operations()
      .map((o) => `${o.method.toUpperCase()} ${o.path}`)
      .sort(),
  ).toEqual(
    [
      'GET /healthz',
      'GET /readyz',
      'POST /v1/emails',
      'GET /v1/emails',
      'GET /v1/emails/{id}',
      'GET /v1/emails/{id}/events',
      'POST /v1/emails/{id}/cancel',
      'POST /v1/emails/{id}/reschedule',
      'POST /v1/emails/{id}/send-now',
      'POST /v1/emails/{id}/pause',
      'POST /v1/emails/{id}/resume',
      'POST /v1/emails/{id}/retry',
      'POST /v1/emails/retry',
      'POST /v1/emails/batch',
      'POST /v1/campaigns',
      'POST /v1/campaigns/{id}/recipients',
      'GET /v1/campaigns/{id}',
      'GET /v1/campaigns/{id}/recipients',
      'POST /v1/campaigns/{id}/start',
      'POST /v1/campaigns/{id}/pause',
      'POST /v1/campaigns/{id}/resume',
      'POST /v1/campaigns/{id}/cancel',
      'GET /v1/suppressions',
      'GET /v1/suppressions/{address}',
      'POST /v1/suppressions',
      'DELETE /v1/suppressions/{address}',
      'POST /v1/webhooks',
      'GET /v1/webhooks',
      'GET /v1/webhooks/{id}',
      'DELETE /v1/webhooks/{id}',
      'POST /v1/webhooks/{id}/rotate-secret',
      'POST /v1/webhooks/{id}/enable',
      'POST /v1/webhooks/{id}/test',
      'GET /v1/webhooks/{id}/deliveries',
      'POST /v1/webhooks/{id}/deliveries/{deliveryId}/resend',
      'GET /unsubscribe/{token}',
      'POST /unsubscribe/{token}',
    ].sort(),
  );
});

test('every /v1 route has the security scheme and its errors as problem+json; a body route its body errors', () => {
  expect(doc.components.securitySchemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer' });
  for (const { path: p, op } of operations().filter((o) => o.path.startsWith('/v1'))) {
    expect({ p, security: op.security }).toEqual({ p, security: [{ apiKey: [] }] });
    const statuses = Object.keys(op.responses);
    expect({ p, statuses }).toEqual({ p, statuses: expect.arrayContaining(['401', '403', '429']) });
    if (op.requestBody) expect({ p, statuses }).toEqual({ p, statuses: expect.arrayContaining(['400', '413', '415']) });
    for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
      if (Number(status) >= 400)
        expect(response.content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    }
  }
});

test('the limits the schemas enforce are in the document', () => {
  const email = doc.paths['/v1/emails'].post.requestBody.content['application/json'].schema;
  expect(email.properties.subject).toMatchObject({ maxLength: 998, minLength: 1 });
  expect(email.properties.to).toMatchObject({ maxItems: 100 });
  expect(email.properties.attachments).toMatchObject({ maxItems: 50 });
  expect(JSON.stringify(email.properties.headers)).toContain('DKIM-Signature');
});

/** Every problem code Herald answers: the slugs of src/api and the service's refusals. */
function problemCodes(): string[] {
  const codes = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(file);
      else for (const [, code] of readFileSync(file, 'utf8').matchAll(/new Problem\([^,]+, '([a-z-]+)'/g)) codes.add(code);
    }
  };
  walk(path.join(ROOT, 'src/api'));
  const errors = readFileSync(path.join(ROOT, 'src/deliveries/errors.ts'), 'utf8');
  for (const [, code] of errors.matchAll(/^\s+\| '([a-z-]+)'/gm)) codes.add(code);
  return [...codes].sort();
}

test('every error code is documented, in the document (but internal-error) and in the README', () => {
  const codes = problemCodes();
  expect(codes).toEqual(
    expect.arrayContaining(['validation-error', 'json-too-complex', 'not-found', 'sender-not-allowed', 'temporal-unavailable']),
  );
  const text = JSON.stringify(doc);
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  for (const code of codes) {
    if (code !== 'internal-error' && code !== 'http-error')
      expect({ code, inDocument: text.includes(code) }).toEqual({ code, inDocument: true });
    expect({ code, inReadme: readme.includes(`\`${code}\``) }).toEqual({ code, inReadme: true });
  }
});

test('/docs renders the API in a headless Chromium, offline: POST /v1/emails is on the page', async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM}: run scripts/ensure-chromium.sh (Debian's chromium package), or set HERALD_CHROMIUM`,
    );
  }
  const profile = mkdtempSync(path.join(tmpdir(), 'herald-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const elsewhere: string[] = [];
  const problems: string[] = [];
  try {
    // Anything but Herald itself is refused and remembered: the page must not need it.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    const res = await page.goto(`${origin}/docs`);
    expect(res?.status()).toBe(200);
    const submit = page.locator('.opblock.opblock-post', { has: page.locator('.opblock-summary-path[data-path="/v1/emails"]') });
    await submit.waitFor({ state: 'visible', timeout: 30_000 });
    expect(await submit.locator('.opblock-summary-method').innerText()).toBe('POST');
    await submit.locator('.opblock-summary').click();
    await page.locator('.opblock-body .opblock-section-request-body').first().waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('.info .title').innerText()).toContain('Herald');
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('the docs assets come from node_modules, and nothing else is served under /docs/assets', async () => {
  const bundle = await fetch(`${origin}/docs/assets/swagger-ui-bundle.js`);
  expect(bundle.status).toBe(200);
  expect(Buffer.from(await bundle.arrayBuffer()).equals(readFileSync(require.resolve('swagger-ui-dist/swagger-ui-bundle.js')))).toBe(true);
  for (const probe of ['package.json', '..%2Fpackage.json', '%2e%2e%2f%2e%2e%2fpackage.json', 'swagger-ui-bundle.js.map']) {
    const res = await fetch(`${origin}/docs/assets/${probe}`);
    expect({ probe, status: res.status }).toEqual({ probe, status: 404 });
  }
  const page = await fetch(`${origin}/docs`);
  expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
});
