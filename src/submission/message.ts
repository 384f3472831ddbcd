import { createHash, randomUUID } from 'node:crypto';
import addressparser from 'nodemailer/lib/addressparser';
import type { Address } from '../shared';
import { isAcceptableAddress, isAcceptableIdempotencyKey } from './rules';

// A submitted message is kept as it was submitted. Herald reads its header block, by hand and
// field by field, and changes that block only: a Message-ID and a Date are added when missing,
// Bcc and Herald's own X-Herald-Idempotency-Key are removed, every other field keeps its bytes,
// and the body is never decoded or re-encoded.

/** The optional header that names a submission for idempotency, like the API's Idempotency-Key. */
export const IDEMPOTENCY_HEADER = 'X-Herald-Idempotency-Key';

/** Fields that never leave Herald (lower-case). */
const REMOVED_FIELDS = new Set(['bcc', 'resent-bcc', IDEMPOTENCY_HEADER.toLowerCase()]);
/** RFC 5322 field names: printable ASCII but the colon. */
const FIELD_NAME = /^[!-9;-~]{1,998}$/;
/** From and Sender: every author is checked, so a field too long to read is refused. */
const AUTHOR_FIELD = { max: 8 * 1024, refuseLonger: true };
/** To and Cc only tell to and cc recipients from bcc ones: read up to this much. */
const RECIPIENT_FIELD = { max: 256 * 1024, refuseLonger: false };
const MAX_SUBJECT = 998;

/** The message cannot be taken as it is (a 5xx: the client must not send it again unchanged). */
export class MessageRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MessageRefused';
  }
}

export interface PreparedMessage {
  /** What is stored and sent, at every attempt. */
  message: Buffer;
  /** The client's Message-ID, or the one added. */
  messageId: string;
  /** From X-Herald-Idempotency-Key, else from the client's own Message-ID; none when Herald added it. */
  idempotency?: { key: string; from: 'header' | 'message-id' };
  /** The first author (From), for listing. */
  from: Address;
  /** Every address of the From and Sender fields (lower-case). */
  authors: string[];
  /** Decoded, on one line, for listing. */
  subject: string;
  /** The addresses of the To and Cc fields (lower-case): which envelope recipients are to, cc or bcc. */
  to: string[];
  cc: string[];
}

interface Field {
  name: string;
  lower: string;
  /** The field as received, folding and line endings included (latin1: one char per byte). */
  raw: string;
  /** Unfolded, decoded as UTF-8 (RFC 6532), trimmed. */
  value: string;
}

/** The header fields and where the body (the blank line before it included) starts. */
function readHeader(raw: Buffer): { fields: Field[]; bodyStart: number; eol: string } {
  const fields: Array<Omit<Field, 'value'> & { unfolded: string }> = [];
  let eol = '\r\n';
  let pos = 0;
  let bodyStart = raw.length;
  while (pos < raw.length) {
    const newline = raw.indexOf(0x0a, pos);
    const end = newline === -1 ? raw.length : newline + 1;
    const line = raw.toString('latin1', pos, end);
    const endLength = line.endsWith('\r\n') ? 2 : line.endsWith('\n') ? 1 : 0;
    const content = line.slice(0, line.length - endLength);
    if (content === '') {
      bodyStart = pos;
      break;
    }
    if (pos === 0) eol = endLength === 1 ? '\n' : '\r\n';
    if (content[0] === ' ' || content[0] === '\t') {
      const last = fields.at(-1);
      if (!last) throw new MessageRefused('the message must start with a header field');
      last.raw += line;
      last.unfolded += content;
    } else {
      const colon = content.indexOf(':');
      const name = colon > 0 ? content.slice(0, colon).trimEnd() : '';
      if (!FIELD_NAME.test(name)) throw new MessageRefused(`header line ${fields.length + 1} is not a header field (name: value)`);
      fields.push({ name, lower: name.toLowerCase(), raw: line, unfolded: content.slice(colon + 1) });
    }
    pos = end;
  }
  const decoded = fields.map(({ unfolded, ...f }) => ({ ...f, value: Buffer.from(unfolded, 'latin1').toString('utf8').trim() }));
  return { fields: decoded, bodyStart, eol };
}

const ENCODED_WORD = /=\?([^?\s]{1,64})\?([BbQq])\?([^?\s]*)\?=/g;
const BLANK = /^[ \t]*$/;

function wordBytes(encoding: string, text: string): Buffer {
  if (encoding.toUpperCase() === 'B') return Buffer.from(text, 'base64');
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '_') bytes.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(text.charCodeAt(i) & 0xff);
  }
  return Buffer.from(bytes);
}

/**
 * RFC 2047 encoded words (`=?utf-8?B?...?=`) decoded, for listing. Adjacent words of one charset
 * are decoded together (a character may be split between them); the blank between two encoded
 * words is dropped; a word in a charset Node does not know is left as it is.
 */
export function decodeWords(value: string): string {
  const text = value.length > 4 * MAX_SUBJECT ? value.slice(0, 4 * MAX_SUBJECT) : value;
  let out = '';
  let last = 0;
  let run: { charset: string; bytes: Buffer[]; words: string[] } | undefined;
  const flush = () => {
    if (run) {
      try {
        out += new TextDecoder(run.charset).decode(Buffer.concat(run.bytes));
      } catch {
        out += run.words.join(' ');
      }
    }
    run = undefined;
  };
  for (const match of text.matchAll(ENCODED_WORD)) {
    const between = text.slice(last, match.index);
    const charset = match[1].split('*')[0].toLowerCase();
    if (!run || !BLANK.test(between)) {
      flush();
      out += between;
    } else if (run.charset !== charset) flush();
    run ??= { charset, bytes: [], words: [] };
    run.bytes.push(wordBytes(match[2], match[3]));
    run.words.push(match[0]);
    last = match.index + match[0].length;
  }
  flush();
  return out + text.slice(last);
}

/** One line, no control characters, at most 998 characters. */
function oneLine(value: string, max = MAX_SUBJECT): string {
  return value
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .trim()
    .slice(0, max);
}

/**
 * The addresses of some fields. An author field too long to read whole is refused (every author
 * is checked against the tenant's domains); a recipient field is read up to its limit.
 */
function addressesOf(fields: Field[], what: string, limit: { max: number; refuseLonger: boolean }): Address[] {
  return fields.flatMap((field) => {
    if (field.value.length > limit.max && limit.refuseLonger) throw new MessageRefused(`the ${what} field is too long`);
    return addressparser(field.value.slice(0, limit.max), { flatten: true })
      .filter((a) => a.address)
      .map((a) => {
        const name = a.name ? oneLine(decodeWords(a.name), 200) : '';
        return { address: a.address.toLowerCase(), ...(name ? { name } : {}) };
      });
  });
}

/** RFC 5322 date-time, in UTC. */
export function messageDate(now: Date): string {
  return now.toUTCString().replace(/ GMT$/, ' +0000');
}

/** The idempotency key a client's own Message-ID gives (hashed when it would not fit a key). */
function keyOfMessageId(messageId: string): string {
  const key = `message-id:${messageId}`;
  return isAcceptableIdempotencyKey(key) ? key : `message-id:sha256:${createHash('sha256').update(messageId).digest('hex')}`;
}

/**
 * Reads what Herald needs from a submitted message and makes the one change it makes: the
 * message that is stored and sent. Throws MessageRefused for a message that cannot be taken.
 */
export function prepareSubmittedMessage(
  raw: Buffer,
  options: { messageIdDomain: string; now?: Date; newId?: () => string },
): PreparedMessage {
  const { fields, bodyStart, eol } = readHeader(raw);
  if (fields.length === 0) throw new MessageRefused('the message has no header');
  const named = (lower: string) => fields.filter((f) => f.lower === lower);

  const fromAddresses = addressesOf(named('from'), 'From', AUTHOR_FIELD);
  const authors = [...fromAddresses, ...addressesOf(named('sender'), 'Sender', AUTHOR_FIELD)];
  if (fromAddresses.length === 0) throw new MessageRefused('the message needs a From field with an address');
  const invalid = authors.find((a) => !isAcceptableAddress(a.address));
  if (invalid) throw new MessageRefused(`not a valid address in From or Sender: ${oneLine(invalid.address, 254)}`);

  const idempotencyField = named(IDEMPOTENCY_HEADER.toLowerCase())[0];
  if (idempotencyField && !isAcceptableIdempotencyKey(idempotencyField.value)) {
    throw new MessageRefused(`${IDEMPOTENCY_HEADER} must be 1-255 visible ASCII characters`);
  }
  const clientMessageId = named('message-id').find((f) => f.value !== '')?.value;
  const messageId = clientMessageId ?? `<${(options.newId ?? randomUUID)()}@${options.messageIdDomain}>`;

  const added: string[] = [];
  if (!clientMessageId) added.push(`Message-ID: ${messageId}`);
  if (named('date').length === 0) added.push(`Date: ${messageDate(options.now ?? new Date())}`);
  const kept = fields.filter((f) => !REMOVED_FIELDS.has(f.lower) && !(f.lower === 'message-id' && f.value === ''));
  const header = added.map((line) => line + eol).join('') + kept.map((f) => f.raw).join('');

  return {
    message: Buffer.concat([Buffer.from(header, 'latin1'), raw.subarray(bodyStart)]),
    messageId,
    idempotency: idempotencyField
      ? { key: idempotencyField.value, from: 'header' }
      : clientMessageId
        ? { key: keyOfMessageId(clientMessageId), from: 'message-id' }
        : undefined,
    from: fromAddresses[0],
    authors: [...new Set(authors.map((a) => a.address))],
    subject: oneLine(decodeWords(named('subject')[0]?.value ?? '')),
    to: addressesOf(named('to'), 'To', RECIPIENT_FIELD).map((a) => a.address),
    cc: addressesOf(named('cc'), 'Cc', RECIPIENT_FIELD).map((a) => a.address),
  };
}
