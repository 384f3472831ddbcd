import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { resolveTemporalCli } from '../src/dev/temporal-cli';
import { DEV_SERVER_TUNING, freePort, startTemporalDevServer } from '../src/dev/temporal-dev-server';
import { startSmtpSink, type SmtpSink } from './sink';
import { useApiKey } from './load';
import { stopChild } from '../src/dev/stop-child';

// The stack under test, each part its own process so CPU and memory are per process:
// Temporal dev server (SQLite file, as `npm start` runs it), PostgreSQL database herald_bench_*,
// smtp-sink, `node dist/bin/api.js` and `node dist/bin/worker.js`.

export const REPO_ROOT = path.resolve(__dirname, '../..');
/** Where the Herald build under test lives (its dist/): this checkout, or a scratch copy (experiments). */
export const HERALD_ROOT = process.env.HERALD_BENCH_HERALD_ROOT ? path.resolve(process.env.HERALD_BENCH_HERALD_ROOT) : REPO_ROOT;

export interface StackSettings {
  /** Flags for `temporal server start-dev` instead of DEV_SERVER_TUNING. */
  temporalTuning: readonly string[];
  workerMaxActivities: number;
  workerMaxWorkflowTasks: number;
  smtpPoolMax: number;
  dbPoolMax: number;
  /** Extra environment for api and worker. */
  extraEnv: Record<string, string>;
  /** Extra node flags for api and worker (e.g. --cpu-prof). */
  nodeArgs: string[];
  /** Keep the work directory (logs of every process) after the run. */
  keep?: boolean;
  /** The sink as a rate-limited gateway (SMTP_GATEWAYS with this ratePerSecond) instead of SMTP_URL. */
  gatewayRatePerSecond?: number;
}

export const DEFAULT_SETTINGS: StackSettings = {
  temporalTuning: DEV_SERVER_TUNING,
  workerMaxActivities: 100,
  workerMaxWorkflowTasks: 100,
  smtpPoolMax: 5,
  dbPoolMax: 10,
  extraEnv: {},
  nodeArgs: [],
};

export interface Stack {
  temporalAddress: string;
  temporalPid?: number;
  databaseUrl: string;
  databaseName: string;
  sink: SmtpSink;
  apiUrl: string;
  apiPid: number;
  workerPid: number;
  taskQueue: string;
  /** Environment given to api and worker (and to the B1 worker, for the same settings). */
  env: Record<string, string>;
  nodeArgs: string[];
  workDir: string;
  stop(): Promise<void>;
}

const cleanups: Array<() => Promise<void> | void> = [];

/** Runs every registered cleanup once, newest first (also on SIGINT/SIGTERM and on errors). */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (err) {
      console.error('bench: cleanup failed:', (err as Error).message);
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`bench: ${signal}, stopping everything`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

export interface Child {
  process: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Spawns a Node entry point with its output in logFile; waits until `readyLine` is printed. */
export async function spawnNode(
  script: string,
  env: Record<string, string>,
  logFile: string,
  ready: RegExp,
  opts: { ipc?: boolean; timeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<Child> {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: opts.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const handle: Child = {
    process: child,
    pid: child.pid!,
    exited,
    async stop() {
      await stopChild(child, exited);
    },
  };
  cleanups.push(() => handle.stop());
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} not ready after ${opts.timeoutMs ?? 60_000} ms; see ${logFile}`)), opts.timeoutMs ?? 60_000);
    const onData = (d: Buffer) => {
      output = (output + d.toString()).slice(-10_000);
      if (ready.test(output)) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        child.stderr!.off('data', onData);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with code ${code} before it was ready; see ${logFile}:\n${output.slice(-2000)}`));
    });
  });
  return handle;
}

export async function startStack(settings: StackSettings, log: (m: string) => void): Promise<Stack> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'herald-bench-'));
  cleanups.push(() => (settings.keep ? console.error(`bench: logs kept in ${workDir}`) : rmSync(workDir, { recursive: true, force: true })));
  log(`bench: work dir ${workDir}`);

  // Temporal: one named by HERALD_BENCH_TEMPORAL_ADDRESS, or a dev server of our own.
  let temporalAddress = process.env.HERALD_BENCH_TEMPORAL_ADDRESS;
  let temporalPid: number | undefined;
  if (!temporalAddress) {
    const cli = await resolveTemporalCli(process.env.TEMPORAL_CLI, log);
    const server = await startTemporalDevServer({
      cli,
      port: await freePort(),
      headless: true,
      dbFile: path.join(workDir, 'temporal.sqlite'),
      logFile: path.join(workDir, 'temporal.log'),
      tuning: settings.temporalTuning,
    });
    cleanups.push(() => server.stop());
    temporalAddress = server.address;
    temporalPid = server.process.pid;
  }

  // PostgreSQL: a fresh database herald_bench_<pid>_<time> on the server of HERALD_BENCH_DATABASE_ADMIN_URL.
  const adminUrl = process.env.HERALD_BENCH_DATABASE_ADMIN_URL ?? process.env.HERALD_TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const databaseName = `herald_bench_${process.pid}_${Date.now().toString(36)}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${databaseName}`);
  await admin.end();
  cleanups.push(async () => {
    const a = postgres(adminUrl, { max: 1, onnotice: () => {} });
    await a.unsafe(`drop database if exists ${databaseName} with (force)`);
    await a.end();
  });
  const url = new URL(adminUrl);
  url.pathname = `/${databaseName}`;
  const databaseUrl = url.toString();
  // The production entry point (src/db/migrate.ts finds migrations/ relative to dist/).
  execFileSync(process.execPath, [path.join(HERALD_ROOT, 'dist/bin/migrate.js')], {
    cwd: REPO_ROOT,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'ignore', 'inherit'],
  });

  const sink = await startSmtpSink(await freePort());
  cleanups.push(() => sink.stop());

  const taskQueue = `herald-bench-${process.pid}`;
  const apiPort = await freePort();
  const env: Record<string, string> = {
    HOST: '127.0.0.1',
    PORT: String(apiPort),
    DATABASE_URL: databaseUrl,
    DATABASE_POOL_MAX: String(settings.dbPoolMax),
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...(settings.gatewayRatePerSecond
      ? { SMTP_GATEWAYS: JSON.stringify([{ name: 'sink', url: sink.url, priority: 0, ratePerSecond: settings.gatewayRatePerSecond }]) }
      : { SMTP_URL: sink.url }),
    SMTP_POOL_MAX_CONNECTIONS: String(settings.smtpPoolMax),
    WORKER_MAX_CONCURRENT_ACTIVITIES: String(settings.workerMaxActivities),
    WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: String(settings.workerMaxWorkflowTasks),
    MESSAGE_ID_DOMAIN: 'bench.herald',
    LOG_LEVEL: 'info',
    // Never the defaults of a person's own stack.
    TEMPORAL_PORT: '1',
    TEMPORAL_UI_PORT: '1',
    DEV_SMTP_PORT: '1',
    HERALD_DATA_DIR: path.join(workDir, 'data'),
    ...settings.extraEnv,
  };
  mkdirSync(env.HERALD_DATA_DIR, { recursive: true });
  // Every /v1 request needs a key: the development tenant's, its request rate out of the way.
  const herald = (...args: string[]) =>
    execFileSync(process.execPath, [path.join(HERALD_ROOT, 'dist/bin/herald.js'), ...args], { cwd: REPO_ROOT, env: { ...process.env, DATABASE_URL: databaseUrl }, encoding: 'utf8' });
  herald('tenant', 'update', 'default', '--rate-per-second', '1000000', '--burst', '1000000', '--daily-quota', '100000000');
  useApiKey(herald('key', 'create', '--tenant', 'default', '--scopes', 'send,read').trim().split('\n').at(-1)!);
  const worker = await spawnNode(path.join(HERALD_ROOT, 'dist/bin/worker.js'), env, path.join(workDir, 'worker.log'), /worker running/, { nodeArgs: settings.nodeArgs });
  const api = await spawnNode(path.join(HERALD_ROOT, 'dist/bin/api.js'), env, path.join(workDir, 'api.log'), /API listening/, { nodeArgs: settings.nodeArgs });
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  return {
    temporalAddress,
    temporalPid,
    databaseUrl,
    databaseName,
    sink,
    apiUrl,
    apiPid: api.pid,
    workerPid: worker.pid,
    taskQueue,
    env,
    nodeArgs: settings.nodeArgs,
    workDir,
    stop: cleanupAll,
  };
}
