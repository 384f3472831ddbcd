import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { canConnect, sleep, spawnLogged, type Proc } from './proc';

// The SMTP peers of the suite. Both count the copies of each message they hold, by Message-ID:
// a copy is a message whose data arrived complete (it carries the END_MARKER line the load
// generator puts last in every body) and that the gateway keeps, which includes a message whose
// final dot arrived and whose reply never went out (RFC 1047: the gateway may deliver it).

export const END_MARKER = 'end-of-message';

export interface Gateway {
  kind: 'smtp-sink' | 'smtp-server';
  url: string;
  /** Message-ID (without angle brackets) -> copies held. */
  copies(): Map<string, number>;
  close(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '../../..');

function messageIdOf(text: string): string | undefined {
  const headerEnd = text.search(/\r?\n\r?\n/);
  const head = headerEnd >= 0 ? text.slice(0, headerEnd) : text;
  return /^message-id:\s*<([^>\r\n]+)>/im.exec(head)?.[1];
}

// ---------------------------------------------------------------------------------------------
// Postfix's smtp-sink, a separate process, fetched by scripts/ensure-smtp-sink.sh.

let sinkRoot: string | undefined;
/** The unpacked postfix package, fetched and cached on first use. */
export function ensureSmtpSink(): string {
  sinkRoot ??= execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-smtp-sink.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000,
  }).trim();
  return sinkRoot;
}

export interface SinkGateway extends Gateway {
  port: number;
  proc(): Proc | undefined;
  /** (Re)starts it on the same port with these fault flags (-r, -f, -q, -Q, -w, -W ...). */
  start(flags?: string[]): Promise<void>;
  /** SIGKILL: connections are refused until start() again. */
  stop(): Promise<void>;
}

/** Flags that make smtp-sink refuse the final dot (-r . / -f . / -Q .): what it dumps is not kept. */
function refusesDot(flags: string[]): boolean {
  return flags.some((f, i) => ['-r', '-f', '-Q'].includes(f) && (flags[i + 1] ?? '').split(/[\s,]+/).includes('.'));
}

export async function startSmtpSink(opts: { port: number; dir: string; logFile: string; flags?: string[] }): Promise<SinkGateway> {
  const root = ensureSmtpSink();
  const binary = path.join(root, 'usr', 'sbin', 'smtp-sink');
  const dumpRoot = path.join(opts.dir, 'sink-mail');
  mkdirSync(dumpRoot, { recursive: true });
  // As root smtp-sink runs as `nobody`, who must be able to reach and write the dump folders.
  chmodSync(path.dirname(opts.dir), 0o755);
  chmodSync(opts.dir, 0o755);
  chmodSync(dumpRoot, 0o777);
  // One dump folder per run of the sink, with the flags of that run: smtp-sink dumps a message
  // before it answers the final dot, so the dumps of a run that refuses the dot are not copies.
  const runs: Array<{ dir: string; kept: boolean }> = [];
  let current: Proc | undefined;

  const gateway: SinkGateway = {
    kind: 'smtp-sink',
    port: opts.port,
    url: `smtp://127.0.0.1:${opts.port}`,
    proc: () => current,
    async start(flags = []) {
      await gateway.stop();
      const dumpDir = path.join(dumpRoot, String(runs.length));
      mkdirSync(dumpDir);
      chmodSync(dumpDir, 0o777);
      runs.push({ dir: dumpDir, kept: !refusesDot(flags) });
      const args = [...flags, '-d', `${dumpDir}/%H%M%S.`, '-m', '256', '-t', '30'];
      if (process.getuid?.() === 0) args.unshift('-u', 'nobody');
      args.push(`127.0.0.1:${opts.port}`, '256');
      current = spawnLogged('smtp-sink', binary, args, {
        env: { ...process.env, LD_LIBRARY_PATH: path.join(root, 'usr', 'lib', 'postfix') },
        logFile: opts.logFile,
      });
      const deadline = Date.now() + 10_000;
      while (!(await canConnect(opts.port))) {
        if (!current.alive() || Date.now() > deadline) {
          const tail = current.tail();
          await gateway.stop();
          throw new Error(`smtp-sink did not start:\n${tail}`);
        }
        await sleep(50);
      }
    },
    async stop() {
      await current?.kill('SIGKILL');
      current = undefined;
    },
    copies() {
      const out = new Map<string, number>();
      for (const run of runs.filter((r) => r.kept)) {
        for (const name of readdirSync(run.dir)) {
          const text = readFileSync(path.join(run.dir, name), 'latin1');
          const id = messageIdOf(text.replace(/^X-[\w-]+: .*\r?\n/gm, ''));
          if (id && text.includes(END_MARKER)) out.set(id, (out.get(id) ?? 0) + 1);
        }
      }
      return out;
    },
    close: () => gateway.stop(),
  };
  await gateway.start(opts.flags);
  return gateway;
}

// ---------------------------------------------------------------------------------------------
// nodemailer's smtp-server, in the test process, scripted per scenario.

export interface Reply {
  code: number;
  message: string;
}

export interface FaultContext {
  /** ms since the gateway started. */
  elapsedMs: number;
  /** 0-based number of the connection / MAIL FROM / of the call of this hook for this Message-ID or address. */
  index: number;
  /** Envelope recipients of the transaction (at the final dot). */
  rcptTo?: string[];
}

export interface FaultRules {
  onConnect?(ctx: FaultContext): Reply | undefined;
  /** 'cut' destroys the socket without a reply. */
  onMailFrom?(ctx: FaultContext): Reply | 'cut' | undefined;
  /** 'cut' destroys the socket without a reply (a cut before DATA). */
  onRcpt?(address: string, ctx: FaultContext): Reply | 'cut' | undefined;
  /**
   * At the final dot. 'cut' destroys the socket without a reply, 'stall' never replies; in both
   * the gateway keeps the message (the RFC 1047 window). A reply of 4yz/5yz refuses it.
   */
  onDataEnd?(messageId: string, ctx: FaultContext): Reply | 'cut' | 'stall' | undefined;
  /** Delay before answering the final dot (a slow gateway), in ms. */
  dataDelayMs?(messageId: string): number;
}

export interface ScriptedGateway extends Gateway {
  rules: FaultRules;
  /** What the gateway did, by kind: 'connect:421', 'rcpt:451', 'data:cut', 'data:250' ... */
  events: Map<string, number>;
  rcptCalls: Map<string, number>;
  dataCalls: Map<string, number>;
}

function smtpError(reply: Reply): Error {
  return Object.assign(new Error(reply.message), { responseCode: reply.code });
}

export async function startScriptedGateway(rules: FaultRules = {}): Promise<ScriptedGateway> {
  const startedAt = Date.now();
  const held = new Map<string, number>();
  const events = new Map<string, number>();
  const rcptCalls = new Map<string, number>();
  const dataCalls = new Map<string, number>();
  const count = (m: Map<string, number>, key: string) => {
    const n = m.get(key) ?? 0;
    m.set(key, n + 1);
    return n;
  };
  let connections = 0;
  let mails = 0;
  const timers = new Set<NodeJS.Timeout>();

  const gateway = {} as ScriptedGateway;
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    socketTimeout: 60_000,
    onConnect(session, callback) {
      const reply = gateway.rules.onConnect?.({ elapsedMs: Date.now() - startedAt, index: connections++ });
      count(events, `connect:${reply?.code ?? 220}`);
      callback(reply ? smtpError(reply) : null);
    },
    onMailFrom(_address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const reply = gateway.rules.onMailFrom?.({ elapsedMs: Date.now() - startedAt, index: mails++ });
      if (reply === 'cut') {
        count(events, 'mail:cut');
        return cut(session);
      }
      count(events, `mail:${reply?.code ?? 250}`);
      callback(reply ? smtpError(reply) : null);
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error | null) => void) {
      const index = count(rcptCalls, address.address);
      const reply = gateway.rules.onRcpt?.(address.address, { elapsedMs: Date.now() - startedAt, index });
      if (reply === 'cut') {
        count(events, 'rcpt:cut');
        return cut(_session);
      }
      count(events, `rcpt:${reply?.code ?? 250}`);
      callback(reply ? smtpError(reply) : null);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const text = Buffer.concat(chunks).toString('latin1');
        const id = messageIdOf(text) ?? 'no-message-id';
        const complete = text.includes(END_MARKER);
        const index = count(dataCalls, id);
        const answer = () => {
          const rcptTo = session.envelope.rcptTo.map((r) => r.address);
          const reply = gateway.rules.onDataEnd?.(id, { elapsedMs: Date.now() - startedAt, index, rcptTo });
          if (reply === 'cut' || reply === 'stall') {
            count(events, `data:${reply}`);
            if (complete) count(held, id);
            if (reply === 'cut') cut(session);
            return; // 'stall': never call back; the client times out
          }
          count(events, `data:${reply?.code ?? 250}`);
          if (reply) return callback(smtpError(reply));
          if (complete) count(held, id);
          callback(null, `2.0.0 Ok: queued as ${id}`);
        };
        const delay = gateway.rules.dataDelayMs?.(id) ?? 0;
        if (delay > 0) {
          const t = setTimeout(() => (timers.delete(t), answer()), delay);
          timers.add(t);
        } else answer();
      });
    },
  });

  function cut(session: SMTPServerSession) {
    const connectionsSet = (server as unknown as { connections: Set<{ session: SMTPServerSession; _socket: { destroy(): void } }> })
      .connections;
    for (const conn of connectionsSet) if (conn.session === session) conn._socket.destroy();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  Object.assign(gateway, {
    kind: 'smtp-server' as const,
    url: `smtp://127.0.0.1:${port}`,
    rules,
    events,
    rcptCalls,
    dataCalls,
    copies: () => new Map(held),
    async close() {
      for (const t of timers) clearTimeout(t);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const connectionsSet = (server as unknown as { connections: Set<{ _socket: { destroy(): void } }> }).connections;
      for (const conn of connectionsSet) conn._socket.destroy();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 5000)))]);
      clearTimeout(timer);
    },
  });
  return gateway;
}
