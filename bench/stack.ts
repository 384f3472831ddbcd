import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveTemporalCli } from '../src/dev/temporal-cli';
import { DEV_SERVER_TUNING } from '../src/dev/temporal-dev-server';
import { setupTemporalSchemas, temporalPersistenceFromUrl } from '../src/dev/temporal-schema';
import { DEFAULT_HISTORY_SHARDS, startTemporalServer } from '../src/dev/temporal-server';
import { resolveTemporalServer, resolveTemporalSqlTool, TEMPORAL_SERVER_VERSION } from '../src/dev/temporal-server-binaries';
import { adminUrlFromEnv, createDatabase, dropDatabase } from '../test/support/database';
import { REPO_ROOT } from '../test/support/paths';
import { startSmtpSink, type SmtpSink } from '../test/support/smtp-sink';
import { HeraldStack, stackPorts, type HeraldStackOptions } from '../test/support/stack';
import type { Processes } from './meter';

// The stack under test (test/support/stack.ts), each part its own process so CPU and memory are
// per process: Temporal dev server (SQLite file, as `npm start` runs it) or the real Temporal
// server (`--temporal real`: temporal-server on databases of its own on the bench's PostgreSQL,
// as test:cluster runs it), PostgreSQL database herald_bench_*, Postfix's smtp-sink,
// `node dist/bin/api.js` and `node dist/bin/worker.js` (`--workers N`: N of them).

/** Where the Herald build under test lives (its dist/): this checkout, or a scratch copy (experiments). */
export const HERALD_ROOT = process.env.HERALD_BENCH_HERALD_ROOT ? path.resolve(process.env.HERALD_BENCH_HERALD_ROOT) : REPO_ROOT;

export type TemporalKind = 'dev' | 'real';

export interface StackSettings {
  /**
   * dev: `temporal server start-dev` (one shard, SQLite), as `npm start` runs it. real:
   * temporal-server (src/dev/temporal-server.ts) with `historyShards` shards on PostgreSQL.
   */
  temporal: TemporalKind;
  /** The real server's history shards (default DEFAULT_HISTORY_SHARDS). */
  historyShards?: number;
  /** Flags for `temporal server start-dev` instead of DEV_SERVER_TUNING (dev only). */
  temporalTuning: readonly string[];
  /** Herald worker processes on the task queue. */
  workers: number;
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
  temporal: 'dev',
  temporalTuning: DEV_SERVER_TUNING,
  workers: 1,
  workerMaxActivities: 100,
  workerMaxWorkflowTasks: 100,
  smtpPoolMax: 5,
  dbPoolMax: 10,
  extraEnv: {},
  nodeArgs: [],
};

export interface Stack {
  temporalAddress: string;
  /** Which server: ours (dev or real), or the one of HERALD_BENCH_TEMPORAL_ADDRESS (external, not metered). */
  temporal: TemporalKind | 'external';
  /** In words, for the table's header. */
  temporalDescription: string;
  /** The real server's history shards. */
  historyShards?: number;
  temporalPid?: number;
  /** The real server's persistence and visibility databases (on the bench's PostgreSQL). */
  temporalDatabases?: string[];
  databaseUrl: string;
  databaseName: string;
  sink: SmtpSink;
  apiUrl: string;
  /** A key of the tenant the load sends as (all scopes, limits raised). */
  apiKey: string;
  apiPid: number;
  /** The first worker. */
  workerPid: number;
  /** Every worker (--workers N). */
  workerPids: number[];
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

  // Temporal: one named by HERALD_BENCH_TEMPORAL_ADDRESS, or a server of our own: the dev server
  // (started by HeraldStack) or the real one (started here).
  const external = process.env.HERALD_BENCH_TEMPORAL_ADDRESS;
  let temporalAddress = external;
  let real: { pid: number; databases: string[]; shards: number } | undefined;
  if (!external && settings.temporal === 'real') {
    const shards = settings.historyShards ?? DEFAULT_HISTORY_SHARDS;
    const persistence = temporalPersistenceFromUrl(adminUrl, {
      database: `${databaseName}_temporal`,
      visibilityDatabase: `${databaseName}_temporal_visibility`,
    });
    const databases = [persistence.database, persistence.visibilityDatabase];
    onCleanup(async () => {
      for (const name of databases) await dropDatabase(adminUrl, name);
    });
    const [serverBin, sqlTool] = await Promise.all([
      resolveTemporalServer(process.env.TEMPORAL_SERVER, log),
      resolveTemporalSqlTool(process.env.TEMPORAL_SQL_TOOL, log),
    ]);
    log(`bench: temporal-server ${TEMPORAL_SERVER_VERSION}, ${shards} history shards, databases ${databases.join(', ')}`);
    await setupTemporalSchemas(sqlTool, persistence);
    const server = await startTemporalServer({
      server: serverBin,
      persistence,
      logFile: path.join(workDir, 'temporal-server.log'),
      historyShards: shards,
    });
    onCleanup(() => server.stop());
    temporalAddress = server.address;
    real = { pid: server.process.pid!, databases, shards };
  }
  const opts: HeraldStackOptions = {
    dir: workDir,
    databaseUrl,
    gatewayUrl: sink.url,
    messageIdDomain: 'bench.herald',
    taskQueue: `herald-bench-${process.pid}`,
    temporalAddress,
    temporalCli: temporalAddress ? undefined : await resolveTemporalCli(process.env.TEMPORAL_CLI, log),
    workers: settings.workers,
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
  const temporal = external ? 'external' : settings.temporal;
  return {
    temporalAddress: herald.temporalAddress,
    temporal,
    temporalDescription:
      temporal === 'external'
        ? `external server at ${external} (HERALD_BENCH_TEMPORAL_ADDRESS, not metered)`
        : real
          ? `real server temporal-server ${TEMPORAL_SERVER_VERSION}, ${real.shards} history shards, PostgreSQL, deploy/temporal/dynamic-config.yaml`
          : `dev server (1 shard, SQLite), flags: ${settings.temporalTuning.join(' ') || '(none)'}`,
    historyShards: real?.shards,
    temporalPid: real?.pid ?? herald.temporal?.process.pid,
    temporalDatabases: real?.databases,
    databaseUrl,
    databaseName,
    sink,
    apiUrl: herald.apiUrl,
    apiKey: herald.apiKey,
    apiPid: herald.api!.pid,
    workerPid: herald.worker!.pid,
    workerPids: [herald.worker!, ...herald.extraWorkers].map((w) => w.pid),
    taskQueue: herald.taskQueue,
    env: herald.env,
    nodeArgs: settings.nodeArgs,
    workDir,
    stop: cleanupAll,
  };
}

/** The processes of the stack the Meter measures: every worker summed, the real server's PostgreSQL backends apart. */
export function meterProcesses(stack: Stack): Processes {
  return {
    api: stack.apiPid,
    worker: stack.workerPids.length === 1 ? stack.workerPid : stack.workerPids,
    temporal: stack.temporalPid,
    sink: stack.sink.pid,
    database: stack.databaseName,
    temporalDatabases: stack.temporalDatabases,
  };
}
