import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import nodemailer from 'nodemailer';
import MailComposer from 'nodemailer/lib/mail-composer';
import pino from 'pino';
import { createTenantStore } from '../../src/db/tenants';
import { createDeliveryService, type DeliveryService } from '../../src/deliveries/service';
import { createDeliveryWorkflows } from '../../src/deliveries/workflows';
import { startSubmissionServer, type RunningSubmission, type SubmissionOptions } from '../../src/submission/server';
import { createTenantAdmin } from '../../src/tenants/admin';
import { createHarness, TEST_POLICY, validEmail, type Harness } from '../support/harness';
import { SmtpTestClient } from '../support/smtp-client';

// SMTP submission against the real parts: a listener on a free port in front of the one delivery
// service, the real worker, Temporal and PostgreSQL, and the scripted gateway (h.smtp) that shows
// what arrived. Clients: nodemailer, Python's smtplib, and a bare client for every reply code.

const fixtures = path.join(__dirname, '../fixtures/submission-tls');
const CA = readFileSync(path.join(fixtures, 'cert.pem'));
const TLS = { cert: CA, key: readFileSync(path.join(fixtures, 'key.pem')) };
const MAX_BYTES = 64 * 1024;
const logger = pino({ level: 'silent' });

let h: Harness;
let deliveries: DeliveryService;
/** Loopback may AUTH without TLS here (development); STARTTLS and implicit TLS are offered. */
let main: RunningSubmission;
/** Every client counts as remote (no AUTH before TLS); short timeouts; 2 sessions per tenant. */
let strict: RunningSubmission;
/** A shop tenant that sends from shop.example only, and another tenant. */
let shop: { id: string; key: string; readKey: string };
let other: { id: string; key: string };

function options(overrides: Partial<SubmissionOptions> = {}): SubmissionOptions {
  return {
    host: '127.0.0.1',
    port: 0,
    tls: TLS,
    maxMessageBytes: MAX_BYTES,
    maxRecipients: 5,
    maxConnections: 50,
    maxConnectionsPerTenant: 20,
    idleTimeoutMs: 30_000,
    dataTimeoutMs: 30_000,
    messageIdDomain: 'test.herald',
    ...overrides,
  };
}

beforeAll(async () => {
  h = await createHarness();
  deliveries = createDeliveryService({
    sql: h.sql,
    workflows: createDeliveryWorkflows(h.client, h.taskQueue),
    policy: TEST_POLICY,
    messageIdDomain: 'test.herald',
    logger,
  });
  const tenants = createTenantStore(h.sql);
  main = await startSubmissionServer({ deliveries, tenants, logger }, options({ tlsPort: 0 }));
  strict = await startSubmissionServer(
    { deliveries, tenants, logger },
    options({ plaintextAuthAllowed: () => false, idleTimeoutMs: 1_500, dataTimeoutMs: 3_000, maxConnectionsPerTenant: 2 }),
  );
  const admin = createTenantAdmin(h.sql);
  const shopId = `shop-${randomUUID().slice(0, 8)}`;
  await admin.createTenant(shopId, { name: 'shop', sendingDomains: ['shop.example'], ratePerSecond: 1000, burst: 1000 });
  shop = {
    id: shopId,
    key: (await admin.createKey(shopId, ['send', 'read'])).key,
    readKey: (await admin.createKey(shopId, ['read'])).key,
  };
  const otherId = `other-${randomUUID().slice(0, 8)}`;
  await admin.createTenant(otherId, { name: 'other', sendingDomains: ['other.example'], ratePerSecond: 1000, burst: 1000 });
  other = { id: otherId, key: (await admin.createKey(otherId, ['send'])).key };
});

afterAll(async () => {
  await main?.stop();
  await strict?.stop();
  await h?.close();
});

beforeEach(() => h.smtp.reset());

/** A session on a listener: EHLO, STARTTLS (unless told not to), EHLO, AUTH PLAIN with the key. */
async function session(key: string, { port = main.port, starttls = true } = {}) {
  const { client } = await SmtpTestClient.connect(port);
  await client.command('EHLO client.test');
  if (starttls) {
    expect((await client.starttls(CA)).code).toBe(220);
    await client.command('EHLO client.test');
  }
  const auth = await client.authPlain(key);
  expect(auth.last).toBe('235 2.7.0 Authentication successful');
  return client;
}

const message = (from: string, to: string, extra: string[] = []) =>
  [`From: ${from}`, `To: ${to}`, `Subject: test ${randomUUID()}`, ...extra, '', 'Hello over SMTP.', ''].join('\r\n');

/** Envelope and message in one transaction; the reply to the final dot. */
async function transaction(client: SmtpTestClient, from: string, to: string[], data: string) {
  expect((await client.command(`MAIL FROM:<${from}>`)).code).toBe(250);
  for (const rcpt of to) expect((await client.command(`RCPT TO:<${rcpt}>`)).code).toBe(250);
  return client.data(data);
}

const idOf = (reply: string) => /as ([0-9a-f-]{36})$/.exec(reply)?.[1] ?? '';

async function emailsOf(tenantId: string): Promise<number> {
  const [row] = await h.sql<Array<{ n: number }>>`select count(*)::int as n from emails where tenant_id = ${tenantId}`;
  return row.n;
}

async function getAs(key: string, url: string) {
  const res = await h.app.request(url, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: (await res.json()) as any };
}

describe('clients', () => {
  test('nodemailer over STARTTLS: one email of the tenant, delivered as submitted, Bcc gone, visible through the API', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: main.port,
      secure: false,
      requireTLS: true,
      auth: { user: shop.id, pass: shop.key },
      tls: { ca: CA, servername: 'localhost' },
    });
    const info = await transport.sendMail({
      from: '"Shop" <orders@shop.example>',
      to: 'alice@example.org',
      cc: 'bob@example.net',
      bcc: 'hidden@example.com',
      subject: 'Your order Ünïcode',
      text: 'Thanks for your order.',
      html: '<p>Thanks for your order.</p>',
      headers: { 'X-Order': '1234' },
      attachments: [{ filename: 'receipt.txt', content: 'Thanks!' }],
    });
    transport.close();
    expect(info.response).toMatch(/^250 2\.6\.0 Queued as [0-9a-f-]{36}$/);
    const id = idOf(info.response);

    const email = await waitForStatus(shop.key, id, ['sent']);
    expect(email).toMatchObject({
      source: 'smtp',
      messageId: info.messageId,
      from: { address: 'orders@shop.example', name: 'Shop' },
      subject: 'Your order Ünïcode',
    });
    expect(email.recipients.map((r: any) => [r.address, r.kind, r.status])).toEqual([
      ['hidden@example.com', 'bcc', 'accepted'],
      ['bob@example.net', 'cc', 'accepted'],
      ['alice@example.org', 'to', 'accepted'],
    ]);

    const [arrived, ...more] = h.smtp.byMessageId(info.messageId);
    expect(more).toEqual([]);
    expect(arrived.envelopeFrom).toBe('orders@shop.example');
    expect(arrived.envelopeTo.sort()).toEqual(['alice@example.org', 'bob@example.net', 'hidden@example.com']);
    expect(arrived.parsed.headers.get('x-order')).toBe('1234');
    expect(arrived.parsed.subject).toBe('Your order Ünïcode');
    expect(arrived.parsed.headers.has('bcc')).toBe(false);
    expect(arrived.raw.toString()).not.toContain('hidden@example.com');
    expect(arrived.parsed.attachments[0].content.toString()).toBe('Thanks!');
    expect(arrived.parsed.text?.trim()).toBe('Thanks for your order.');

    // Listed and filtered as SMTP; the timeline says who accepted it.
    const list = await getAs(shop.readKey, '/v1/emails?source=smtp');
    expect(list.body.data.map((e: any) => [e.id, e.source])).toContainEqual([id, 'smtp']);
    expect((await getAs(shop.readKey, '/v1/emails?source=api')).body.data.map((e: any) => e.id)).not.toContain(id);
    const events = await getAs(shop.readKey, `/v1/emails/${id}/events`);
    expect(events.body.data[0]).toMatchObject({ type: 'email.accepted', actor: 'smtp' });
  });

  test('nodemailer with AUTH LOGIN on the implicit TLS port; the message arrives byte for byte', async () => {
    const raw = await new Promise<Buffer>((resolve, reject) =>
      new MailComposer({
        from: 'orders@shop.example',
        to: 'dora@example.org',
        subject: 'exact',
        text: 'a\r\n.leading dot\r\nend',
        messageId: `<exact-${randomUUID()}@shop.example>`,
      })
        .compile()
        .build((err, m) => (err ? reject(err) : resolve(m))),
    );
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: main.tlsPort,
      secure: true,
      authMethod: 'LOGIN',
      auth: { user: 'ignored', pass: shop.key },
      tls: { ca: CA, servername: 'localhost' },
    });
    const info = await transport.sendMail({ envelope: { from: 'orders@shop.example', to: ['dora@example.org'] }, raw });
    transport.close();
    await waitForStatus(shop.key, idOf(info.response), ['sent']);
    const arrived = h.smtp.received.find((m) => m.envelopeTo.includes('dora@example.org'))!;
    expect(arrived.raw.equals(raw)).toBe(true);
  });

  test("Python's smtplib: STARTTLS, AUTH, a message without Message-ID and Date gets both, nothing else changes", async () => {
    const body = 'Plain body from Python.\r\n.dot line\r\n';
    const headers =
      'From: Py <py@shop.example>\r\nTo: eve@example.org\r\nBcc: spy@example.org\r\nSubject: from python\r\nX-Client: smtplib\r\n';
    const script = [
      'import os, smtplib, ssl',
      "ctx = ssl.create_default_context(cafile=os.environ['CA'])",
      "s = smtplib.SMTP('127.0.0.1', int(os.environ['PORT']), timeout=30)",
      's.starttls(context=ctx)',
      "s.login(os.environ['TENANT'], os.environ['KEY'])",
      "s.mail('py@shop.example')",
      "s.rcpt('eve@example.org')",
      "s.rcpt('spy@example.org')",
      "code, text = s.data(os.environ['MESSAGE'].encode())",
      'print(code, text.decode())',
      's.quit()',
    ].join('\n');
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        'python3',
        ['-c', script],
        {
          env: {
            ...process.env,
            CA: path.join(fixtures, 'cert.pem'),
            PORT: String(main.port),
            TENANT: shop.id,
            KEY: shop.key,
            MESSAGE: `${headers}\r\n${body}`,
          },
        },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim())),
      ),
    );
    expect(out).toMatch(/^250 2\.6\.0 Queued as [0-9a-f-]{36}$/);
    const email = await waitForStatus(shop.key, idOf(out), ['sent']);
    const arrived = h.smtp.byMessageId(email.messageId);
    expect(arrived).toHaveLength(1);
    const text = arrived[0].raw.toString();
    expect(text).toMatch(
      /^Message-ID: <[0-9a-f-]{36}@test\.herald>\r\nDate: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/,
    );
    expect(text.slice(text.indexOf('From: '))).toBe(`${headers.replace('Bcc: spy@example.org\r\n', '')}\r\n${body}`);
    expect(arrived[0].envelopeTo.sort()).toEqual(['eve@example.org', 'spy@example.org']);
  });
});

async function waitForStatus(key: string, id: string, statuses: string[]) {
  const deadline = Date.now() + 30_000;
  let last: any;
  while (Date.now() < deadline) {
    last = (await getAs(key, `/v1/emails/${id}`)).body;
    if (statuses.includes(last.status)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`email ${id} did not reach ${statuses.join('|')}; last: ${JSON.stringify(last)}`);
}

describe('authentication', () => {
  test('EHLO announces SIZE, enhanced status codes, STARTTLS and AUTH PLAIN LOGIN', async () => {
    const { client, greeting } = await SmtpTestClient.connect(main.port);
    expect(greeting.code).toBe(220);
    const ehlo = await client.command('EHLO client.test');
    expect(ehlo.lines).toEqual(
      expect.arrayContaining([`SIZE ${MAX_BYTES}`, 'ENHANCEDSTATUSCODES', 'STARTTLS', 'AUTH PLAIN LOGIN', '8BITMIME', 'PIPELINING']),
    );
    await client.quit();
  });

  test('no relaying without AUTH, ever: MAIL answers 530 5.7.0', async () => {
    const { client } = await SmtpTestClient.connect(main.port);
    await client.command('EHLO client.test');
    expect((await client.command('MAIL FROM:<orders@shop.example>')).last).toMatch(/^530 5\.7\.0 /);
    await client.quit();
  });

  test.each([
    ['not a key', () => 'password'],
    ['an unknown key', () => `hk_000000000000_${'A'.repeat(43)}`],
  ])('%s: 535 5.7.8', async (_what, key) => {
    const { client } = await SmtpTestClient.connect(main.port);
    await client.command('EHLO client.test');
    await client.starttls(CA);
    await client.command('EHLO client.test');
    expect((await client.authPlain(key())).last).toMatch(/^535 5\.7\.8 /);
    await client.quit();
  });

  test('a key without the send scope: 535 5.7.8', async () => {
    const { client } = await SmtpTestClient.connect(main.port);
    await client.command('EHLO client.test');
    expect((await client.authPlain(shop.readKey)).last).toBe('535 5.7.8 This API key does not have the send scope');
    await client.quit();
  });

  test('a client not on loopback must start TLS before AUTH: 538 5.7.11, then STARTTLS and AUTH work', async () => {
    const { client } = await SmtpTestClient.connect(strict.port);
    await client.command('EHLO client.test');
    expect((await client.authPlain(shop.key)).last).toMatch(/^538 5\.7\.11 Encryption required/);
    expect((await client.command('AUTH LOGIN')).last).toMatch(/^538 5\.7\.11 /);
    await client.starttls(CA);
    await client.command('EHLO client.test');
    expect((await client.authPlain(shop.key)).code).toBe(235);
    await client.quit();
  });

  test('a revoked key stops the session at its next message', async () => {
    const admin = createTenantAdmin(h.sql);
    const { row, key } = await admin.createKey(shop.id, ['send']);
    const client = await session(key);
    await admin.revokeKey(row.id);
    expect((await client.command('MAIL FROM:<orders@shop.example>')).last).toMatch(/^550 5\.7\.8 /);
    await client.quit();
  });
});

describe('sending domains', () => {
  test("MAIL FROM outside the tenant's domains: 550 5.7.1", async () => {
    const client = await session(shop.key);
    expect((await client.command('MAIL FROM:<ceo@bank.example>')).last).toBe('550 5.7.1 This tenant may not send from bank.example');
    await client.quit();
  });

  test("another tenant's key with this tenant's domain: 550 5.7.1, nothing stored", async () => {
    const before = await emailsOf(other.id);
    const client = await session(other.key);
    expect((await client.command('MAIL FROM:<orders@shop.example>')).last).toBe('550 5.7.1 This tenant may not send from shop.example');
    await client.quit();
    expect(await emailsOf(other.id)).toBe(before);
  });

  test("a From field outside the tenant's domains, under an allowed MAIL FROM: 550 5.7.1 at the dot, nothing stored", async () => {
    const before = await emailsOf(shop.id);
    const client = await session(shop.key);
    const reply = await transaction(client, 'bounces@shop.example', ['x@example.org'], message('CEO <ceo@bank.example>', 'x@example.org'));
    expect(reply.last).toBe('550 5.7.1 This tenant may not send from bank.example');
    await client.quit();
    expect(await emailsOf(shop.id)).toBe(before);
  });
});

describe('replies', () => {
  test('syntax: 5.5.x for commands, 5.1.x for addresses, 5.6.0 for a message without From', async () => {
    const client = await session(shop.key);
    const replies: string[] = [];
    for (const c of [
      'FOO',
      'MAIL FROM:orders@shop.example',
      'MAIL FROM:<orders@localhost>',
      'MAIL FROM:<orders@shop.example>',
      'RCPT TO:<bad@@example.org>',
      'RCPT TO:<x@nodot>',
      'DATA',
    ]) {
      replies.push((await client.command(c)).last);
    }
    expect(replies).toEqual([
      '500 5.5.2 Error: command not recognized',
      '501 5.1.7 Error: Bad sender address syntax',
      // Parsed by smtp-server, refused by the address rule of the API.
      '553 5.1.7 Bad sender address syntax',
      '250 2.1.0 Accepted',
      '501 5.1.3 Error: Bad recipient address syntax',
      '553 5.1.3 Bad recipient address syntax',
      '503 5.5.1 Error: need RCPT command',
    ]);
    expect((await client.command('RCPT TO:<ok@example.org>')).code).toBe(250);
    expect((await client.data('Subject: no from\r\n\r\nbody\r\n')).last).toBe(
      '550 5.6.0 Message refused: the message needs a From field with an address',
    );
    await client.quit();
  });

  test('over the size limit: 552 5.3.4 when declared at MAIL, and at the dot when not; nothing stored', async () => {
    const before = await emailsOf(shop.id);
    const client = await session(shop.key);
    expect((await client.command(`MAIL FROM:<orders@shop.example> SIZE=${MAX_BYTES + 1}`)).last).toMatch(/^552 5\.3\.4 /);
    const big = message('orders@shop.example', 'big@example.org', [`X-Pad: ${'x'.repeat(MAX_BYTES)}`]);
    expect((await transaction(client, 'orders@shop.example', ['big@example.org'], big)).last).toMatch(/^552 5\.3\.4 /);
    // The session goes on.
    expect((await client.command('NOOP')).code).toBe(250);
    await client.quit();
    expect(await emailsOf(shop.id)).toBe(before);
  });

  test('recipients per message: the one past the limit answers 452 4.5.3', async () => {
    const client = await session(shop.key);
    await client.command('MAIL FROM:<orders@shop.example>');
    for (let i = 0; i < 5; i++) expect((await client.command(`RCPT TO:<r${i}@example.org>`)).code).toBe(250);
    expect((await client.command('RCPT TO:<r5@example.org>')).last).toMatch(/^452 4\.5\.3 /);
    await client.quit();
  });

  test('over the request rate: 451 4.7.0 at MAIL, with when to try again', async () => {
    const id = `rate-${randomUUID().slice(0, 8)}`;
    const admin = createTenantAdmin(h.sql);
    await admin.createTenant(id, { name: 'rate', sendingDomains: ['rate.example'], ratePerSecond: 0.01, burst: 2 });
    const { key } = await admin.createKey(id, ['send']);
    const client = await session(key); // AUTH is one request, the first message another
    expect((await client.command('MAIL FROM:<a@rate.example>')).code).toBe(250);
    await client.command('RSET');
    expect((await client.command('MAIL FROM:<a@rate.example>')).last).toMatch(
      /^451 4\.7\.0 Too many requests for this tenant, try again in \d+ s$/,
    );
    await client.quit();
  });

  test('over the daily quota: 451 4.7.0 at the dot, nothing stored', async () => {
    const id = `quota-${randomUUID().slice(0, 8)}`;
    const admin = createTenantAdmin(h.sql);
    await admin.createTenant(id, { name: 'quota', sendingDomains: ['quota.example'], dailyQuota: 0, ratePerSecond: 1000, burst: 1000 });
    const { key } = await admin.createKey(id, ['send']);
    const client = await session(key);
    const reply = await transaction(client, 'a@quota.example', ['q@example.org'], message('a@quota.example', 'q@example.org'));
    expect(reply.last).toMatch(/^451 4\.7\.0 The daily quota of 0 emails is used up, try again in \d+ s$/);
    await client.quit();
    expect(await emailsOf(id)).toBe(0);
  });

  test('connections per tenant: the one past the limit answers 421 4.7.0 and is closed; others go on', async () => {
    const first = await session(shop.key, { port: strict.port });
    const second = await session(shop.key, { port: strict.port });
    const { client: third } = await SmtpTestClient.connect(strict.port);
    await third.command('EHLO client.test');
    await third.starttls(CA);
    await third.command('EHLO client.test');
    expect((await third.authPlain(shop.key)).last).toMatch(/^421 4\.7\.0 Too many connections for this tenant/);
    await third.closed;
    // Another tenant is not held back, and a closed session frees its place.
    const others = await session(other.key, { port: strict.port });
    await first.quit();
    await new Promise((r) => setTimeout(r, 100));
    const again = await session(shop.key, { port: strict.port });
    for (const c of [second, others, again]) await c.quit();
  });

  test('a client too slow to finish its message is cut off with 421 4.4.2; nothing stored; others are served', async () => {
    const before = await emailsOf(shop.id);
    const slow = await session(shop.key, { port: strict.port });
    await slow.command('MAIL FROM:<orders@shop.example>');
    await slow.command('RCPT TO:<slow@example.org>');
    expect((await slow.command('DATA')).code).toBe(354);
    // A byte every 300 ms: never idle, but the message never ends.
    const trickle = setInterval(() => slow.write('x'), 300);
    // Meanwhile another client of the same listener submits and is answered.
    const meanwhile = await session(other.key, { port: strict.port });
    const served = await transaction(
      meanwhile,
      'news@other.example',
      ['fast@example.org'],
      message('news@other.example', 'fast@example.org'),
    );
    expect(served.code).toBe(250);
    await meanwhile.quit();
    const reply = await slow.read(10_000).finally(() => clearInterval(trickle));
    expect(reply.last).toBe('421 4.4.2 The message did not arrive in time, closing');
    await slow.closed;
    expect(await emailsOf(shop.id)).toBe(before);
  });

  test('an idle client is cut off with 421', async () => {
    const { client } = await SmtpTestClient.connect(strict.port);
    await client.command('EHLO client.test');
    expect((await client.read(10_000)).last).toMatch(/^421 4\.4\.2 /);
    await client.closed;
  });

  test('a client that hangs up before the final dot stores nothing', async () => {
    const before = await emailsOf(shop.id);
    const client = await session(shop.key);
    await client.command('MAIL FROM:<orders@shop.example>');
    await client.command('RCPT TO:<cut@example.org>');
    await client.command('DATA');
    client.write('From: orders@shop.example\r\nTo: cut@example.org\r\nSubject: cut\r\n\r\nhalf a mess');
    await new Promise((r) => setTimeout(r, 200));
    client.destroy();
    await new Promise((r) => setTimeout(r, 500));
    expect(await emailsOf(shop.id)).toBe(before);
    expect(h.smtp.rcptCalls).not.toContain('cut@example.org');
  });
});

describe('idempotency and the 250', () => {
  test('a resend with the same X-Herald-Idempotency-Key is answered with the same email and delivered once', async () => {
    const key = `order-${randomUUID()}`;
    const data = message('orders@shop.example', 'once@example.org', [`X-Herald-Idempotency-Key: ${key}`]);
    const first = await session(shop.key);
    const a = await transaction(first, 'orders@shop.example', ['once@example.org'], data);
    await first.quit();
    const second = await session(shop.key);
    const b = await transaction(second, 'orders@shop.example', ['once@example.org'], data);
    expect(a.last).toMatch(/^250 2\.6\.0 Queued as /);
    expect(b.last).toBe(`250 2.6.0 Already queued as ${idOf(a.last)}`);
    // The same key with another envelope is another message: refused, not merged.
    const c = await transaction(second, 'orders@shop.example', ['someone-else@example.org'], data);
    expect(c.last).toMatch(/^550 5\.7\.0 /);
    await second.quit();
    const email = await waitForStatus(shop.key, idOf(a.last), ['sent']);
    expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
    expect(h.smtp.received.filter((m) => m.parsed.headers.has('x-herald-idempotency-key'))).toEqual([]);
  });

  test('a Message-ID used again with another envelope is another message, not a resend: accepted as a new email', async () => {
    const data = message('orders@shop.example', 'm1@example.org', [`Message-ID: <reused-${randomUUID()}@shop.example>`]);
    const client = await session(shop.key);
    const a = await transaction(client, 'orders@shop.example', ['m1@example.org'], data);
    const b = await transaction(client, 'orders@shop.example', ['m2@example.org'], data);
    const c = await transaction(client, 'orders@shop.example', ['m1@example.org'], data);
    await client.quit();
    expect(a.last).toMatch(/^250 2\.6\.0 Queued as /);
    expect(b.last).toMatch(/^250 2\.6\.0 Queued as /);
    expect(idOf(b.last)).not.toBe(idOf(a.last));
    expect(c.last).toBe(`250 2.6.0 Already queued as ${idOf(a.last)}`);
  });

  test('Temporal unreachable: 451 4.3.0 (the client keeps the message); its resend with the same Message-ID is delivered once', async () => {
    const real = createDeliveryWorkflows(h.client, h.taskQueue);
    const down = createDeliveryService({
      sql: h.sql,
      workflows: { ...real, start: () => Promise.reject(new Error('Temporal is down')) },
      policy: TEST_POLICY,
      messageIdDomain: 'test.herald',
      logger,
    });
    const broken = await startSubmissionServer({ deliveries: down, tenants: createTenantStore(h.sql), logger }, options());
    try {
      const messageId = `<retry-${randomUUID()}@shop.example>`;
      const data = message('orders@shop.example', 'later@example.org', [`Message-ID: ${messageId}`]);
      const client = await session(shop.key, { port: broken.port });
      expect((await transaction(client, 'orders@shop.example', ['later@example.org'], data)).last).toBe(
        '451 4.3.0 Temporary failure, try again',
      );
      await client.quit();
      // No key at all: nothing is kept.
      const before = await emailsOf(shop.id);
      const again = await session(shop.key, { port: broken.port });
      expect(
        (
          await transaction(
            again,
            'orders@shop.example',
            ['nokey@example.org'],
            message('orders@shop.example', 'nokey@example.org', ['Message-ID:']),
          )
        ).code,
      ).toBe(451);
      await again.quit();
      expect(await emailsOf(shop.id)).toBe(before);

      const retry = await session(shop.key);
      const reply = await transaction(retry, 'orders@shop.example', ['later@example.org'], data);
      await retry.quit();
      expect(reply.code).toBe(250);
      await waitForStatus(shop.key, idOf(reply.last), ['sent']);
      expect(h.smtp.byMessageId(messageId)).toHaveLength(1);
    } finally {
      await broken.stop();
    }
  });

  test('an email from the API and one over SMTP sit side by side in one list', async () => {
    const api = await h.post(validEmail({ to: ['side@example.org'] }));
    expect(api.status).toBe(202);
    const client = await session(h.apiKey);
    const reply = await transaction(client, 'anyone@any.example', ['side@example.org'], message('anyone@any.example', 'side@example.org'));
    await client.quit();
    const list = (await (await h.request('/v1/emails?recipient=side@example.org')).json()) as any;
    expect(list.data.map((e: any) => e.source).sort()).toEqual(['api', 'smtp']);
    expect(idOf(reply.last)).not.toBe('');
  });
});
