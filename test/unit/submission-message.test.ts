import fc from 'fast-check';
import { DeliveryError } from '../../src/deliveries/errors';
import { decodeWords, MessageRefused, messageDate, prepareSubmittedMessage } from '../../src/submission/message';
import { REPLIES, replyFor } from '../../src/submission/replies';
import { isLoopback } from '../../src/submission/server';

// What SMTP submission reads from a message, and the one change it makes before storing it.

const NOW = new Date('2026-03-01T10:20:30Z');
const prepare = (text: string | Buffer) =>
  prepareSubmittedMessage(Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1'), {
    messageIdDomain: 'test.herald',
    now: NOW,
    newId: () => 'fixed-id',
  });
const lines = (...l: string[]) => l.join('\r\n');

const BODY = lines(
  '',
  '--b1',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=C3=A9 =',
  ' ',
  '--b1--',
  '',
);
const HEAD = [
  'From: "Shop" <Shop@Example.com>',
  'To: alice@example.org,',
  '\tBob <bob@example.net>',
  'Cc: carol@example.org',
  'Bcc: secret@example.org',
  'Subject: =?utf-8?B?Q2Fmw6k=?= =?utf-8?Q?_ouvert?=',
  'X-Custom:  kept   as is ',
  'Message-ID: <m1@client.example>',
  'Date: Sun, 01 Mar 2026 09:00:00 +0100',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary="b1"',
];

test('every field but Bcc keeps its bytes, and the body is untouched', () => {
  const raw = lines(...HEAD) + '\r\n' + BODY;
  const p = prepare(raw);
  const kept = HEAD.filter((l) => !l.startsWith('Bcc:'));
  expect(p.message.toString('latin1')).toBe(lines(...kept) + '\r\n' + BODY);
  expect(p.messageId).toBe('<m1@client.example>');
  expect(p.from).toEqual({ address: 'shop@example.com', name: 'Shop' });
  expect(p.authors).toEqual(['shop@example.com']);
  expect(p.subject).toBe('Café ouvert');
  expect(p.to).toEqual(['alice@example.org', 'bob@example.net']);
  expect(p.cc).toEqual(['carol@example.org']);
  expect(p.idempotency).toEqual({ key: 'message-id:<m1@client.example>', from: 'message-id' });
});

test('a Message-ID and a Date are added when missing, in the line endings of the message', () => {
  const p = prepare('From: a@example.com\nSubject: hi\n\nbody\n');
  expect(p.message.toString()).toBe(
    `Message-ID: <fixed-id@test.herald>\nDate: ${messageDate(NOW)}\nFrom: a@example.com\nSubject: hi\n\nbody\n`,
  );
  expect(messageDate(NOW)).toBe('Sun, 01 Mar 2026 10:20:30 +0000');
  expect(p.messageId).toBe('<fixed-id@test.herald>');
  // Herald chose this Message-ID: it says nothing about a resend.
  expect(p.idempotency).toBeUndefined();
});

test('X-Herald-Idempotency-Key names the submission and never leaves Herald; Bcc folded over lines goes whole', () => {
  const p = prepare(
    lines(
      'X-Herald-Idempotency-Key: order-42',
      'From: a@example.com',
      'BCC: x@example.org,',
      ' y@example.org',
      'Resent-Bcc: z@example.org',
      'Message-ID: <m@x>',
      'Date: x',
      '',
      'b',
    ),
  );
  expect(p.idempotency).toEqual({ key: 'order-42', from: 'header' });
  expect(p.message.toString()).toBe(lines('From: a@example.com', 'Message-ID: <m@x>', 'Date: x', '', 'b'));
});

test('a long Message-ID gives a hashed key; 8-bit bodies and headers keep their bytes', () => {
  const id = `<${'x'.repeat(300)}@example.com>`;
  const body = Buffer.from([0x0d, 0x0a, 0xff, 0x00, 0xc3, 0xa9, 0x0d, 0x0a]);
  const head = Buffer.from(
    `From: =?iso-8859-1?Q?J=F6rg?= <j@example.com>\r\nSubject: Gr\u00fc\u00dfe\r\nMessage-ID: ${id}\r\nDate: x\r\n`,
    'utf8',
  );
  const p = prepare(Buffer.concat([head, body]));
  expect(p.idempotency?.key).toMatch(/^message-id:sha256:[0-9a-f]{64}$/);
  expect(p.message.equals(Buffer.concat([head, body]))).toBe(true);
  expect(p.subject).toBe('Grüße');
  expect(p.from).toEqual({ address: 'j@example.com', name: 'Jörg' });
});

test('From and Sender are the authors; a message without a header body is fine', () => {
  const p = prepare('From: a@example.com, B <b@example.org>\r\nSender: s@example.net\r\nDate: x\r\nMessage-ID: <y@x>\r\n');
  expect(p.authors).toEqual(['a@example.com', 'b@example.org', 's@example.net']);
  expect(p.message.toString()).toBe('From: a@example.com, B <b@example.org>\r\nSender: s@example.net\r\nDate: x\r\nMessage-ID: <y@x>\r\n');
});

test.each([
  ['no header at all', '\r\nbody'],
  ['no From', 'Subject: x\r\n\r\nbody'],
  ['a From without an address', 'From: undisclosed\r\n\r\nb'],
  ['a From that is no address', 'From: <not an address@@x>\r\n\r\nb'],
  ['a Sender that is no address', 'From: a@example.com\r\nSender: bad@@\r\n\r\nb'],
  ['an mbox line', 'From someone Sat Jan  3 01:05:34 1996\r\nFrom: a@example.com\r\n\r\nb'],
  ['a continuation first', ' folded\r\nFrom: a@example.com\r\n\r\nb'],
  ['a bad idempotency key', 'From: a@example.com\r\nX-Herald-Idempotency-Key: has space\r\n\r\nb'],
  ['a From too long to read', `From: a@example.com, ${'b@example.com, '.repeat(1000)}\r\n\r\nb`],
])('refused: %s', (_what, raw) => {
  expect(() => prepare(raw)).toThrow(MessageRefused);
});

test.each([
  ['=?utf-8?B?SGVsbG8=?=', 'Hello'],
  ['=?UTF-8?Q?a_b=3Dc?= plain', 'a b=c plain'],
  // A character split over two words of one charset, and the blank between them dropped.
  ['=?utf-8?Q?Caf=C3?= =?utf-8?Q?=A9?=', 'Café'],
  ['=?x-unknown?Q?abc?= rest', '=?x-unknown?Q?abc?= rest'],
  ['no words here', 'no words here'],
])('decodeWords(%s)', (input, expected) => {
  expect(decodeWords(input)).toBe(expected);
});

test('the service refusals become SMTP replies in one table', () => {
  expect(replyFor(new DeliveryError('sender-not-allowed', 'This tenant may not send from x.example'))).toEqual({
    code: 550,
    status: '5.7.1',
    text: 'This tenant may not send from x.example',
  });
  expect(replyFor(new DeliveryError('quota-exceeded', 'The daily quota of 5 emails is used up', { retryAfterS: 60 })).code).toBe(451);
  expect(replyFor(new DeliveryError('quota-exceeded', 'q')).status).toBe('4.7.0');
  expect(replyFor(new DeliveryError('temporal-unavailable', 't'))).toEqual(REPLIES.tryAgain);
  expect(replyFor(new DeliveryError('idempotency-key-reused', 'k')).code).toBe(550);
  expect(replyFor(new Error('database down'))).toEqual({ code: 451, status: '4.3.0', text: 'Temporary failure, try again' });
});

test.each([
  ['127.0.0.1', true],
  ['127.1.2.3', true],
  ['::1', true],
  ['::ffff:127.0.0.1', true],
  ['10.0.0.1', false],
  ['::ffff:192.168.1.1', false],
  ['2001:db8::1', false],
  ['not an address', false],
])('loopback(%s) = %s: AUTH without TLS only from loopback', (address, expected) => {
  expect(isLoopback(address)).toBe(expected);
});

test('any bytes at all: a prepared message or MessageRefused (a 5xx), never another error (a 4xx the client would retry forever)', () => {
  const headerish = fc.array(
    fc.oneof(
      fc.constantFrom(
        'From: a@example.com',
        'From: =?utf-8?B?w6k=?= <b@example.org>',
        'Bcc: x@y.z',
        'Subject: =?bad?Q?=ZZ?=',
        'To: ,,,<>',
        'Message-ID:',
        ' folded',
        '',
      ),
      fc.string({ unit: 'binary', maxLength: 80 }),
    ),
    { maxLength: 12 },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)),
        headerish.map((l) => Buffer.from(l.join('\r\n'), 'utf8')),
      ),
      (raw) => {
        try {
          const p = prepare(raw);
          const head = p.message.toString('latin1').split(/\r?\n\r?\n/)[0];
          expect(head).not.toMatch(/(^|\n)bcc:/i);
          expect(p.subject).not.toMatch(/[\r\n]/);
        } catch (err) {
          expect(err).toBeInstanceOf(MessageRefused);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
