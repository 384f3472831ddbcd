import { SMTPServer, type SMTPServerSession, type SMTPServerAddress } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';

// A real SMTP server, scripted per test: each hook may answer a reply code (4xx, 5xx), stall
// or drop the connection, the way nodemailer's own test suite exercises its client.

export interface Reply {
  code: number;
  message: string;
}

export interface ReceivedMessage {
  envelopeFrom: string;
  envelopeTo: string[];
  raw: Buffer;
  parsed: ParsedMail;
  messageId: string;
  /** When the server took it (Date.now()). */
  at: number;
}

export interface ScriptedSmtp {
  port: number;
  url: string;
  received: ReceivedMessage[];
  /** Calls to RCPT TO seen, including refused ones. */
  rcptCalls: string[];
  dataCalls: number;
  /** Connections opened to it (including ones refused at once by a hook). */
  connections: number;
  /** Answer RCPT TO for this address; return undefined to accept. */
  onRcpt?: (address: string, callIndex: number) => Reply | undefined;
  /** Wait this long before answering the end of DATA (a slow gateway). */
  dataDelayMs: number;
  /** Answer the end of DATA; return undefined to accept. */
  onData?: (callIndex: number) => Reply | 'drop' | undefined;
  /** Forget the hooks of the previous test: accept everything, at once. */
  reset(): void;
  /** Stop listening (connections refused) until start() again. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
  byMessageId(id: string): ReceivedMessage[];
}

function smtpError(reply: Reply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

export async function startScriptedSmtp(port = 0): Promise<ScriptedSmtp> {
  let server: SMTPServer | undefined;
  const self: ScriptedSmtp = {
    port,
    url: '',
    received: [],
    rcptCalls: [],
    dataCalls: 0,
    connections: 0,
    dataDelayMs: 0,
    reset() {
      self.onRcpt = undefined;
      self.onData = undefined;
      self.dataDelayMs = 0;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      // Pooled client connections would keep close() waiting for 30 s: cut them.
      const connections = (s as unknown as { connections: Set<{ _socket: { destroy(): void } }> }).connections;
      for (const conn of connections) conn._socket.destroy();
      await closed;
    },
    async start() {
      if (server) return; // listening already
      server = createServer(self);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(self.port, '127.0.0.1', () => resolve());
      });
      self.port = (server.server.address() as AddressInfo).port;
      self.url = `smtp://127.0.0.1:${self.port}`;
    },
    close() {
      return self.stop();
    },
    byMessageId(id) {
      return self.received.filter((m) => m.messageId === id);
    },
  };
  await self.start();
  return self;
}

function dropConnection(server: SMTPServer, session: SMTPServerSession) {
  const connections = (server as unknown as { connections: Set<{ session: SMTPServerSession; _socket: { destroy(): void } }> }).connections;
  for (const conn of connections) if (conn.session === session) conn._socket.destroy();
}

function createServer(self: ScriptedSmtp): SMTPServer {
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session: SMTPServerSession, callback: (err?: Error | null) => void) {
      self.connections++;
      callback();
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const index = self.rcptCalls.filter((a) => a === address.address).length;
      self.rcptCalls.push(address.address);
      const reply = self.onRcpt?.(address.address, index);
      callback(reply ? smtpError(reply) : null);
    },
    onData(stream, session, callback) {
      const index = self.dataCalls++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        if (self.dataDelayMs > 0) await new Promise((r) => setTimeout(r, self.dataDelayMs));
        const reply = self.onData?.(index);
        if (reply === 'drop') {
          // Cut the connection after the final dot, before any reply (the RFC 1047 window).
          dropConnection(server, session);
          return;
        }
        if (reply) return callback(smtpError(reply));
        const raw = Buffer.concat(chunks);
        const parsed = await simpleParser(raw);
        self.received.push({
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          envelopeTo: session.envelope.rcptTo.map((r) => r.address),
          raw,
          parsed,
          messageId: parsed.messageId ?? '',
          at: Date.now(),
        });
        callback(null);
      });
    },
  });
  return server;
}
