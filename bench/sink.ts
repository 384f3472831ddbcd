import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Postfix's smtp-sink as the benchmark's SMTP peer: a fast C server that accepts everything and,
// with -d, dumps each message to its own file. The file's modification time is the moment the
// last byte arrived (receipt), and its Message-ID header tells which email it was.

export interface Receipt {
  messageId: string;
  /** Epoch milliseconds of the last write of the dump file. */
  at: number;
}

export interface SmtpSink {
  url: string;
  pid: number;
  dir: string;
  /** Number of messages received so far (one readdir). */
  count(): number;
  /** Reads the dump files not read before, returns their receipts and deletes the files. */
  collect(): Receipt[];
  stop(): Promise<void>;
}

const REPO_ROOT = path.resolve(__dirname, '../..');

/** The root of the unpacked postfix package, fetched into the cache by scripts/ensure-smtp-sink.sh. */
export function ensureSmtpSink(): string {
  const script = path.join(REPO_ROOT, 'scripts', 'ensure-smtp-sink.sh');
  return execFileSync('bash', [script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

export async function startSmtpSink(port: number): Promise<SmtpSink> {
  const root = ensureSmtpSink();
  const binary = path.join(root, 'usr', 'sbin', 'smtp-sink');
  // tmpfs when there is one: the sink writes a file per message and disk latency would limit it.
  const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const top = mkdtempSync(path.join(base, 'herald-bench-sink-'));
  const dir = path.join(top, 'mail');
  mkdirSync(dir);
  // As root, smtp-sink drops to `nobody`, who must be able to create files here.
  chmodSync(top, 0o755);
  chmodSync(dir, 0o777);
  const args = ['-d', `${dir}/%H%M%S.`, '-m', '512'];
  if (process.getuid?.() === 0) args.unshift('-u', 'nobody');
  args.push(`127.0.0.1:${port}`, '512');
  const child: ChildProcess = spawn(binary, args, {
    env: { ...process.env, LD_LIBRARY_PATH: path.join(root, 'usr', 'lib', 'postfix') },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(port, () => child.exitCode !== null, () => `smtp-sink did not start: ${stderr}`);

  let removed = 0;
  const buf = Buffer.alloc(4096);
  return {
    url: `smtp://127.0.0.1:${port}`,
    pid: child.pid!,
    dir,
    count: () => removed + readdirSync(dir).length,
    collect() {
      const out: Receipt[] = [];
      for (const name of readdirSync(dir)) {
        const file = path.join(dir, name);
        const fd = openSync(file, 'r');
        let head: string;
        try {
          const n = readSync(fd, buf, 0, buf.length, 0);
          head = buf.toString('latin1', 0, n);
        } finally {
          closeSync(fd);
        }
        const match = /^message-id:\s*<([^>\r\n]+)>/im.exec(head);
        if (!match) continue; // still being written: the headers are not all there yet
        out.push({ messageId: match[1], at: statSync(file).mtimeMs });
        unlinkSync(file);
        removed++;
      }
      return out;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(top, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, dead: () => boolean, why: () => string): Promise<void> {
  const net = await import('node:net');
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (dead()) throw new Error(why());
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(why());
    await new Promise((r) => setTimeout(r, 100));
  }
}
