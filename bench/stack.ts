import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTemporalCli } from '../src/dev/temporal-cli';
import { DEV_SERVER_TUNING } from '../src/dev/temporal-dev-server';
import { adminUrlFromEnv, createDatabase, dropDatabase } from '../test/support/database';
import { REPO_ROOT } from '../test/support/paths';
import { startSmtpSink, type SmtpSink } from '../test/support/smtp-sink';
import { HeraldStack, stackPorts, type HeraldStackOptions } from '../test/support/stack';

// The stack under test (test/support/stack.ts), each part its own process so CPU and memory are
// per process: Temporal dev server (SQLite file, as `npm start` runs it), PostgreSQL database
// herald_bench_*, Postfix's smtp-sink, `node dist/bin/api.js` and `node dist/bin/worker.js`.

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
  /** A key of the tenant the load sends as (all scopes, limits raised). */
  apiKey: string;
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

/** Registers a cleanup for cleanupAll (newest first). */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}

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

export async function startStack(settings: StackSettings, log: (m: string) => void): Promise<Stack> {
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'herald-bench-'));
  onCleanup(() => (settings.keep ? console.error(`bench: logs kept in ${workDir}`) : rmSync(workDir, { recursive: true, force: true })));
  log(`bench: work dir ${workDir}`);

  // PostgreSQL: a fresh database herald_bench_<pid>_<time> on the server of HERALD_BENCH_DATABASE_ADMIN_URL.
  const adminUrl = adminUrlFromEnv('HERALD_BENCH_DATABASE_ADMIN_URL');
  const databaseName = `herald_bench_${process.pid}_${Date.now().toString(36)}`;
  const databaseUrl = await createDatabase(adminUrl, databaseName);
  onCleanup(() => dropDatabase(adminUrl, databaseName));

  const sink = await startSmtpSink();
  onCleanup(() => sink.close());

  // Temporal: one named by HERALD_BENCH_TEMPORAL_ADDRESS, or a dev server of our own.
  const temporalAddress = process.env.HERALD_BENCH_TEMPORAL_ADDRESS;
  const opts: HeraldStackOptions = {
    dir: workDir,
    databaseUrl,
    gatewayUrl: sink.url,
    messageIdDomain: 'bench.herald',
    taskQueue: `herald-bench-${process.pid}`,
    temporalAddress,
    temporalCli: temporalAddress ? undefined : await resolveTemporalCli(process.env.TEMPORAL_CLI, log),
    temporalTuning: settings.temporalTuning,
    env: {
      DATABASE_POOL_MAX: String(settings.dbPoolMax),
      SMTP_POOL_MAX_CONNECTIONS: String(settings.smtpPoolMax),
      WORKER_MAX_CONCURRENT_ACTIVITIES: String(settings.workerMaxActivities),
      WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: String(settings.workerMaxWorkflowTasks),
      // A rate-limited gateway (--gateway-rate): its attempts go through a task queue the server limits.
      ...(settings.gatewayRatePerSecond
        ? { SMTP_GATEWAYS: JSON.stringify([{ name: 'sink', url: sink.url, priority: 0, ratePerSecond: settings.gatewayRatePerSecond }]) }
        : {}),
      ...settings.extraEnv,
    },
    nodeArgs: settings.nodeArgs,
    heraldRoot: HERALD_ROOT,
  };
  const herald = new HeraldStack(opts, await stackPorts(opts));
  onCleanup(() => herald.stop());
  await herald.boot();
  return {
    temporalAddress: herald.temporalAddress,
    temporalPid: herald.temporal?.process.pid,
    databaseUrl,
    databaseName,
    sink,
    apiUrl: herald.apiUrl,
    apiKey: herald.apiKey,
    apiPid: herald.api!.pid,
    workerPid: herald.worker!.pid,
    taskQueue: herald.taskQueue,
    env: herald.env,
    nodeArgs: settings.nodeArgs,
    workDir,
    stop: cleanupAll,
  };
}
