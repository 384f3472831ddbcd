import MailComposer from 'nodemailer/lib/mail-composer';
import DKIM from 'nodemailer/lib/dkim';
import { PassThrough, Readable } from 'node:stream';
import type { EmailMessage } from '../shared';

/**
 * The message to send for an email, and its envelope sender: a message submitted whole is sent as
 * the very bytes stored at acceptance; any other is composed from its parts at each attempt.
 */
export async function messageFor(email: EmailMessage): Promise<{ envelopeFrom: string; raw: Buffer }> {
  if (email.submitted) return { envelopeFrom: email.submitted.mailFrom, raw: email.submitted.message };
  return { envelopeFrom: email.from.address, raw: await buildRawMessage(email) };
}

/** Builds the RFC 5322 message once per attempt; the Message-ID is the email's, never a new one. */
export function buildRawMessage(parts: EmailMessage): Promise<Buffer> {
  const { content } = parts;
  const composer = new MailComposer({
    from: parts.from,
    to: content.to,
    cc: content.cc,
    // Bcc addresses travel only in the SMTP envelope, never in the headers.
    replyTo: content.replyTo.length ? content.replyTo : undefined,
    subject: parts.subject,
    text: content.text,
    html: content.html,
    headers: content.headers,
    messageId: parts.messageId,
    attachments: parts.attachments.map((a) => ({
      filename: a.filename,
      contentType: a.contentType,
      content: a.content,
    })),
  });
  return new Promise((resolve, reject) => {
    composer.compile().build((err, message) => (err ? reject(err) : resolve(message)));
  });
}

// Which raw streams are tracked, and how to mark each one sent. nodemailer reads the raw input
// eagerly into its own buffers as soon as the message is queued (a small message is read whole
// before MAIL FROM), so the end of the input says nothing about the DATA phase. The stream that
// is piped to the socket after the 354 reply is the last stage of nodemailer's own pipeline:
// the `trackDataPhase` plugin (registered on every transport by transports.ts) appends a stage
// there and marks the message when that stage has been read to its end.
const tracked = new WeakMap<object, () => void>();

/**
 * Wraps the raw message in a stream that reports when nodemailer has sent all of it in the DATA
 * phase, that is when the data (and the final dot right after) has gone to the gateway. An error
 * after that point leaves the outcome uncertain; one before it (a cut at MAIL, RCPT or DATA) does
 * not. Needs a transport with the `trackDataPhase` plugin.
 */
export function trackedMessageStream(raw: Buffer): { stream: Readable; dataPhaseSent: () => boolean } {
  let done = false;
  const stream = new PassThrough();
  stream.end(raw);
  tracked.set(stream, () => {
    done = true;
  });
  return { stream, dataPhaseSent: () => done };
}

interface PluginMail {
  data: { raw?: unknown };
  message: { processFunc(fn: (input: Readable) => Readable): void };
}

/** nodemailer 'stream' plugin: see `tracked` above. */
export function trackDataPhase(mail: PluginMail, callback: (err?: Error | null) => void): void {
  const markSent = mail.data.raw && typeof mail.data.raw === 'object' ? tracked.get(mail.data.raw) : undefined;
  if (markSent) {
    mail.message.processFunc((input) => {
      const last = new PassThrough();
      // 'end' is emitted once the consumer (nodemailer's DATA stream) has read every byte.
      last.once('end', markSent);
      input.once('error', (err) => last.destroy(err));
      last.once('close', () => {
        if (!last.readableEnded) input.destroy();
      });
      return input.pipe(last);
    });
  }
  callback();
}

/**
 * Signs a built message with the From domain's DKIM key (nodemailer's DKIM signer, the one its
 * `dkim` option uses). Signed here, before the message is handed to the transport, so that the
 * data-phase tracking stage stays the last one: the signer reads its whole input before it
 * writes, which would mark the message sent before DATA.
 */
export async function signMessage(raw: Buffer, key: { domainName: string; keySelector: string; privateKey: string }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of new DKIM(key).sign(raw)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
