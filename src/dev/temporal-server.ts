import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { stopChild } from './stop-child';
import type { DevServer } from './temporal-dev-server';
import { ensureNamespace, ensureSearchAttributes } from './temporal-namespace';
import type { TemporalPersistence } from './temporal-schema';

// The real Temporal server (temporal-server v1.32.1) as a child process, on PostgreSQL, the way
// production runs it: configured from environment variables only (since server 1.30 `start`
// without a config file renders its embedded template from the environment). Every port is
// chosen here so several servers can run on one machine, side by side or as one cluster on the
// same databases (they find each other through the membership table).

/**
 * The dynamic config Herald runs with, shared with docker-compose.yml: found upwards from this
 * file, which runs from src/dev (jest), dist/dev (the build) or dist-bench/src/dev (the benchmark).
 */
export const TEMPORAL_DYNAMIC_CONFIG = findUpwards(__dirname, path.join('deploy', 'temporal', 'dynamic-config.yaml'));

function findUpwards(start: string, file: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, file))) return path.join(dir, file);
    // Not found: the path the server will name in its error.
    if (path.dirname(dir) === dir) return path.resolve(start, '../..', file);
  }
}

/**
 * History shards of a cluster started here when the caller names no number (tests, the
 * benchmark's `--temporal real`): several, so work is spread as on a production cluster, few
 * enough for a 2-core machine. Production sets its own (docker-compose.yml: 16).
 */
export const DEFAULT_HISTORY_SHARDS = 4;

/** The environment variable of each port the server listens on (all on BIND_ON_IP). */
export const TEMPORAL_SERVER_PORT_VARIABLES = [
  'FRONTEND_GRPC_PORT',
  'FRONTEND_HTTP_PORT',
  'FRONTEND_MEMBERSHIP_PORT',
  'HISTORY_GRPC_PORT',
  'HISTORY_MEMBERSHIP_PORT',
  'MATCHING_GRPC_PORT',
  'MATCHING_MEMBERSHIP_PORT',
  'WORKER_GRPC_PORT',
  'WORKER_MEMBERSHIP_PORT',
] as const;
export type TemporalServerPorts = Record<(typeof TEMPORAL_SERVER_PORT_VARIABLES)[number], number>;

export interface TemporalServerOptions {
  /** Path of temporal-server (resolveTemporalServer). */
  server: string;
  /** Databases prepared with setupTemporalSchemas. */
  persistence: TemporalPersistence;
  logFile: string;
  /** Fixed at a cluster's first start: a later start with another number keeps the first one. */
  historyShards?: number;
  /** Any port not given is a free one. */
  ports?: Partial<TemporalServerPorts>;
  dynamicConfigFile?: string;
  /** Created with Herald's search attributes once the server answers. */
  namespace?: string;
  /** The server's own log level (debug, info, warn, error). */
  logLevel?: string;
  /** More of the server's variables, e.g. PROMETHEUS_ENDPOINT, PPROF_PORT, SQL_MAX_CONNS. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

export interface TemporalServer extends DevServer {
  ports: TemporalServerPorts;
  /** The exact environment it was started with, for a person who wants to run it by hand. */
  env: Record<string, string>;
}

export async function startTemporalServer(opts: TemporalServerOptions): Promise<TemporalServer> {
  const ports = {} as TemporalServerPorts;
  for (const name of TEMPORAL_SERVER_PORT_VARIABLES) {
    const port = opts.ports?.[name] ?? (await freeServerPort(Object.values(ports)));
    if (name.endsWith('MEMBERSHIP_PORT') && port > MAX_SERVER_PORT) {
      throw new Error(`${name}=${port}: Temporal stores membership ports as a SMALLINT, use one up to ${MAX_SERVER_PORT}`);
    }
    ports[name] = port;
  }
  const db = opts.persistence;
  const env: Record<string, string> = {
    DB: 'postgres12',
    POSTGRES_SEEDS: db.host,
    DB_PORT: String(db.port),
    POSTGRES_USER: db.user,
    POSTGRES_PWD: db.password,
    DBNAME: db.database,
    VISIBILITY_DBNAME: db.visibilityDatabase,
    NUM_HISTORY_SHARDS: String(opts.historyShards ?? DEFAULT_HISTORY_SHARDS),
    BIND_ON_IP: '127.0.0.1',
    DYNAMIC_CONFIG_FILE_PATH: opts.dynamicConfigFile ?? TEMPORAL_DYNAMIC_CONFIG,
    LOG_LEVEL: opts.logLevel ?? 'warn',
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    ...opts.env,
  };

  mkdirSync(path.dirname(opts.logFile), { recursive: true });
  const log = createWriteStream(opts.logFile, { flags: 'a' });
  // Only this environment: Herald's own variables (LOG_LEVEL=silent, TEMPORAL_*) must not leak in.
  const child = spawn(opts.server, ['--allow-no-auth', 'start'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  child.once('close', () => log.end());
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = () => stopChild(child, exited);
  const address = `127.0.0.1:${ports.FRONTEND_GRPC_PORT}`;

  try {
    const connection = await waitForFrontend(address, exited, opts.startTimeoutMs ?? 60_000, opts.logFile);
    try {
      const namespace = opts.namespace ?? 'default';
      await ensureNamespace(connection, namespace);
      await ensureSearchAttributes(connection, namespace);
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, process: child, ports, env, stop };
}

// cluster_membership.rpc_port is a SMALLINT in Temporal's PostgreSQL schema: a membership port
// above 32767 stops the server at boot ("out of range for type smallint"). The system's own free
// ports (freePort) come from the ephemeral range above it, so these are drawn below.
const MAX_SERVER_PORT = 32767;

async function freeServerPort(taken: number[]): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20000 + Math.floor(Math.random() * (MAX_SERVER_PORT - 20000));
    if (taken.includes(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`no free port between 20000 and ${MAX_SERVER_PORT}`);
}

async function waitForFrontend(address: string, exited: Promise<number | null>, timeoutMs: number, logFile: string): Promise<Connection> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const early = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 200))]);
    if (early !== 'running') throw new Error(`temporal-server exited with code ${early}; see ${logFile}`);
    try {
      const connection = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await connection.workflowService.getSystemInfo({});
        return connection;
      } catch (err) {
        await connection.close();
        throw err;
      }
    } catch {
      if (Date.now() > deadline) throw new Error(`temporal-server did not answer on ${address} within ${timeoutMs} ms; see ${logFile}`);
    }
  }
}
