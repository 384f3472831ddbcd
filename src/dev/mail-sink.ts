import { SMTPServer } from 'smtp-server';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';

export interface MailSink {
  port: number;
  url: string;
  dir: string;
  close(): Promise<void>;
}

/**
 * The development SMTP gateway of `npm start`: accepts everything and stores each message as
 * an .eml file, named by arrival time and Message-ID, so a person can open what Herald sent.
 */
export async function startMailSink(dir: string, port: number, host = '127.0.0.1'): Promise<MailSink> {
  mkdirSync(dir, { recursive: true });
  let counter = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    size: 50 * 1024 * 1024,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const messageId = /^message-id:\s*<?([^>\r\n]+)>?/im.exec(raw.toString('latin1'))?.[1] ?? 'no-id';
        const safe = messageId.replace(/[^A-Za-z0-9@._-]/g, '_');
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${++counter}-${safe}.eml`;
        const envelope = `X-Herald-Envelope-From: ${session.envelope.mailFrom ? session.envelope.mailFrom.address : ''}\r\nX-Herald-Envelope-To: ${session.envelope.rcptTo.map((r) => r.address).join(', ')}\r\n`;
        writeFileSync(path.join(dir, name), Buffer.concat([Buffer.from(envelope), raw]));
        callback(null, `2.0.0 Ok: stored as ${name}`);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `smtp://${host}:${actual}`,
    dir,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
