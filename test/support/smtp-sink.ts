import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/temporal-dev-server';
import { messageIdOf } from './message-id';
import { REPO_ROOT } from './paths';
import { spawnLogged, waitForPort, type Proc } from './process';

// Postfix's smtp-sink: a fast SMTP peer in C that accepts everything and, with -d, dumps each
// message to a file of its own before it answers the final dot. The benchmark measures against
// it (a dump's modification time is the moment its last byte arrived: the receipt); the fault
// suite restarts it with fault flags (-r, -f, -q, -Q, -w, -W, -b, -B ...) and counts the copies
// it holds by Message-ID. Fetched into a cache by scripts/ensure-smtp-sink.sh.

let sinkRoot: string | undefined;
/** The root of the unpacked postfix package, fetched and cached on first use. */
export function ensureSmtpSink(): string {
  sinkRoot ??= execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'ensure-smtp-sink.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 300_000,
  }).trim();
  return sinkRoot;
}

export interface SmtpSinkOptions {
  /** Default: a free port. A restart keeps it. */
  port?: number;
  /**
   * Folder for the dumps (one subfolder per run of the sink) and, by default, its log; the dumps
   * stay there. Default: a folder of its own on tmpfs when there is one (one file per message:
   * disk latency would limit the sink), whose dumps are deleted as they are collected, removed
   * by close().
   */
  dir?: string;
  /** smtp-sink's log. Default: smtp-sink.log in the folder. */
  logFile?: string;
  /** Fault flags of the first run (see start()). */
  flags?: string[];
  /** A dump counts only once it holds this text (the sender writes it last): a sink killed mid-message leaves a partial dump. */
  endMarker?: string;
  /** smtp-sink -t: seconds it waits for a command or to send a reply (its default: 100). */
  commandTimeoutS?: number;
}

export interface Receipt {
  /** Without angle brackets. */
  messageId: string;
  /** Epoch milliseconds of the last write of the dump. */
  at: number;
}

export interface SmtpSink {
  url: string;
  port: number;
  /** The running smtp-sink's pid (the latest run's). */
  readonly pid: number;
  proc(): Proc | undefined;
  /** Messages dumped so far by runs that kept them (one readdir a run). */
  count(): number;
  /** Receipts of the dumps not collected before (a dump still being written waits for the next call). */
  collect(): Receipt[];
  /** Message-ID -> copies the sink holds: every dump collected so far. */
  copies(): Map<string, number>;
  /** (Re)starts it on the same port with these fault flags. */
  start(flags?: string[]): Promise<void>;
  /** SIGKILL: connections are refused until start() again. */
  stop(): Promise<void>;
  /** Stops it and removes a folder of its own. */
  close(): Promise<void>;
}

/** Flags that make smtp-sink refuse the final dot (-r . / -f . / -Q .): what it dumps is not kept. */
function refusesDot(flags: string[]): boolean {
  return flags.some((f, i) => ['-r', '-f', '-Q'].includes(f) && (flags[i + 1] ?? '').split(/[\s,]+/).includes('.'));
}

export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const root = ensureSmtpSink();
  const binary = path.join(root, 'usr', 'sbin', 'smtp-sink');
  const port = opts.port ?? (await freePort());
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'herald-smtp-sink-'));
  const keepDumps = !ownDir;
  const dumpRoot = path.join(dir, 'sink-mail');
  mkdirSync(dumpRoot, { recursive: true });
  // As root smtp-sink runs as `nobody`, who must be able to reach and write the dump folders.
  if (!ownDir) chmodSync(path.dirname(dir), 0o755);
  chmodSync(dir, 0o755);
  chmodSync(dumpRoot, 0o777);
  // One dump folder per run, with the flags of that run: smtp-sink dumps a message before it
  // answers the final dot, so the dumps of a run that refuses the dot are not copies.
  const runs: Array<{ dir: string; kept: boolean }> = [];
  const collected = new Set<string>();
  const held = new Map<string, number>();
  let deleted = 0;
  let current: Proc | undefined;
  const head = Buffer.alloc(4096);

  function read(file: string): string {
    if (opts.endMarker) return readFileSync(file, 'latin1');
    // Without an end marker the headers are enough: read the first 4 KiB only.
    const fd = openSync(file, 'r');
    try {
      return head.toString('latin1', 0, readSync(fd, head, 0, head.length, 0));
    } finally {
      closeSync(fd);
    }
  }

  const sink: SmtpSink = {
    url: `smtp://127.0.0.1:${port}`,
    port,
    get pid() {
      return current!.pid;
    },
    proc: () => current,
    count: () => deleted + runs.filter((r) => r.kept).reduce((n, r) => n + readdirSync(r.dir).length, 0),
    collect() {
      const out: Receipt[] = [];
      for (const run of runs.filter((r) => r.kept)) {
        for (const name of readdirSync(run.dir)) {
          const file = path.join(run.dir, name);
          if (collected.has(file)) continue;
          const text = read(file);
          const messageId = messageIdOf(text);
          // Still being written: the headers (or the end marker) are not all there yet.
          if (!messageId || (opts.endMarker && !text.includes(opts.endMarker))) continue;
          out.push({ messageId, at: statSync(file).mtimeMs });
          held.set(messageId, (held.get(messageId) ?? 0) + 1);
          if (keepDumps) collected.add(file);
          else {
            unlinkSync(file);
            deleted++;
          }
        }
      }
      return out;
    },
    copies() {
      sink.collect();
      return new Map(held);
    },
    async start(flags = []) {
      await sink.stop();
      const runDir = path.join(dumpRoot, String(runs.length));
      mkdirSync(runDir);
      chmodSync(runDir, 0o777);
      runs.push({ dir: runDir, kept: !refusesDot(flags) });
      const args = [...flags, '-d', `${runDir}/%H%M%S.`, '-m', '512'];
      if (opts.commandTimeoutS) args.push('-t', String(opts.commandTimeoutS));
      if (process.getuid?.() === 0) args.unshift('-u', 'nobody');
      args.push(`127.0.0.1:${port}`, '512');
      current = spawnLogged('smtp-sink', binary, args, {
        env: { ...process.env, LD_LIBRARY_PATH: path.join(root, 'usr', 'lib', 'postfix') },
        logFile: opts.logFile ?? path.join(dir, 'smtp-sink.log'),
      });
      try {
        await waitForPort(port, { proc: current });
      } catch (err) {
        await sink.stop();
        throw err;
      }
    },
    async stop() {
      await current?.kill('SIGKILL');
    },
    async close() {
      await sink.stop();
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  await sink.start(opts.flags);
  return sink;
}
