import MailComposer from 'nodemailer/lib/mail-composer';
import { PassThrough, Readable } from 'node:stream';

export interface Address {
  name?: string;
  address: string;
}

export interface EmailContent {
  to: Address[];
  cc: Address[];
  bcc: Address[];
  replyTo: Address[];
  text?: string;
  html?: string;
  headers: Record<string, string>;
}

export interface Attachment {
  filename: string;
  contentType: string;
  content: Buffer;
}

export interface MessageParts {
  from: Address;
  subject: string;
  messageId: string;
  content: EmailContent;
  attachments: Attachment[];
}

/** Builds the RFC 5322 message once per attempt; the Message-ID is the email's, never a new one. */
export function buildRawMessage(parts: MessageParts): Promise<Buffer> {
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

/**
 * Wraps the raw message in a stream that reports when nodemailer has read all of it, that is
 * when the data (and the final dot right after) has gone to the gateway. An error after that
 * point leaves the outcome uncertain.
 */
export function trackedMessageStream(raw: Buffer): { stream: Readable; fullyRead: () => boolean } {
  let done = false;
  const stream = new PassThrough();
  stream.on('end', () => {
    done = true;
  });
  stream.end(raw);
  return { stream, fullyRead: () => done };
}
