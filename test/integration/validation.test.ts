import { createHarness, validEmail as baseEmail, type Harness } from '../support/harness';

// Bad input gets a clear 4xx problem+json naming what is wrong, and nothing is stored,
// started or sent.

// Every request of this file is from or to this domain, so its rows can be counted apart from
// those of test files running at the same time.
const DOMAIN = 'validation.test';
const validEmail = (overrides: Record<string, unknown> = {}) =>
  baseEmail({ from: `sender@${DOMAIN}`, to: [`alice@${DOMAIN}`], ...overrides });

let h: Harness;
const MAX_MESSAGE_BYTES = 64 * 1024;
beforeAll(async () => {
  h = await createHarness({ maxMessageBytes: MAX_MESSAGE_BYTES });
});
afterAll(async () => {
  await h.close();
});

async function expectRefused(res: Response, status: number, field?: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as any;
  expect(body).toMatchObject({ status, type: expect.stringMatching(/^https:\/\/herald\.dev\/problems\//), title: expect.any(String) });
  if (field) expect(body.errors.map((e: { field: string }) => e.field)).toContain(field);
  return body;
}

const cases: Array<[string, () => Promise<Response>, number, string | undefined]> = [
  ['missing from', () => h.post({ ...validEmail(), from: undefined }), 400, 'from'],
  ['missing subject', () => h.post({ ...validEmail(), subject: undefined }), 400, 'subject'],
  ['no recipient', () => h.post(validEmail({ to: [] })), 400, 'to'],
  ['no body', () => h.post({ ...validEmail(), text: undefined }), 400, 'text'],
  ['malformed to address', () => h.post(validEmail({ to: ['not-an-address'] })), 400, 'to.0'],
  ['malformed from address', () => h.post(validEmail({ from: 'a@b@c' })), 400, 'from'],
  ['address with a line break', () => h.post(validEmail({ cc: ['x@example.org\r\nBcc: victim@example.org'] })), 400, 'cc.0'],
  ['CR/LF in subject', () => h.post(validEmail({ subject: 'Hi\r\nBcc: victim@example.org' })), 400, 'subject'],
  ['LF in a header value', () => h.post(validEmail({ headers: { 'X-Tag': 'a\nBcc: victim@example.org' } })), 400, 'headers.X-Tag'],
  ['reserved header', () => h.post(validEmail({ headers: { Bcc: 'victim@example.org' } })), 400, 'headers.Bcc'],
  ['CR/LF in a display name', () => h.post(validEmail({ from: { email: 'a@example.org', name: 'A\r\nB' } })), 400, 'from.name'],
  [
    'attachment not base64',
    () => h.post(validEmail({ attachments: [{ filename: 'a.bin', content: '***' }] })),
    400,
    'attachments.0.content',
  ],
  ['unknown field', () => h.post(validEmail({ bogus: 1 })), 400, '(body)'],
  [
    'attachments over the size limit',
    () => h.post(validEmail({ attachments: [{ filename: 'big.bin', content: Buffer.alloc(MAX_MESSAGE_BYTES + 1).toString('base64') }] })),
    400,
    'attachments',
  ],
  ['bad sendAt', () => h.post(validEmail({ sendAt: 'tomorrow' })), 400, 'sendAt'],
  ['malformed JSON', () => h.post('{"from": "a@example.org", '), 400, undefined],
  ['JSON that is not an object', () => h.post('[1,2,3]'), 400, '(body)'],
  ['bad Idempotency-Key', () => h.post(validEmail(), { 'idempotency-key': 'has spaces in it' }), 400, 'Idempotency-Key'],
  [
    'wrong content type',
    () =>
      Promise.resolve(
        h.request('/v1/emails', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: JSON.stringify(validEmail()) }),
      ),
    415,
    undefined,
  ],
  [
    'body over the transport limit',
    () => h.post(validEmail({ text: 'x'.repeat(Math.ceil(MAX_MESSAGE_BYTES * 1.4) + 128 * 1024) })),
    413,
    undefined,
  ],
];

test.each(cases)('%s is refused and nothing is stored or sent', async (_name, send, status, field) => {
  const before = await h.countRows(DOMAIN);
  await expectRefused(await send(), status, field);
  expect(await h.countRows(DOMAIN)).toEqual(before);
  expect(h.smtp.received).toHaveLength(0);
  expect(h.smtp.rcptCalls).toHaveLength(0);
});

test('the problem body names every bad field at once', async () => {
  const body = await expectRefused(await h.post(validEmail({ to: ['nope'], subject: 'a\nb', headers: { 'X-A': 'b\rc' } })), 400);
  expect(body.errors.map((e: { field: string }) => e.field).sort()).toEqual(['headers.X-A', 'subject', 'to.0']);
  expect(body.detail).toContain('subject: must not contain U+000A (a line break or control character)');
});

test('no workflow was started for any refused request', async () => {
  const { count } = await h.client.workflow.count(`TaskQueue = "${h.taskQueue}"`);
  expect(count).toBe(0);
});
