import { createApp } from '../../src/api/app';
import { unsubscribeToken } from '../../src/campaigns/unsubscribe';
import { createHarness, validEmail, type Harness } from '../support/harness';
import type { ReceivedMessage } from '../support/smtp-test-server';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

// One-click unsubscribe (RFC 8058) on the real parts: a campaign's emails reach the SMTP server
// with a List-Unsubscribe URL of Herald's and List-Unsubscribe-Post; opening the URL changes
// nothing, POSTing to it (as a mail provider does) puts the recipient on the tenant's suppression
// list, and a forged or altered link finds nothing.

const PUBLIC_URL = 'https://mail.herald.test';
const SECRET = 'a-test-secret-that-is-long-enough-0123456789';
let h: Harness;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  h = await createHarness({
    webhooks: {},
    campaigns: { pageSize: 10, window: 10 },
    unsubscribe: { publicUrl: PUBLIC_URL, secret: SECRET },
  });
});
afterAll(async () => {
  await h?.close();
  await receiver?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const domain = `u${Date.now().toString(36)}.example.org`;

/** The message's header lines, unfolded. */
const headerOf = (m: ReceivedMessage, name: string) => {
  const head = m.raw
    .toString('utf8')
    .split('\r\n\r\n')[0]
    .replace(/\r\n[ \t]+/g, ' ');
  return new RegExp(`^${name}: (.*)$`, 'im').exec(head)?.[1];
};

async function received(address: string, timeoutMs = 30_000): Promise<ReceivedMessage> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(100)) {
    const m = h.smtp.received.find((r) => r.envelopeTo.includes(address));
    if (m) return m;
  }
  throw new Error(`no message for ${address} in ${timeoutMs} ms`);
}

async function sendCampaign(addresses: string[]): Promise<void> {
  const created = await h.request('/v1/campaigns', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'news@herald.test', subject: 'News for {{first}}', text: 'Hello {{first}}' }),
  });
  expect(created.status).toBe(201);
  const { id } = (await created.json()) as { id: string };
  const csv = `email,first\n${addresses.map((a, i) => `${a},P${i}`).join('\n')}\n`;
  const uploaded = await h.request(`/v1/campaigns/${id}/recipients`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body: csv,
  });
  expect(((await uploaded.json()) as { added: number }).added).toBe(addresses.length);
  expect((await h.request(`/v1/campaigns/${id}/start`, { method: 'POST' })).status).toBe(202);
}

/** Without an API key, as a mail provider or a browser calls it. */
const anonymous = (path: string, init?: RequestInit) => h.app.request(path, init);
const suppression = async (address: string) => {
  const res = await h.request(`/v1/suppressions/${encodeURIComponent(address)}`);
  return res.status === 200 ? ((await res.json()) as { source: string; emailId: string }) : res.status;
};

test("a campaign email's one-click link: shown on GET, unsubscribes on POST, once per recipient", async () => {
  const [ann, bob] = [`ann@${domain}`, `bob@${domain}`];
  const hook = await h.request('/v1/webhooks', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: receiver.url, events: ['recipient.unsubscribed'] }),
  });
  expect(hook.status).toBe(201);
  await sendCampaign([ann, bob]);
  const toAnn = await received(ann);
  const toBob = await received(bob);

  const link = /^<(.+)>$/.exec(headerOf(toAnn, 'List-Unsubscribe') ?? '')?.[1];
  expect(link).toMatch(new RegExp(`^${PUBLIC_URL}/unsubscribe/[0-9a-f-]{36}\\.[A-Za-z0-9_-]{43}$`));
  expect(headerOf(toAnn, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
  expect(link).not.toContain('ann'); // no address in the URL
  const bobsLink = /^<(.+)>$/.exec(headerOf(toBob, 'List-Unsubscribe') ?? '')?.[1];
  expect(bobsLink).toBeDefined();
  expect(bobsLink).not.toBe(link);
  const path = new URL(link!).pathname;

  // Opening the link (a person, or a scanner fetching every link) only shows a button.
  const page = await anonymous(path);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  expect(await page.text()).toMatch(/<form method="post">/);
  expect(await suppression(ann)).toBe(404);

  // The provider's one-click POST (RFC 8058's body).
  const post = () =>
    anonymous(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
  expect((await post()).status).toBe(200);
  const emailId = path.split('/')[2].split('.')[0];
  expect(await suppression(ann)).toMatchObject({ source: 'unsubscribe', emailId });
  // On the email's timeline, and to the tenant's webhooks: recipient.unsubscribed, once.
  const [event] = await receiver.waitFor((r) => r.json?.type === 'recipient.unsubscribed');
  expect(event.json.data).toMatchObject({ emailId, recipient: { address: ann } });
  expect(await suppression(bob)).toBe(404); // only the recipient of that email
  expect((await post()).status).toBe(200); // again: still unsubscribed, nothing else changes
  const timeline = (await (await h.request(`/v1/emails/${emailId}/events`)).json()) as { data: Array<{ type: string; actor: string }> };
  expect(timeline.data.filter((e) => e.type === 'recipients.unsubscribed')).toEqual([
    expect.objectContaining({ actor: 'recipient', data: { addresses: [ann] } }),
  ]);
  await sleep(500);
  expect(receiver.received.filter((r) => r.json?.type === 'recipient.unsubscribed')).toHaveLength(1);
  const listed = (await (await h.request('/v1/suppressions?source=unsubscribe')).json()) as { data: Array<{ address: string }> };
  expect(listed.data.map((s) => s.address)).toEqual([ann]);

  // The next campaign to ann skips her at upload: she is suppressed.
  const again = await h.request('/v1/campaigns', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ from: 'news@herald.test', subject: 'More news', text: 'Hi' }),
  });
  const { id } = (await again.json()) as { id: string };
  const upload = await h.request(`/v1/campaigns/${id}/recipients`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv' },
    body: `email\n${ann}\n`,
  });
  expect(await upload.json()).toMatchObject({ added: 0, suppressed: 1 });
});

test('forged, altered or malformed links find nothing; a large body is refused; nothing is suppressed', async () => {
  const carl = `carl@${domain}`;
  await sendCampaign([carl]);
  const link = /^<(.+)>$/.exec(headerOf(await received(carl), 'List-Unsubscribe') ?? '')?.[1];
  const path = new URL(link!).pathname;
  const [emailId, mac] = path.split('/')[2].split('.');
  const flipped = mac.slice(0, -1) + (mac.endsWith('A') ? 'B' : 'A');
  for (const bad of [
    `/unsubscribe/${emailId}.${flipped}`, // the HMAC altered
    `/unsubscribe/${emailId.replace(/^./, (c) => (c === '0' ? '1' : '0'))}.${mac}`, // another email's id
    `/unsubscribe/${emailId}`, // no HMAC
    `/unsubscribe/${emailId}.${mac}x`,
    `/unsubscribe/${emailId.toUpperCase()}.${mac}`,
    '/unsubscribe/%00',
  ]) {
    for (const method of ['GET', 'POST']) {
      const res = await anonymous(bad, { method });
      expect([bad, method, res.status, res.headers.get('content-type')]).toEqual([bad, method, 404, 'application/problem+json']);
    }
  }
  const tooLong = await anonymous(`/unsubscribe/${'a'.repeat(300)}`, { method: 'POST' });
  expect(tooLong.status).toBe(400);
  const large = await anonymous(path, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(5000) });
  expect(large.status).toBe(413);
  expect(await suppression(carl)).toBe(404);
});

test('an email that is not a campaign email carries no link; with the links off, even a well-made link is 404', async () => {
  const dora = `dora@${domain}`;
  const res = await h.post(validEmail({ to: [dora] }));
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  expect(headerOf(await received(dora), 'List-Unsubscribe')).toBeUndefined();

  const off = createApp({ ...h.deps, unsubscribeSecret: undefined });
  const link = `/unsubscribe/${unsubscribeToken(SECRET, id)}`;
  for (const method of ['GET', 'POST']) expect((await off.request(link, { method })).status).toBe(404);
  expect(await suppression(dora)).toBe(404);
});
