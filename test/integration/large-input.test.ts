import { SEARCH_ATTRIBUTE_KEYS, workflowIdFor } from '../../src/shared';
import { createHarness, validEmail, type Harness } from '../support/harness';

// Strict, but not wrong: what a mail API must accept is accepted, at the sizes the README
// promises (10 MiB), and what is too large or too complex is refused with a 4xx, never a 5xx.

const MiB = 1024 * 1024;
let h: Harness;
beforeAll(async () => {
  h = await createHarness({ maxMessageBytes: 10 * MiB });
});
afterAll(async () => {
  await h.close();
});

async function accepted(body: Record<string, unknown>): Promise<string> {
  const res = await h.post(body);
  const answer = (await res.json()) as any;
  expect({ status: res.status, answer }).toMatchObject({ status: 202 });
  return answer.id;
}

const searchAttributes = async (id: string) => (await h.client.workflow.getHandle(workflowIdFor(id)).describe()).typedSearchAttributes;

test('an attachment of 3.5 MB (its base64 once overflowed the regex stack) is accepted and sent whole', async () => {
  const content = Buffer.alloc(3_500_000, 7);
  const id = await accepted(
    validEmail({ to: ['big@large.test'], attachments: [{ filename: 'big.bin', content: content.toString('base64') }] }),
  );
  const email = await h.waitForStatus(id, ['sent']);
  const [message] = h.smtp.byMessageId(email.messageId);
  expect(message.parsed.attachments[0].content.equals(content)).toBe(true);
});

test('the largest email the README allows (10 MiB decoded) is accepted; one byte more is refused with 400', async () => {
  const third = Math.floor((10 * MiB) / 3);
  const text = 'Hello!'; // validEmail's, counted in the 10 MiB
  const parts = [third, third, 10 * MiB - 2 * third - text.length].map((n, i) => ({
    filename: `part${i}.bin`,
    content: Buffer.alloc(n, i).toString('base64'),
  }));
  const id = await accepted(validEmail({ to: ['largest@large.test'], text, attachments: parts }));
  await h.waitForStatus(id, ['sent']);
  const over = await h.post(validEmail({ to: ['largest@large.test'], text: `${text}!`, attachments: parts }));
  expect(over.status).toBe(400);
  expect(((await over.json()) as any).errors[0].field).toBe('attachments');
});

test('an internationalized domain is accepted and sent in punycode', async () => {
  const id = await accepted(validEmail({ from: 'shop@bücher.example', to: ['Alice@Bücher.example'], cc: ['bob@例え.jp'] }));
  const email = await h.waitForStatus(id, ['sent']);
  expect(email.from.address).toBe('shop@xn--bcher-kva.example');
  expect(email.recipients.map((r: any) => r.address).sort()).toEqual(['alice@xn--bcher-kva.example', 'bob@xn--r8jz45g.jp']);
  const [message] = h.smtp.byMessageId(email.messageId);
  // The headers as sent: ASCII. (smtp-server shows envelope domains decoded back to Unicode.)
  expect(message.raw.toString()).toMatch(/^To: alice@xn--bcher-kva\.example$/m);
  expect(message.raw.toString()).toMatch(/^Cc: bob@xn--r8jz45g\.jp$/m);
  expect(message.raw.toString()).toMatch(/^From: shop@xn--bcher-kva\.example$/m);
  expect(message.envelopeTo.sort()).toEqual(['alice@bücher.example', 'bob@例え.jp']);
});

test('50 tags of 100 characters and 300 distinct recipient domains (once a 503) start, their search attributes bounded', async () => {
  const tags = Array.from({ length: 50 }, (_, i) => `${i}-${'t'.repeat(97)}`);
  const list = (kind: string) => Array.from({ length: 100 }, (_, i) => `r@${kind}${i}-${'d'.repeat(40)}.example`);
  const id = await accepted(validEmail({ to: list('to'), cc: list('cc'), bcc: list('bcc'), metadata: { tags } }));
  const attributes = await searchAttributes(id);
  for (const key of [SEARCH_ATTRIBUTE_KEYS.tags, SEARCH_ATTRIBUTE_KEYS.recipientDomains]) {
    const values = attributes.get(key)!;
    expect(Buffer.byteLength(JSON.stringify(values))).toBeLessThanOrEqual(2048);
    expect(values.some((v) => /^\(\+\d+ more\)$/.test(v))).toBe(true);
  }
  const email = await h.waitForStatus(id, ['sent'], 60_000);
  expect(email.recipients).toHaveLength(300);
});

test('a sendAt up to a day in the past is sent at once', async () => {
  const id = await accepted(validEmail({ to: ['late@large.test'], sendAt: new Date(Date.now() - 23 * 3_600_000).toISOString() }));
  await h.waitForStatus(id, ['sent']);
});

test.each([
  ['nested a million levels deep', () => `{"metadata":{"k":${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}}}`],
  ['a list of two million values', () => `{"to":[${Array(2_000_000).fill('0').join(',')}]}`],
  [
    'a million metadata keys',
    () => JSON.stringify(validEmail({ metadata: Object.fromEntries(Array.from({ length: 1_000_000 }, (_, i) => [`k${i}`, 1])) })),
  ],
  ['a 14 MB string where an address goes', () => JSON.stringify(validEmail({ to: ['a'.repeat(14 * MiB) + '@example.org'] }))],
  ['a 14 MB subject', () => JSON.stringify(validEmail({ subject: 's'.repeat(14 * MiB) }))],
])("%s: refused with a 4xx (bounded before any schema walks it; speed is the bench's to measure)", async (_what, body) => {
  const res = await h.post(body());
  expect([400, 413]).toContain(res.status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
});
