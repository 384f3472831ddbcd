import { SMTPServer, type SMTPServerSession, type SMTPServerAddress } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { messageIdOf } from './message-id';

// A real SMTP server (nodemailer's smtp-server) in the test process, scripted per test, the way
// nodemailer's own test suite exercises its client: each hook may answer a reply code (4xx,
// 5xx), cut the connection without a reply or, at the final dot, never reply. The integration
// tests and the fault suite's smtp-server scenarios use it.

export interface Reply {
  code: number;
  message: string;
}

/** 'cut': the socket is destroyed without a reply. */
export type Cut = 'cut';

export interface ReceivedMessage {
  envelopeFrom: string;
  envelopeTo: string[];
  raw: Buffer;
  parsed: ParsedMail;
  /** As mailparser reads it (with angle brackets). */
  messageId: string;
  /** When the server took it (Date.now()). */
  at: number;
}

export interface DataContext {
  /** Without angle brackets ('' when the message has none). */
  messageId: string;
  rcptTo: string[];
  /** 0-based: how many times this Message-ID reached the final dot before. */
  attempt: number;
}

export interface ScriptedSmtp {
  port: number;
  url: string;
  /** Messages accepted (250 at the final dot). */
  received: ReceivedMessage[];
  /** Calls to RCPT TO seen, including refused ones. */
  rcptCalls: string[];
  dataCalls: number;
  /** Connections opened to it, refused ones included (kept across stop() / start()). */
  readonly connections: number;
  /** The Message-ID (without angle brackets) at each final dot, refused ones included. */
  dataMessageIds: string[];
  /** What the server did, by kind: 'connect:421', 'mail:cut', 'rcpt:451', 'data:stall', 'data:250' ... */
  events: Map<string, number>;
  /** Answer the greeting of connection number `index`; return undefined to accept. */
  onConnect?: (index: number) => Reply | undefined;
  /** Answer MAIL FROM number `index`; return undefined to accept. */
  onMailFrom?: (index: number) => Reply | Cut | undefined;
  /** Answer RCPT TO for this address (callIndex: calls for this address before); return undefined to accept. */
  onRcpt?: (address: string, callIndex: number) => Reply | Cut | undefined;
  /** Wait this long before answering the end of DATA (a slow gateway). */
  dataDelayMs: number;
  /**
   * Answer the end of DATA; return undefined to accept. 'cut' and 'stall' (never reply: the
   * client times out) leave the message with the server (the RFC 1047 window: it may deliver it).
   */
  onData?: (callIndex: number, message: DataContext) => Reply | Cut | 'stall' | undefined;
  /** Message-ID (without angle brackets) -> copies the server holds: accepted, cut or stalled after the final dot. */
  copies(): Map<string, number>;
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

type Connections = Set<{ session: SMTPServerSession; _socket: { destroy(): void } }>;
const connectionsOf = (server: SMTPServer) => (server as unknown as { connections: Connections }).connections;

export async function startScriptedSmtp(port = 0): Promise<ScriptedSmtp> {
  let server: SMTPServer | undefined;
  // Kept across stop() / start(), like the records.
  const state: ServerState = { held: [], timers: new Set(), connections: 0, mails: 0 };
  const self: ScriptedSmtp = {
    port,
    url: '',
    received: [],
    rcptCalls: [],
    dataCalls: 0,
    dataMessageIds: [],
    events: new Map(),
    dataDelayMs: 0,
    get connections() {
      return state.connections;
    },
    copies() {
      const out = new Map<string, number>();
      for (const id of state.held) out.set(id, (out.get(id) ?? 0) + 1);
      return out;
    },
    reset() {
      self.onConnect = undefined;
      self.onMailFrom = undefined;
      self.onRcpt = undefined;
      self.onData = undefined;
      self.dataDelayMs = 0;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      for (const t of state.timers) clearTimeout(t);
      state.timers.clear();
      const closed = new Promise<void>((resolve) => s.close(() => resolve()));
      // Pooled client connections would keep close() waiting for 30 s: cut them.
      for (const conn of connectionsOf(s)) conn._socket.destroy();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    },
    async start() {
      if (server) return; // listening already
      server = createServer(self, state);
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

interface ServerState {
  /** Message-IDs of the copies held. */
  held: string[];
  /** Delayed answers to the final dot. */
  timers: Set<NodeJS.Timeout>;
  connections: number;
  mails: number;
}

function createServer(self: ScriptedSmtp, state: ServerState): SMTPServer {
  const event = (kind: string) => self.events.set(kind, (self.events.get(kind) ?? 0) + 1);
  const cut = (session: SMTPServerSession) => {
    for (const conn of connectionsOf(server)) if (conn.session === session) conn._socket.destroy();
  };
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onConnect(_session, callback) {
      // Counted whether or not a hook answers (a?.(x++) would skip the count without one).
      const index = state.connections++;
      const reply = self.onConnect?.(index);
      event(`connect:${reply?.code ?? 220}`);
      callback(reply ? smtpError(reply) : null);
    },
    onMailFrom(_address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const index = state.mails++;
      const reply = self.onMailFrom?.(index);
      event(`mail:${reply === 'cut' ? 'cut' : (reply?.code ?? 250)}`);
      if (reply === 'cut') return cut(session);
      callback(reply ? smtpError(reply) : null);
    },
    onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const index = self.rcptCalls.filter((a) => a === address.address).length;
      self.rcptCalls.push(address.address);
      const reply = self.onRcpt?.(address.address, index);
      event(`rcpt:${reply === 'cut' ? 'cut' : (reply?.code ?? 250)}`);
      if (reply === 'cut') return cut(session);
      callback(reply ? smtpError(reply) : null);
    },
    onData(stream, session, callback) {
      const index = self.dataCalls++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      // 'end' comes with the final dot only: smtp-server destroys the stream of a message cut short.
      stream.on('end', () => {
        const raw = Buffer.concat(chunks);
        const messageId = messageIdOf(raw.toString('latin1')) ?? '';
        const attempt = self.dataMessageIds.filter((id) => id === messageId).length;
        self.dataMessageIds.push(messageId);
        const answer = async () => {
          const reply = self.onData?.(index, { messageId, rcptTo: session.envelope.rcptTo.map((r) => r.address), attempt });
          if (reply === 'cut' || reply === 'stall') {
            event(`data:${reply}`);
            state.held.push(messageId);
            if (reply === 'cut') cut(session);
            return; // 'stall': never call back
          }
          event(`data:${reply?.code ?? 250}`);
          if (reply) return callback(smtpError(reply));
          const parsed = await simpleParser(raw);
          state.held.push(messageId);
          self.received.push({
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            envelopeTo: session.envelope.rcptTo.map((r) => r.address),
            raw,
            parsed,
            messageId: parsed.messageId ?? '',
            at: Date.now(),
          });
          callback(null);
        };
        if (self.dataDelayMs > 0) {
          const t = setTimeout(() => (state.timers.delete(t), void answer()), self.dataDelayMs);
          state.timers.add(t);
        } else void answer();
      });
    },
  });
  return server;
}
