import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTenantStore } from '../../src/db/tenants';
import { createTenantAdmin } from '../../src/tenants/admin';
import { createHarness, type Harness } from '../support/harness';
import { temporalCliOk } from '../support/temporal-cli';

// Campaigns end to end on the real parts: uploads streamed into PostgreSQL, the campaign
// workflow handing recipients to deliverEmail, the scripted SMTP server receiving them. Small
// pages, a small window and few steps per run: every campaign here continues as new.

let h: Harness;
beforeAll(async () => {
  // Emails held by the gateway must not give up while a test waits on a busy machine, and they
  // retry seldom: these tests steer campaigns, not the timing of retries.
  h = await createHarness({
    campaigns: { pageSize: 5, window: 10, pagesPerRun: 3 },
    webhooks: {},
    policy: { initialIntervalMs: 5_000, maximumIntervalMs: 5_000, giveUpAfterMs: 10 * 60_000 },
  });
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.smtp.reset());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let domainCounter = 0;
/** A recipient domain of this test alone (the SMTP server is shared by the file). */
const freshDomain = () => `c${++domainCounter}-${Date.now().toString(36)}.example.org`;

async function json(res: Response) {
  return { status: res.status, body: (await res.json()) as any };
}

async function createCampaign(body: Record<string, unknown> = {}) {
  const res = await json(
    await h.request('/v1/campaigns', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        from: 'news@herald.test',
        subject: 'Hello {{first}}',
        text: 'Dear {{first}}, you owe {{amount}}.',
        html: '<p>Dear {{first}}</p>',
        tags: ['spring'],
        ...body,
      }),
    }),
  );
  expect(res.status).toBe(201);
  return res.body.id as string;
}

function upload(id: string, text: string, type = 'text/csv') {
  return h.request(`/v1/campaigns/${id}/recipients`, { method: 'POST', headers: { 'content-type': type }, body: text }).then(json);
}

const post = (path: string, body?: unknown) =>
  h
    .request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    .then(json);
const get = (path: string) => h.request(path).then(json);

async function waitFor<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await fn();
    if (ok(last)) return last;
    await sleep(150);
  } while (Date.now() < deadline);
  throw new Error(`${what} not reached in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

const campaignOf = (id: string) => get(`/v1/campaigns/${id}`).then((r) => r.body);
const receivedBy = (domain: string) => h.smtp.received.filter((m) => m.envelopeTo.some((a) => a.endsWith(`@${domain}`)));

/** A campaign of n recipients a0..a(n-1)@domain, uploaded as CSV. */
async function campaignOfSize(n: number, domain: string, extra: Record<string, unknown> = {}) {
  const id = await createCampaign(extra);
  const rows = Array.from({ length: n }, (_, i) => `a${i}@${domain},P${i},${i}`).join('\n');
  expect((await upload(id, `email,first,amount\n${rows}\n`)).body.added).toBe(n);
  return id;
}

describe('a campaign from upload to completion', () => {
  test('CSV and NDJSON uploads: duplicates counted, invalid rows reported by line; every recipient gets one personalized message', async () => {
    const d = freshDomain();
    const id = await createCampaign();
    const csv = [
      'email,first,amount',
      `ann@${d},<b>Ann</b>,10`,
      `bob@${d},Bob,20`,
      `ANN@${d},Ann again,30`, // the same address: a duplicate
      `not-an-address,X,1`,
      `cat@${d},Cat`, // a field short
      `dan@${d},"Dan\r\nBcc: evil@example.org",5`, // a header injection through the subject
      `eve@${d},Eve,7`,
      `sup@${d},Sup,3`, // on the tenant's suppression list: skipped, counted
    ].join('\r\n');
    const suppressedBefore = await h.request('/v1/suppressions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ address: `sup@${d}`, reason: 'asked not to be mailed' }),
    });
    expect(suppressedBefore.status).toBe(201);
    const first = await upload(id, csv);
    expect(first).toEqual({
      status: 200,
      body: {
        added: 3,
        duplicates: 1,
        suppressed: 1,
        invalid: 3,
        invalidRows: [
          { line: 5, error: 'email: must be an email address (local@domain)' },
          { line: 6, error: 'not as many fields as the header has columns' },
          { line: 7, error: expect.stringMatching(/^first: used in the subject/) },
        ],
        recipients: 3,
      },
    });
    const ndjson = [
      `{"email":"fay@${d}","first":"Fay","amount":1}`,
      `{"email":"bob@${d}","first":"Bob","amount":2}`,
      `{"email":"gus@${d}","first":"Gus"}`,
      `{"email":"hal@${d}","first":"Hal","amount":true}`,
    ].join('\n');
    const second = await upload(id, ndjson, 'application/x-ndjson');
    expect(second.body).toEqual({
      added: 2,
      duplicates: 1,
      suppressed: 0,
      invalid: 1,
      invalidRows: [{ line: 3, error: 'amount: missing (the templates use {{amount}})' }],
      recipients: 5,
    });

    const started = await post(`/v1/campaigns/${id}/start`);
    expect(started.status).toBe(202);
    expect(started.body.status).toBe('running');
    const done = await waitFor(
      'completed',
      () => campaignOf(id),
      (c) => c.status === 'completed',
    );
    expect(done).toMatchObject({
      recipients: 5,
      duplicates: 2,
      suppressed: 1,
      invalid: 4,
      counts: { waiting: 0, sent: 5, failed: 0, cancelled: 0, queued: 0 },
    });

    // One message per address, rendered for its recipient, with the email's own Message-ID.
    const got = receivedBy(d);
    expect(got.map((m) => m.envelopeTo[0]).sort()).toEqual([`ann@${d}`, `bob@${d}`, `eve@${d}`, `fay@${d}`, `hal@${d}`]);
    const ann = got.find((m) => m.envelopeTo[0] === `ann@${d}`)!;
    expect(ann.parsed.subject).toBe('Hello <b>Ann</b>');
    expect(ann.parsed.text?.trim()).toBe('Dear <b>Ann</b>, you owe 10.');
    expect(ann.parsed.html).toContain('<p>Dear &lt;b&gt;Ann&lt;/b&gt;</p>');
    expect(got.find((m) => m.envelopeTo[0] === `hal@${d}`)!.parsed.text).toContain('you owe true.');

    // Its recipients, paginated, each with its email, which is an email like any other.
    const page1 = await get(`/v1/campaigns/${id}/recipients?limit=3&status=sent`);
    expect(page1.body.data.map((r: any) => r.email)).toEqual([`ann@${d}`, `bob@${d}`, `eve@${d}`]);
    const page2 = await get(`/v1/campaigns/${id}/recipients?limit=3&status=sent&cursor=${page1.body.nextCursor}`);
    expect(page2.body.data.map((r: any) => r.email)).toEqual([`fay@${d}`, `hal@${d}`]);
    expect(page2.body.nextCursor).toBeNull();
    const email = await h.getEmail(page1.body.data[0].emailId);
    expect(email).toMatchObject({
      status: 'sent',
      subject: 'Hello <b>Ann</b>',
      messageId: `<${page1.body.data[0].emailId}@test.herald>`,
      metadata: { campaignId: id },
    });
    expect(ann.messageId).toBe(email.messageId);

    // Five recipients, pages of five or fewer, three steps a run: it continued as new.
    const { count } = await h.client.workflow.count(`WorkflowId = "campaign-${id}"`);
    expect(count).toBeGreaterThanOrEqual(2);
    const runs = await h.client.workflow.getHandle(`campaign-${id}`).query<any>('state');
    expect(runs).toMatchObject({ status: 'completed', handedOver: 5 });
    expect(runs.runs).toBeGreaterThan(1);
  });

  test('a completed campaign tells the webhook endpoints that subscribed to campaign.completed', async () => {
    const bodies: any[] = [];
    const receiver = http.createServer((req, res) => {
      let body = '';
      req
        .on('data', (c) => (body += c))
        .on('end', () => {
          bodies.push({ headers: req.headers, event: JSON.parse(body) });
          res.writeHead(204).end();
        });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', () => r()));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
      const hook = await json(
        await h.request('/v1/webhooks', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ url, events: ['campaign.completed'] }),
        }),
      );
      expect(hook.status).toBe(201);
      const d = freshDomain();
      const id = await campaignOfSize(3, d);
      await post(`/v1/campaigns/${id}/start`);
      await waitFor(
        'completed',
        () => campaignOf(id),
        (c) => c.status === 'completed',
        60_000,
      );
      await waitFor(
        'the webhook',
        async () => bodies,
        (b) => b.length > 0,
        30_000,
      );
      expect(bodies).toHaveLength(1); // only campaign.completed, not the emails' own events
      expect(bodies[0].headers['webhook-id']).toMatch(/^msg_/);
      expect(bodies[0].event).toMatchObject({
        type: 'campaign.completed',
        data: { campaignId: id, tenantId: h.tenantId, status: 'completed', recipients: 3, counts: { sent: 3, waiting: 0 } },
      });
      await h.request(`/v1/webhooks/${hook.body.id}`, { method: 'DELETE' });
    } finally {
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  test('continue-as-new keeps the place: 23 recipients, 3 steps a run, each sent once', async () => {
    const d = freshDomain();
    const id = await campaignOfSize(23, d);
    await post(`/v1/campaigns/${id}/start`);
    await waitFor(
      'completed',
      () => campaignOf(id),
      (c) => c.status === 'completed',
      60_000,
    );
    const got = receivedBy(d).map((m) => m.envelopeTo[0]);
    expect(new Set(got).size).toBe(23);
    expect(got).toHaveLength(23);
    const { count } = await h.client.workflow.count(`WorkflowId = "campaign-${id}"`);
    expect(count).toBeGreaterThanOrEqual(3);
  });

  test('sendAt: started now, sends later', async () => {
    const d = freshDomain();
    const id = await campaignOfSize(2, d, { sendAt: new Date(Date.now() + 2500).toISOString() });
    await post(`/v1/campaigns/${id}/start`);
    await sleep(1000);
    expect(receivedBy(d)).toHaveLength(0);
    expect((await campaignOf(id)).counts.waiting).toBe(2);
    await waitFor(
      'completed',
      () => campaignOf(id),
      (c) => c.status === 'completed',
    );
    expect(receivedBy(d)).toHaveLength(2);
  });
});

describe('steering a campaign as a whole', () => {
  /** Holds every message of the domain (451) except the first `pass` addresses. */
  function holdAllBut(domain: string, pass: number) {
    h.smtp.onRcpt = (address) => {
      const m = /^a(\d+)@(.*)$/.exec(address);
      return m && m[2] === domain && Number(m[1]) >= pass ? { code: 451, message: '4.7.1 held by the test' } : undefined;
    };
  }

  async function pauseAndResume(id: string, d: string, pause: () => Promise<void>, resume: () => Promise<void>, actor: string) {
    holdAllBut(d, 0);
    await post(`/v1/campaigns/${id}/start`);
    // The window fills with emails retrying against the held gateway.
    await waitFor(
      'window full',
      () => campaignOf(id),
      (c) => c.counts.retrying + c.counts.sending + c.counts.queued === 10,
    );
    await pause();
    const paused = await waitFor(
      'emails paused',
      () => campaignOf(id),
      (c) => c.status === 'paused' && c.counts.paused === 10,
    );
    expect(paused).toMatchObject({ statusChangedBy: actor, counts: { waiting: 2, sent: 0 } });
    // The gateway takes everything now; a paused campaign still sends nothing.
    h.smtp.reset();
    await sleep(2000);
    expect(receivedBy(d)).toHaveLength(0);
    expect((await campaignOf(id)).counts).toMatchObject({ paused: 10, waiting: 2 });
    await resume();
    await waitFor(
      'completed',
      () => campaignOf(id),
      (c) => c.status === 'completed',
    );
    const got = receivedBy(d).map((m) => m.envelopeTo[0]);
    expect(got).toHaveLength(12);
    expect(new Set(got).size).toBe(12);
  }

  test('pause holds what has not been sent, resume sends the rest, each once (API)', async () => {
    const d = freshDomain();
    const id = await campaignOfSize(12, d);
    await pauseAndResume(
      id,
      d,
      async () => {
        const res = await post(`/v1/campaigns/${id}/pause`, { reason: 'checking the list' });
        expect(res.status).toBe(200);
        expect(res.body.status).toBe('paused');
        expect((await post(`/v1/campaigns/${id}/pause`)).status).toBe(409);
      },
      async () => {
        // No body, no Content-Type: what `curl -X POST` sends.
        const res = await h.request(`/v1/campaigns/${id}/resume`, { method: 'POST' });
        expect(res.status).toBe(200);
      },
      'api',
    );
  });

  test('the same from the temporal CLI: signals pause and resume', async () => {
    const d = freshDomain();
    const id = await campaignOfSize(12, d);
    await pauseAndResume(
      id,
      d,
      () => temporalCliOk(['workflow', 'signal', '--workflow-id', `campaign-${id}`, '--name', 'pause']).then(() => undefined),
      () => temporalCliOk(['workflow', 'update', 'execute', '--workflow-id', `campaign-${id}`, '--name', 'resume']).then(() => undefined),
      'temporal',
    );
  });

  async function cancelMidway(cancel: (id: string) => Promise<void>) {
    const d = freshDomain();
    const id = await campaignOfSize(15, d);
    holdAllBut(d, 3);
    await post(`/v1/campaigns/${id}/start`);
    // Three sent, ten held (the window), two never handed over.
    await waitFor(
      'three sent, the window full',
      () => campaignOf(id),
      (c) => c.counts.sent === 3 && c.counts.retrying + c.counts.sending + c.counts.queued === 10,
    );
    await cancel(id);
    const cancelled = await waitFor(
      'cancelled',
      () => campaignOf(id),
      (c) => c.status === 'cancelled' && c.counts.cancelled === 10,
    );
    // Sent mail stays sent; the emails under way are cancelled; the last two are never handed over.
    expect(cancelled.counts).toMatchObject({ sent: 3, cancelled: 10, waiting: 2, retrying: 0, queued: 0 });
    h.smtp.reset();
    await sleep(1500);
    expect(
      receivedBy(d)
        .map((m) => m.envelopeTo[0])
        .sort(),
    ).toEqual([`a0@${d}`, `a1@${d}`, `a2@${d}`]);
    expect((await post(`/v1/campaigns/${id}/resume`)).status).toBe(409);
    expect((await upload(id, `email,first,amount\nx@${d},X,1\n`)).status).toBe(409);
    return id;
  }

  test('cancel cancels the rest and leaves sent mail sent (API)', async () => {
    await cancelMidway(async (id) => {
      const res = await post(`/v1/campaigns/${id}/cancel`, { reason: 'wrong list' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: 'cancelled', statusReason: 'wrong list' });
    });
  });

  test('the same from the temporal CLI: workflow cancel', async () => {
    const id = await cancelMidway(async (id) => {
      await temporalCliOk(['workflow', 'cancel', '--workflow-id', `campaign-${id}`]);
    });
    const description = await h.client.workflow.getHandle(`campaign-${id}`).describe();
    expect(description.status.name).toBe('CANCELLED');
  });

  test('a draft can be cancelled; pause and resume need a started campaign', async () => {
    const id = await campaignOfSize(1, freshDomain());
    expect((await post(`/v1/campaigns/${id}/pause`)).status).toBe(409);
    expect((await post(`/v1/campaigns/${id}/cancel`)).body.status).toBe('cancelled');
    expect((await post(`/v1/campaigns/${id}/start`)).status).toBe(409);
  });
});

describe('refusals', () => {
  test('templates are checked at creation: syntax, helpers, unescaped html, declared variables', async () => {
    const create = (body: Record<string, unknown>) =>
      post('/v1/campaigns', { from: 'news@herald.test', subject: 'Hi', text: 'x', ...body });
    expect((await create({ html: '<p>{{#if vip}}VIP{{/if}}</p>' })).body.errors[0].field).toBe('html');
    expect((await create({ html: '<p>{{{bio}}}</p>' })).status).toBe(400);
    const typo = await create({ subject: 'Hi {{frist}}', variables: ['first'] });
    expect(typo.status).toBe(400);
    expect(typo.body.errors[0]).toEqual({ field: 'subject', message: expect.stringContaining('unknown variable {{frist}}') });
    expect((await create({ text: undefined })).status).toBe(400);
    expect((await create({ subject: 'Hi\r\nBcc: x@example.org' })).status).toBe(400);
    expect((await create({ ratePerSecond: 0 })).status).toBe(400);
  });

  test('an upload: a CSV header without a variable the templates use, or another content type, keeps nothing', async () => {
    const id = await createCampaign();
    const res = await upload(id, 'email,first\nann@example.org,Ann\n');
    expect(res.status).toBe(400);
    expect(res.body.detail).toMatch(/lacks the column amount/);
    expect((await upload(id, '{}', 'application/json')).status).toBe(415);
    // A CSV unreadable past a line keeps nothing, not even the rows before it.
    expect((await upload(id, 'email,first,amount\nann@example.org,Ann,1\nbob@example.org,"Bob,2\n')).status).toBe(400);
    expect((await campaignOf(id)).recipients).toBe(0);
    expect((await post(`/v1/campaigns/${id}/start`)).body.type).toMatch(/no-recipients/);
  });

  test('keys: scopes per route, and another tenant sees nothing', async () => {
    const id = await campaignOfSize(1, freshDomain());
    const admin = createTenantAdmin(h.sql);
    const readOnly = (await admin.createKey(h.tenantId, ['read'])).key;
    const as = (key: string, path: string, init: RequestInit = {}) =>
      h.request(path, {
        ...init,
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers as any) },
      });
    expect((await as(readOnly, '/v1/campaigns', { method: 'POST', body: '{}' })).status).toBe(403);
    expect((await as(readOnly, `/v1/campaigns/${id}/start`, { method: 'POST' })).status).toBe(403);
    expect((await as(readOnly, `/v1/campaigns/${id}/pause`, { method: 'POST' })).status).toBe(403);
    expect((await as(readOnly, `/v1/campaigns/${id}`)).status).toBe(200);

    const other = `other-${Date.now().toString(36)}`;
    await createTenantStore(h.sql).create({ id: other, name: 'other', anySendingDomain: true, ratePerSecond: 1000, burst: 1000 });
    const otherKey = (await admin.createKey(other, ['send', 'read', 'operate'])).key;
    for (const [path, method] of [
      [`/v1/campaigns/${id}`, 'GET'],
      [`/v1/campaigns/${id}/recipients`, 'GET'],
      [`/v1/campaigns/${id}/start`, 'POST'],
      [`/v1/campaigns/${id}/cancel`, 'POST'],
    ]) {
      expect((await as(otherKey, path, { method })).status).toBe(404);
    }
    expect(
      (
        await as(otherKey, `/v1/campaigns/${id}/recipients`, {
          method: 'POST',
          headers: { 'content-type': 'text/csv' },
          body: 'email\nx@example.org\n',
        })
      ).status,
    ).toBe(404);
    expect((await campaignOf(id)).status).toBe('draft');
  });
});
