import { createHarness, validEmail as baseEmail, type Harness } from '../support/harness';

// Invariant 5, as a careful attacker would try it: every field of every route gets what a strict
// mail API must refuse, and each answer is a 4xx problem+json that names the field, with nothing
// stored, started or sent. None of these may ever get a 5xx. The caller is authenticated (a key of
// this file's tenant), so every case reaches validation and the database.

let h: Harness;
/** A scheduled email of this tenant: the controls are aimed at it, so an accepted control would show. */
let scheduled: string;
const MAX_MESSAGE_BYTES = 64 * 1024;
const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

beforeAll(async () => {
  h = await createHarness({ maxMessageBytes: MAX_MESSAGE_BYTES });
  const res = await h.post(baseEmail({ to: ['scheduled@hostile.test'], sendAt: inAnHour() }));
  expect(res.status).toBe(202);
  scheduled = ((await res.json()) as any).id;
});
afterAll(async () => {
  await h.request(`/v1/emails/${scheduled}/cancel`, { method: 'POST' });
  await h.close();
});

const validEmail = (overrides: Record<string, unknown> = {}) => baseEmail({ to: ['alice@hostile.test'], ...overrides });
const json = (body: unknown) => (typeof body === 'string' ? body : JSON.stringify(body));
const postEmail = (body: unknown, headers: Record<string, string> = {}) => h.post(body, headers);
const postTo = (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  h.request(path, { method: 'POST', headers, body: body === undefined ? undefined : json(body) });
const control = (name: string, body: unknown, headers?: Record<string, string>) => postTo(`/v1/emails/${scheduled}/${name}`, body, headers);
const list = (query: string) => h.request(`/v1/emails?${query}`);
const cursorOf = (text: string) => Buffer.from(text).toString('base64url');

/** Every row this file's tenant owns, in every table a request could write. */
async function tenantRows() {
  const [row] = await h.sql`
    with mine as (select id from emails where tenant_id = ${h.tenantId})
    select (select count(*)::int from mine) as emails,
      (select count(*)::int from email_recipients where email_id in (select id from mine)) as recipients,
      (select count(*)::int from email_attachments where email_id in (select id from mine)) as attachments,
      (select count(*)::int from email_events where email_id in (select id from mine)) as events,
      (select count(*)::int from delivery_attempts where email_id in (select id from mine)) as attempts`;
  return row;
}

interface Case {
  name: string;
  send: () => Promise<Response>;
  status: number;
  /** The field the problem must name (errors[].field), when the refusal is a validation. */
  field?: string;
}
const cases: Case[] = [];
const add = (name: string, send: () => Promise<Response>, status: number, field?: string) => cases.push({ name, send, status, field });

// ---------------------------------------------------------------- addresses
const BAD_ADDRESSES: Array<[string, string]> = [
  ['empty', ''],
  ['no @', 'plain.example.org'],
  ['no local part', '@example.org'],
  ['no domain', 'alice@'],
  ['two @', 'a@b@example.org'],
  ['double @', 'alice@@example.org'],
  ['leading dot', '.alice@example.org'],
  ['trailing dot in local part', 'alice.@example.org'],
  ['double dot in local part', 'al..ice@example.org'],
  ['local part over 64', `${'a'.repeat(65)}@example.org`],
  ['address over 254', `alice@${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(10)}.org`],
  // 100 characters as written, 279 once each label is in punycode
  ['over 254 in punycode only', `alice@${Array(5).fill('中文域名测试例子邮件地址检查一二三').join('.')}.org`],
  ['single-label domain', 'alice@localhost'],
  ['numeric TLD', 'alice@example.123'],
  ['IPv4 as domain', 'alice@192.168.0.1'],
  ['IP literal', 'alice@[127.0.0.1]'],
  ['domain label starting with a hyphen', 'alice@-example.org'],
  ['domain label ending with a hyphen', 'alice@example-.org'],
  ['underscore in domain', 'alice@exa_mple.org'],
  ['leading dot in domain', 'alice@.example.org'],
  ['double dot in domain', 'alice@example..org'],
  ['trailing dot in domain', 'alice@example.org.'],
  ['domain label over 63', `alice@${'a'.repeat(64)}.org`],
  ['space in local part', 'al ice@example.org'],
  ['space in domain', 'alice@exa mple.org'],
  ['NUL', 'alice\u0000@example.org'],
  ['CRLF', 'alice@example.org\r\nBcc: victim@example.org'],
  ['LF alone', 'alice@example.org\nX: y'],
  ['tab', 'alice\t@example.org'],
  ['zero-width space in local part', 'ali\u200bce@example.org'],
  ['zero-width joiner in domain', 'alice@exam\u200dple.org'],
  ['soft hyphen in domain', 'alice@exam\u00adple.org'],
  ['right-to-left override', 'alice@example\u202e.org'],
  ['left-to-right mark', '\u200ealice@example.org'],
  ['BOM', '\ufeffalice@example.org'],
  ['line separator', 'alice@example.org\u2028'],
  ['NEL', 'alice@example.org\u0085'],
  ['DEL', 'alice\u007f@example.org'],
  ['lone surrogate', 'alice\ud800@example.org'],
  ['quoted local part', '"alice smith"@example.org'],
  ['non-ASCII local part', 'jos\u00e9@example.org'],
  ['angle brackets', '<alice@example.org>'],
  ['display-name form', 'Alice <alice@example.org>'],
  ['comment', 'alice(comment)@example.org'],
  ['percent-encoded domain', 'alice@ex%61mple.org'],
  ['bogus punycode label', 'alice@xn--a.org'],
  ['comma-separated list', 'alice@example.org,bob@example.org'],
];
for (const [what, address] of BAD_ADDRESSES) add(`to: ${what}`, () => postEmail(validEmail({ to: [address] })), 400, 'to.0');
// The same rule on every address field (a sample of the list above each).
const SAMPLE = ['double dot in local part', 'numeric TLD', 'CRLF', 'right-to-left override', 'lone surrogate', 'quoted local part'];
const sample = BAD_ADDRESSES.filter(([what]) => SAMPLE.includes(what));
for (const [what, address] of sample) {
  add(`from (string): ${what}`, () => postEmail(validEmail({ from: address })), 400, 'from');
  add(`from.email: ${what}`, () => postEmail(validEmail({ from: { email: address, name: 'A' } })), 400, 'from.email');
  add(`cc: ${what}`, () => postEmail(validEmail({ cc: [address] })), 400, 'cc.0');
  add(`bcc: ${what}`, () => postEmail(validEmail({ bcc: [address] })), 400, 'bcc.0');
  add(`replyTo (string): ${what}`, () => postEmail(validEmail({ replyTo: address })), 400, 'replyTo');
  add(`replyTo (list): ${what}`, () => postEmail(validEmail({ replyTo: ['ok@example.org', address] })), 400, 'replyTo.1');
  add(`to (object): ${what}`, () => postEmail(validEmail({ to: [{ email: address }] })), 400, 'to.0.email');
}
add('to: more than 100', () => postEmail(validEmail({ to: Array.from({ length: 101 }, (_, i) => `r${i}@hostile.test`) })), 400, 'to');
add('cc: more than 100', () => postEmail(validEmail({ cc: Array.from({ length: 101 }, (_, i) => `r${i}@hostile.test`) })), 400, 'cc');
add(
  'replyTo: more than 10',
  () => postEmail(validEmail({ replyTo: Array.from({ length: 11 }, (_, i) => `r${i}@hostile.test`) })),
  400,
  'replyTo',
);
add('to: not a list', () => postEmail(validEmail({ to: 'alice@hostile.test' })), 400, 'to');
add('to: a number', () => postEmail(validEmail({ to: [42] })), 400, 'to.0');
add('from: an unknown key in the object', () => postEmail(validEmail({ from: { email: 'a@example.org', admin: true } })), 400, 'from');
add('no recipient anywhere', () => postEmail(validEmail({ to: [] })), 400, 'to');

// ---------------------------------------------------------------- header-bound strings
const LINE_BREAKS: Array<[string, string]> = [
  ['CR', '\r'],
  ['LF', '\n'],
  ['CRLF', '\r\n'],
  ['U+2028 line separator', '\u2028'],
  ['U+2029 paragraph separator', '\u2029'],
  ['NEL', '\u0085'],
  ['VT', '\u000b'],
  ['FF', '\u000c'],
  ['ESC', '\u001b'],
  ['DEL', '\u007f'],
  ['NUL', '\u0000'],
  ['C1 CSI', '\u009b'],
  ['lone high surrogate', '\ud83d'],
  ['lone low surrogate', '\ude00'],
];
const HEADER_FIELDS: Array<[string, (bad: string) => Record<string, unknown>, string]> = [
  ['subject', (bad) => ({ subject: `Hi${bad}Bcc: victim@example.org` }), 'subject'],
  ['from.name', (bad) => ({ from: { email: 'sender@herald.test', name: `Shop${bad}Bcc: x@example.org` } }), 'from.name'],
  ['to[].name', (bad) => ({ to: [{ email: 'alice@hostile.test', name: `Alice${bad}` }] }), 'to.0.name'],
  ['a header value', (bad) => ({ headers: { 'X-Order': `1234${bad}Bcc: victim@example.org` } }), 'headers.X-Order'],
  ['an attachment filename', (bad) => ({ attachments: [{ filename: `a${bad}.txt`, content: 'YQ==' }] }), 'attachments.0.filename'],
];
for (const [field, body, path] of HEADER_FIELDS) {
  for (const [what, bad] of LINE_BREAKS) add(`${field}: ${what}`, () => postEmail(validEmail(body(bad))), 400, path);
}

// ---------------------------------------------------------------- subject and bodies
add('subject: empty', () => postEmail(validEmail({ subject: '' })), 400, 'subject');
add('subject: missing', () => postEmail({ ...validEmail(), subject: undefined }), 400, 'subject');
add('subject: over 998 characters', () => postEmail(validEmail({ subject: 's'.repeat(999) })), 400, 'subject');
add('subject: a number', () => postEmail(validEmail({ subject: 42 })), 400, 'subject');
add('subject: null', () => postEmail(validEmail({ subject: null })), 400, 'subject');
add('text: NUL', () => postEmail(validEmail({ text: 'a\u0000b' })), 400, 'text');
add('text: lone surrogate', () => postEmail(validEmail({ text: 'a\udc00b' })), 400, 'text');
add('html: NUL', () => postEmail(validEmail({ html: '<p>\u0000</p>' })), 400, 'html');
add('html: lone surrogate', () => postEmail(validEmail({ html: '<p>\ud800</p>' })), 400, 'html');
add('text: an object', () => postEmail(validEmail({ text: { a: 1 } })), 400, 'text');
add('neither text nor html', () => postEmail({ ...validEmail(), text: undefined }), 400, 'text');
add('text over the message size', () => postEmail(validEmail({ text: 'x'.repeat(MAX_MESSAGE_BYTES + 1) })), 400, 'attachments');
add('display name over 200', () => postEmail(validEmail({ from: { email: 'a@example.org', name: 'n'.repeat(201) } })), 400, 'from.name');

// ---------------------------------------------------------------- custom headers
const RESERVED = [
  'From',
  'To',
  'Cc',
  'Bcc',
  'Reply-To',
  'Subject',
  'Message-ID',
  'Date',
  'MIME-Version',
  'Sender',
  'Return-Path',
  'Received',
  'received',
  'RECEIVED',
  'DKIM-Signature',
  'DomainKey-Signature',
  'ARC-Seal',
  'ARC-Message-Signature',
  'ARC-Authentication-Results',
  'Authentication-Results',
  'Received-SPF',
  'Resent-From',
  'Resent-To',
  'Resent-Date',
  'Resent-Message-ID',
  'Content-Type',
  'Content-Transfer-Encoding',
  'Content-Disposition',
  'Content-ID',
  'Delivered-To',
  'X-Original-To',
];
for (const name of RESERVED) add(`header ${name}`, () => postEmail(validEmail({ headers: { [name]: 'x' } })), 400, `headers.${name}`);
add('header name with a space', () => postEmail(validEmail({ headers: { 'X Order': 'x' } })), 400, 'headers.X Order');
add('header name with a colon', () => postEmail(validEmail({ headers: { 'X:Order': 'x' } })), 400, 'headers.X:Order');
add('header name empty', () => postEmail(validEmail({ headers: { '': 'x' } })), 400, 'headers.');
add('header name over 76', () => postEmail(validEmail({ headers: { [`X-${'a'.repeat(75)}`]: 'x' } })), 400, `headers.X-${'a'.repeat(75)}`);
add('header name non-ASCII', () => postEmail(validEmail({ headers: { 'X-Ordér': 'x' } })), 400, 'headers.X-Ordér');
add('header name with NUL', () => postEmail(validEmail({ headers: { 'X-\u0000': 'x' } })), 400, 'headers.X-\u0000');
add('header name with CRLF', () => postEmail(validEmail({ headers: { 'X-A\r\nBcc': 'x' } })), 400, 'headers.X-A\r\nBcc');
add(
  'the same header twice, in two cases',
  () => postEmail(validEmail({ headers: { 'X-Order': '1', 'x-order': '2' } })),
  400,
  'headers.x-order',
);
add(
  '51 headers',
  () => postEmail(validEmail({ headers: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`X-H${i}`, 'v'])) })),
  400,
  'headers',
);
add('header value over 998', () => postEmail(validEmail({ headers: { 'X-Long': 'v'.repeat(999) } })), 400, 'headers.X-Long');
add('header value a number', () => postEmail(validEmail({ headers: { 'X-Num': 1 } })), 400, 'headers.X-Num');
add('headers a list', () => postEmail(validEmail({ headers: ['X-A: b'] })), 400, 'headers');

// ---------------------------------------------------------------- attachments
const att = (a: Record<string, unknown>) => validEmail({ attachments: [{ filename: 'a.txt', content: 'YQ==', ...a }] });
add('filename .', () => postEmail(att({ filename: '.' })), 400, 'attachments.0.filename');
add('filename ..', () => postEmail(att({ filename: '..' })), 400, 'attachments.0.filename');
add('filename with a slash', () => postEmail(att({ filename: '../etc/passwd' })), 400, 'attachments.0.filename');
add('filename with a backslash', () => postEmail(att({ filename: '..\\boot.ini' })), 400, 'attachments.0.filename');
add('filename empty', () => postEmail(att({ filename: '' })), 400, 'attachments.0.filename');
add('filename over 255', () => postEmail(att({ filename: `${'a'.repeat(252)}.txt` })), 400, 'attachments.0.filename');
add('filename with a right-to-left override', () => postEmail(att({ filename: 'invoice\u202efdp.exe' })), 400, 'attachments.0.filename');
add('filename with a left-to-right isolate', () => postEmail(att({ filename: 'a\u2066.txt' })), 400, 'attachments.0.filename');
add('filename with a zero-width space', () => postEmail(att({ filename: 'a\u200b.exe' })), 400, 'attachments.0.filename');
add('filename with leading whitespace', () => postEmail(att({ filename: ' a.txt' })), 400, 'attachments.0.filename');
add('filename missing', () => postEmail(validEmail({ attachments: [{ content: 'YQ==' }] })), 400, 'attachments.0.filename');
add('content not base64', () => postEmail(att({ content: '***' })), 400, 'attachments.0.content');
add('content of a length not a multiple of 4', () => postEmail(att({ content: 'YWJ' })), 400, 'attachments.0.content');
add('content with padding inside', () => postEmail(att({ content: 'YQ==YQ==' })), 400, 'attachments.0.content');
add('content with three padding characters', () => postEmail(att({ content: 'Y===' })), 400, 'attachments.0.content');
add('content with a line break', () => postEmail(att({ content: 'YWJj\nZGVm' })), 400, 'attachments.0.content');
add('content base64url', () => postEmail(att({ content: '-_-_' })), 400, 'attachments.0.content');
add('content missing', () => postEmail(validEmail({ attachments: [{ filename: 'a.txt' }] })), 400, 'attachments.0.content');
add('content a number', () => postEmail(att({ content: 1234 })), 400, 'attachments.0.content');
add('contentType without a subtype', () => postEmail(att({ contentType: 'text' })), 400, 'attachments.0.contentType');
add('contentType with parameters and CRLF', () => postEmail(att({ contentType: 'text/plain\r\nX: y' })), 400, 'attachments.0.contentType');
add('contentType with three parts', () => postEmail(att({ contentType: 'a/b/c' })), 400, 'attachments.0.contentType');
add('contentType multipart/mixed', () => postEmail(att({ contentType: 'multipart/mixed' })), 400, 'attachments.0.contentType');
add('contentType with a parameter', () => postEmail(att({ contentType: 'text/plain; charset=utf-8' })), 400, 'attachments.0.contentType');
add('contentType over 255', () => postEmail(att({ contentType: `text/${'x'.repeat(256)}` })), 400, 'attachments.0.contentType');
add('an unknown attachment key', () => postEmail(att({ path: '/etc/passwd' })), 400, 'attachments.0');
add(
  '51 attachments',
  () => postEmail(validEmail({ attachments: Array.from({ length: 51 }, (_, i) => ({ filename: `a${i}.txt`, content: 'YQ==' })) })),
  400,
  'attachments',
);
add(
  'attachments over the message size',
  () => postEmail(att({ content: Buffer.alloc(MAX_MESSAGE_BYTES + 1).toString('base64') })),
  400,
  'attachments',
);
add('attachments not a list', () => postEmail(validEmail({ attachments: { filename: 'a.txt', content: 'YQ==' } })), 400, 'attachments');

// ---------------------------------------------------------------- metadata
add(
  'metadata: 51 keys',
  () => postEmail(validEmail({ metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, i])) })),
  400,
  'metadata',
);
add(
  'metadata: over 16 KiB in all',
  () => postEmail(validEmail({ metadata: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v'.repeat(1000)])) })),
  400,
  'metadata',
);
add('metadata: a key over 100', () => postEmail(validEmail({ metadata: { ['k'.repeat(101)]: 1 } })), 400, `metadata.${'k'.repeat(101)}`);
add('metadata: an empty key', () => postEmail(validEmail({ metadata: { '': 1 } })), 400, 'metadata.');
add('metadata: a key with NUL', () => postEmail(validEmail({ metadata: { 'a\u0000': 1 } })), 400, 'metadata.a\u0000');
add('metadata: a key with a lone surrogate', () => postEmail(validEmail({ metadata: { 'a\udfff': 1 } })), 400, 'metadata.a\udfff');
add('metadata: a value with NUL', () => postEmail(validEmail({ metadata: { k: 'a\u0000' } })), 400, 'metadata.k');
add('metadata: a value with a lone surrogate', () => postEmail(validEmail({ metadata: { k: 'a\udc00' } })), 400, 'metadata.k');
add('metadata: a value over 1000', () => postEmail(validEmail({ metadata: { k: 'v'.repeat(1001) } })), 400, 'metadata.k');
add('metadata: an object value', () => postEmail(validEmail({ metadata: { k: { nested: true } } })), 400, 'metadata.k');
add('metadata: a null value', () => postEmail(validEmail({ metadata: { k: null } })), 400, 'metadata.k');
add('metadata: a list of numbers', () => postEmail(validEmail({ metadata: { k: [1, 2] } })), 400, 'metadata.k.0');
add('metadata: not an object', () => postEmail(validEmail({ metadata: 'tags' })), 400, 'metadata');
add('tags: not a list', () => postEmail(validEmail({ metadata: { tags: 'orders' } })), 400, 'metadata.tags');
add('tags: 51', () => postEmail(validEmail({ metadata: { tags: Array.from({ length: 51 }, (_, i) => `t${i}`) } })), 400, 'metadata.tags');
add('tags: one over 100', () => postEmail(validEmail({ metadata: { tags: ['t'.repeat(101)] } })), 400, 'metadata.tags.0');
add('tags: one with NUL', () => postEmail(validEmail({ metadata: { tags: ['a\u0000'] } })), 400, 'metadata.tags.0');
add('tags: one with a lone surrogate', () => postEmail(validEmail({ metadata: { tags: ['\ud800'] } })), 400, 'metadata.tags.0');

// ---------------------------------------------------------------- sendAt
const BAD_SEND_AT: Array<[string, unknown]> = [
  ['a word', 'tomorrow'],
  ['year 0000', '0000-01-01T00:00:00Z'],
  ['year 9999', '9999-12-31T23:59:59Z'],
  ['two years ahead', new Date(Date.now() + 2 * 366 * 86_400_000).toISOString()],
  ['two days ago', new Date(Date.now() - 2 * 86_400_000).toISOString()],
  ['February 30', '2030-02-30T09:00:00Z'],
  ['no offset', '2030-01-01T09:00:00'],
  ['a date only', '2030-01-01'],
  ['an expanded year', '+275760-09-13T00:00:00Z'],
  ['a number', 1893456000000],
  ['empty', ''],
  ['NUL', '2030-01-01T09:00:00Z\u0000'],
];
for (const [what, sendAt] of BAD_SEND_AT) add(`sendAt: ${what}`, () => postEmail(validEmail({ sendAt })), 400, 'sendAt');

// ---------------------------------------------------------------- the body as a whole
add('unknown top-level field', () => postEmail(validEmail({ bogus: 1 })), 400, '(body)');
add('__proto__ key', () => postEmail(`{"__proto__":{"admin":true},${json(validEmail()).slice(1)}`), 400, '(body)');
add('a list', () => postEmail('[1,2,3]'), 400, '(body)');
add('null', () => postEmail('null'), 400, '(body)');
add('a string', () => postEmail('"hello"'), 400, '(body)');
add('a number', () => postEmail('42'), 400, '(body)');
add('empty', () => postEmail(''), 400);
add('truncated JSON', () => postEmail('{"from": "a@example.org", '), 400);
add('a trailing comma', () => postEmail('{"subject":"x",}'), 400);
add('single quotes', () => postEmail("{'subject':'x'}"), 400);
// Within the body limit, but built to make validation do a lot of work (the JSON shape bound).
add('nested 30 000 levels deep', () => postEmail(`{"metadata":{"k":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`), 400);
add('30 000 values in a list', () => postEmail(`{"to":[${Array(30_000).fill('1').join(',')}]}`), 400);
add(
  '10 000 metadata keys',
  () => postEmail(json(validEmail({ metadata: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, 1])) }))),
  400,
  'metadata',
);
add(
  '10 000 header names',
  () => postEmail(json(validEmail({ headers: Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`X-${i}`, 'v'])) }))),
  400,
  'headers',
);
add('30 000 empty attachments', () => postEmail(json(validEmail({ attachments: Array(30_000).fill({}) }))), 400);
add('10 000 bad recipients', () => postEmail(json(validEmail({ to: Array(10_000).fill('x') }))), 400, 'to');
add(
  'body over the transport limit',
  () => postEmail(validEmail({ text: 'x'.repeat(Math.ceil(MAX_MESSAGE_BYTES * 1.4) + 128 * 1024) })),
  413,
);
for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'text/json']) {
  add(
    `content type ${type}`,
    () => h.request('/v1/emails', { method: 'POST', headers: { 'content-type': type }, body: json(validEmail()) }),
    415,
  );
}
add('no content type', () => h.request('/v1/emails', { method: 'POST', body: json(validEmail()) }), 415);
add('Idempotency-Key with spaces', () => postEmail(validEmail(), { 'idempotency-key': 'has spaces' }), 400, 'Idempotency-Key');
add('Idempotency-Key over 255', () => postEmail(validEmail(), { 'idempotency-key': 'k'.repeat(256) }), 400, 'Idempotency-Key');
add('Idempotency-Key empty', () => postEmail(validEmail(), { 'idempotency-key': '' }), 400, 'Idempotency-Key');
add('Idempotency-Key Latin-1', () => postEmail(validEmail(), { 'idempotency-key': 'caf\u00e9' }), 400, 'Idempotency-Key');

// ---------------------------------------------------------------- GET /v1/emails
const BAD_QUERIES: Array<[string, string, string]> = [
  ['status unknown', 'status=bogus', 'status.0'],
  ['status with one unknown', 'status=queued,bogus', 'status.1'],
  ['status over 200 characters', `status=${'queued,'.repeat(40)}`, 'status'],
  ['limit 0', 'limit=0', 'limit'],
  ['limit 101', 'limit=101', 'limit'],
  ['limit negative', 'limit=-1', 'limit'],
  ['limit a word', 'limit=ten', 'limit'],
  ['limit a fraction', 'limit=1.5', 'limit'],
  ['limit 1e400', 'limit=1e400', 'limit'],
  ['cursor garbage', 'cursor=garbage', 'cursor'],
  ['cursor of year 0000', `cursor=${cursorOf('0000-01-01T00:00:00.000Z|00000000-0000-4000-8000-000000000000')}`, 'cursor'],
  ['cursor of a bare year', `cursor=${cursorOf('2020|00000000-0000-4000-8000-000000000000')}`, 'cursor'],
  ['cursor of a loose date', `cursor=${cursorOf('Tue, 1 Mar 2022 10:00:00 GMT|00000000-0000-4000-8000-000000000000')}`, 'cursor'],
  ['cursor of February 30', `cursor=${cursorOf('2022-02-30T10:00:00.000Z|00000000-0000-4000-8000-000000000000')}`, 'cursor'],
  ['cursor with SQL', `cursor=${cursorOf("2022-01-01T00:00:00.000Z|' or 1=1 --")}`, 'cursor'],
  ['cursor with a bad id', `cursor=${cursorOf('2022-01-01T00:00:00.000Z|not-a-uuid')}`, 'cursor'],
  ['cursor with a third part', `cursor=${cursorOf('2022-01-01T00:00:00.000Z|00000000-0000-4000-8000-000000000000|x')}`, 'cursor'],
  ['cursor of 10 000 characters', `cursor=${'A'.repeat(10_000)}`, 'cursor'],
  ['createdAfter a word', 'createdAfter=yesterday', 'createdAfter'],
  ['createdAfter year 0000', 'createdAfter=0000-01-01T00:00:00Z', 'createdAfter'],
  ['createdBefore year 0000', 'createdBefore=0000-01-01T00:00:00Z', 'createdBefore'],
  ['createdAfter month 13', 'createdAfter=2020-13-01T00:00:00Z', 'createdAfter'],
  ['createdAfter without offset', 'createdAfter=2020-01-01T00:00:00', 'createdAfter'],
  ['domain with NUL', 'domain=a%00.example.org', 'domain'],
  ['domain with a space', 'domain=a%20b.org', 'domain'],
  ['domain over 253', `domain=${'a'.repeat(300)}.org`, 'domain'],
  ['domain single label', 'domain=localhost', 'domain'],
  ['recipient malformed', 'recipient=nobody', 'recipient'],
  ['recipient with NUL', 'recipient=a%00@example.org', 'recipient'],
  ['tag with NUL', 'tag=%00', 'tag'],
  ['tag over 100', `tag=${'t'.repeat(101)}`, 'tag'],
  ['tag empty', 'tag=', 'tag'],
  ['an unknown parameter', 'admin=true', '(query)'],
];
for (const [what, query, field] of BAD_QUERIES) add(`GET /v1/emails: ${what}`, () => list(query), 400, field);
add('GET /v1/emails/:id: not a UUID', () => h.request('/v1/emails/not-an-id'), 404);
add('GET /v1/emails/:id: NUL', () => h.request('/v1/emails/%00'), 404);
add('GET /v1/emails/:id: bad percent-encoding', () => h.request('/v1/emails/%E0%A4%A'), 404);
add('GET /v1/emails/:id: a UUID of nothing', () => h.request('/v1/emails/00000000-0000-4000-8000-000000000000'), 404);
add('GET /v1/emails/:id/events: SQL in the id', () => h.request("/v1/emails/'%20or%201=1--/events"), 404);

// ---------------------------------------------------------------- the controls
const BAD_REASONS: Array<[string, unknown, string]> = [
  ['reason with NUL', { reason: 'checking\u0000' }, 'reason'],
  ['reason with a lone surrogate', { reason: 'checking\ud800' }, 'reason'],
  ['reason with CRLF', { reason: 'a\r\nb' }, 'reason'],
  ['reason with U+2028', { reason: 'a\u2028b' }, 'reason'],
  ['reason over 500', { reason: 'r'.repeat(501) }, 'reason'],
  ['reason a number', { reason: 42 }, 'reason'],
  ['an unknown field', { reason: 'x', actor: 'admin' }, '(body)'],
  ['a list body', [1], '(body)'],
  ['a string body', '"pause"', '(body)'],
];
for (const name of ['cancel', 'send-now', 'pause', 'resume']) {
  for (const [what, body, field] of BAD_REASONS) add(`${name}: ${what}`, () => control(name, body), 400, field);
  add(`${name}: malformed JSON`, () => control(name, '{"reason":'), 400);
  add(`${name}: text/plain`, () => control(name, { reason: 'x' }, { 'content-type': 'text/plain' }), 415);
  add(`${name}: form-encoded`, () => control(name, 'reason=x', { 'content-type': 'application/x-www-form-urlencoded' }), 415);
  add(`${name}: a body but no content type`, () => control(name, { reason: 'x' }, {}), 415);
  add(`${name}: body over 64 KiB`, () => control(name, { reason: 'r'.repeat(70_000) }), 413);
  add(`${name}: nested 20 000 levels deep`, () => control(name, `{"reason":${'['.repeat(20_000)}${']'.repeat(20_000)}}`), 400);
}
for (const [what, body, field] of BAD_REASONS)
  add(`reschedule: ${what}`, () => control('reschedule', { sendAt: inAnHour(), ...(body as object) }), 400, field);
for (const [what, sendAt] of BAD_SEND_AT) add(`reschedule: sendAt ${what}`, () => control('reschedule', { sendAt }), 400, 'sendAt');
add('reschedule: no sendAt', () => control('reschedule', {}), 400, 'sendAt');
add('reschedule: text/plain', () => control('reschedule', { sendAt: inAnHour() }, { 'content-type': 'text/plain' }), 415);
add('retry one: body over 64 KiB', () => postTo(`/v1/emails/${scheduled}/retry`, { x: 'r'.repeat(70_000) }), 413);
add('retry one: text/plain', () => postTo(`/v1/emails/${scheduled}/retry`, {}, { 'content-type': 'text/plain' }), 415);
add('retry one: an unknown field', () => postTo(`/v1/emails/${scheduled}/retry`, { force: true }), 400, '(body)');
const BAD_FILTERS: Array<[string, unknown, string]> = [
  ['tag with NUL', { filter: { tag: 'a\u0000' } }, 'filter.tag'],
  ['tag with a lone surrogate', { filter: { tag: '\udc00' } }, 'filter.tag'],
  ['domain with NUL', { filter: { domain: 'a\u0000.org' } }, 'filter.domain'],
  ['domain with an override', { filter: { domain: 'exa\u202emple.org' } }, 'filter.domain'],
  ['recipient malformed', { filter: { recipient: 'a..b@example.org' } }, 'filter.recipient'],
  ['createdAfter year 0000', { filter: { createdAfter: '0000-01-01T00:00:00Z' } }, 'filter.createdAfter'],
  ['createdBefore a word', { filter: { createdBefore: 'now' } }, 'filter.createdBefore'],
  ['status is not a filter here', { filter: { status: 'failed' } }, 'filter'],
  ['filter a list', { filter: [] }, 'filter'],
  ['limit 0', { limit: 0 }, 'limit'],
  ['limit 1001', { limit: 1001 }, 'limit'],
  ['limit a string', { limit: '10' }, 'limit'],
  ['an unknown field', { all: true }, '(body)'],
];
for (const [what, body, field] of BAD_FILTERS) add(`bulk retry: ${what}`, () => postTo('/v1/emails/retry', body), 400, field);
add('bulk retry: text/plain', () => postTo('/v1/emails/retry', {}, { 'content-type': 'text/plain' }), 415);
add('bulk retry: body over 64 KiB', () => postTo('/v1/emails/retry', { filter: { tag: 't'.repeat(70_000) } }), 413);

// ---------------------------------------------------------------- who asks
const unauthenticated = (authorization?: string) => () =>
  Promise.resolve(
    h.app.request('/v1/emails', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: json(validEmail()),
    }),
  );
add('no key', unauthenticated(), 401);
add('a key with a NUL-like escape', unauthenticated('Bearer hk_\\u0000'), 401);
add('a key of 4 000 characters', unauthenticated(`Bearer hk_${'a'.repeat(4000)}`), 401);
add('two keys', unauthenticated('Bearer a Bearer b'), 401);

test('there are at least 200 explicit cases', () => {
  expect(cases.length).toBeGreaterThanOrEqual(200);
});

test.each(cases.map((c) => [c.name, c] as const))('%s: 4xx problem+json, nothing stored, started or sent', async (_name, c) => {
  const before = await tenantRows();
  const sentBefore = h.smtp.rcptCalls.length;
  const res = await c.send();
  const body = (await res.json()) as any;
  expect({ status: res.status, body }).toMatchObject({ status: c.status });
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  expect(body).toMatchObject({
    status: c.status,
    type: expect.stringMatching(/^https:\/\/herald\.dev\/problems\//),
    title: expect.any(String),
  });
  if (c.field) expect(body.errors.map((e: { field: string }) => e.field)).toContain(c.field);
  expect(await tenantRows()).toEqual(before);
  expect(h.smtp.rcptCalls.length).toBe(sentBefore);
});

test('the scheduled email was never changed, and only its workflow was started', async () => {
  const email = await h.getEmail(scheduled);
  expect(email.status).toBe('scheduled');
  const events = ((await (await h.request(`/v1/emails/${scheduled}/events`)).json()) as any).data.map((e: any) => e.type);
  expect(events).toEqual(['email.accepted']);
  expect(h.smtp.rcptCalls).toHaveLength(0);
  const { count } = await h.client.workflow.count(`TaskQueue = "${h.taskQueue}"`);
  expect(count).toBe(1);
});
