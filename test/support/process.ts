import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import net from 'node:net';
import { stopChild } from '../../src/dev/stop-child';

// Child processes of the tests, the fault suite and the benchmark: each writes its output to a
// log file of its own, can be waited on for a line of its output, stopped (stopChild: SIGTERM,
// then SIGKILL) or killed with a signal (a crash, for the fault suite).

export interface Proc {
  name: string;
  child: ChildProcess;
  pid: number;
  logFile: string;
  /** Resolves with the exit code (null when a signal ended it). */
  exited: Promise<number | null>;
  alive(): boolean;
  /** SIGTERM, then SIGKILL after 10 s (src/dev/stop-child.ts); resolves once it has exited. */
  stop(): Promise<void>;
  /** Sends the signal (SIGKILL: a crash) and waits until it has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Last lines of its log, for error messages. */
  tail(lines?: number): string;
  /** Resolves when its output matches; rejects after timeoutMs or when it exits first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void>;
}

export interface SpawnOptions {
  logFile: string;
  /** Default: this process's environment. */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** An IPC channel (child.send / 'message'). */
  ipc?: boolean;
}

export function spawnLogged(name: string, command: string, args: string[], opts: SpawnOptions): Proc {
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  log.write(`\n==== ${new Date().toISOString()} ${name}: ${command} ${args.join(' ')}\n`);
  const child = spawn(command, args, {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
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
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      log.end(`==== ${new Date().toISOString()} ${name} exited (code ${code}, signal ${signal})\n`);
      resolve(code);
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
    stop: () => stopChild(child, exited),
    async kill(signal = 'SIGKILL') {
      if (!alive()) return;
      child.kill(signal);
      await exited;
    },
    tail(lines = 30) {
      try {
        return readFileSync(opts.logFile, 'utf8').split('\n').slice(-lines).join('\n');
      } catch {
        return recent.split('\n').slice(-lines).join('\n');
      }
    },
    waitForLine(pattern, timeoutMs) {
      if (pattern.test(recent)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const waiter = { pattern, resolve: () => (clearTimeout(timer), resolve()) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`${name}: no output matching ${pattern} within ${timeoutMs} ms; log tail (${opts.logFile}):\n${proc.tail()}`));
        }, timeoutMs);
        waiters.push(waiter);
        void exited.then((code) => {
          if (!waiters.includes(waiter)) return;
          clearTimeout(timer);
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`${name} exited (code ${code}) before printing ${pattern}; log tail (${opts.logFile}):\n${proc.tail()}`));
        });
      });
    },
  };
  return proc;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function canConnect(port: number, host = '127.0.0.1'): Promise<boolean> {
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

/** Resolves once something accepts connections on the port; throws when `proc` exits first or after timeoutMs. */
export async function waitForPort(port: number, opts: { proc?: Proc; timeoutMs?: number; what?: string } = {}): Promise<void> {
  const what = opts.what ?? opts.proc?.name ?? `port ${port}`;
  const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
  while (!(await canConnect(port))) {
    if (opts.proc && !opts.proc.alive()) throw new Error(`${what} exited before it listened on port ${port}:\n${opts.proc.tail()}`);
    if (Date.now() > deadline)
      throw new Error(
        `${what} did not listen on port ${port} within ${opts.timeoutMs ?? 10_000} ms${opts.proc ? `:\n${opts.proc.tail()}` : ''}`,
      );
    await sleep(50);
  }
}

/** Polls until `check` holds; fails with `describe()` after `timeoutMs`. */
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
