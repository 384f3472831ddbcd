import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import net from 'node:net';

// Child processes of the fault suite: each writes its output to a log file of its own, can be
// killed with any signal, and is always reaped by the scenario's afterAll.

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  exited: Promise<void>;
  alive(): boolean;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Last lines of its log, for error messages. */
  tail(lines?: number): string;
  /** Resolves when a line of its output matches. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void>;
}

export function spawnLogged(
  name: string,
  command: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; logFile: string; cwd?: string },
): Proc {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  log.write(`\n==== ${new Date().toISOString()} ${name}: ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const waiters: Array<{ pattern: RegExp; resolve: () => void }> = [];
  let recent = '';
  const onData = (d: Buffer) => {
    log.write(d);
    recent = (recent + d.toString()).slice(-20_000);
    for (const w of [...waiters]) {
      if (w.pattern.test(recent)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      log.write(`==== ${new Date().toISOString()} ${name} exited (code ${code}, signal ${signal})\n`);
      log.end();
      resolve();
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  const proc: Proc = {
    name,
    child,
    pid: child.pid!,
    logFile: opts.logFile,
    exited,
    alive,
    async kill(signal = 'SIGTERM') {
      if (!alive()) return;
      child.kill(signal);
      const timer = setTimeout(() => alive() && child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    tail(lines = 30) {
      try {
        return readFileSync(opts.logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return '';
      }
    },
    waitForLine(pattern, timeoutMs) {
      if (pattern.test(recent)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter = { pattern, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`${name}: no output matching ${pattern} within ${timeoutMs} ms; log tail:\n${proc.tail()}`));
        }, timeoutMs);
        waiters.push(waiter);
        exited.then(() => {
          if (waiters.includes(waiter)) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(waiter), 1);
            reject(new Error(`${name} exited before printing ${pattern}; log tail:\n${proc.tail()}`));
          }
        });
      });
    },
  };
  return proc;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = net.connect(port, host);
    s.setTimeout(1000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

/** Polls until check() is true; throws with describe() after timeoutMs. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  describe: () => string,
  everyMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await sleep(everyMs);
  }
}
