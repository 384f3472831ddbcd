import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { waitForPort } from '../../support/process';

// A PostgreSQL cluster of the suite's own, in a temporary folder on a free port, so that a
// scenario can stop and start it without touching the machine's server. As root, initdb and
// pg_ctl must run as the `postgres` user, who must own the folder.

export interface PgCluster {
  dir: string;
  port: number;
  /** Admin URL (database `postgres`): createDatabase (test/support/database.ts) makes a scenario's database there. */
  adminUrl: string;
}

function pgBinDir(): string {
  if (process.env.HERALD_PG_BIN) return process.env.HERALD_PG_BIN;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => /^\d+$/.test(v))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  for (const v of versions) if (existsSync(path.join(root, v, 'bin', 'pg_ctl'))) return path.join(root, v, 'bin');
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql (set HERALD_PG_BIN)');
}

const isRoot = () => process.getuid?.() === 0;

function runAsPostgres(command: string, args: string[], timeoutMs = 60_000): string {
  const [cmd, argv] = isRoot() ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args];
  return execFileSync(cmd, argv, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function chownToPostgres(p: string) {
  if (!isRoot()) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(p, uid, gid);
}

export function clusterFromEnv(): PgCluster {
  const dir = process.env.HERALD_FAULTS_PG_DIR;
  const port = Number(process.env.HERALD_FAULTS_PG_PORT);
  if (!dir || !port) throw new Error('the fault suite global setup did not run (HERALD_FAULTS_PG_DIR unset)');
  return describeCluster(dir, port);
}

function describeCluster(dir: string, port: number): PgCluster {
  return { dir, port, adminUrl: `postgres://postgres@127.0.0.1:${port}/postgres` };
}

export async function initCluster(base: string, port: number): Promise<PgCluster> {
  const dir = path.join(base, 'pg');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chownToPostgres(dir);
  runAsPostgres(
    path.join(pgBinDir(), 'initdb'),
    ['-D', path.join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8'],
    120_000,
  );
  const cluster = describeCluster(dir, port);
  await startCluster(cluster);
  return cluster;
}

export async function startCluster(c: PgCluster): Promise<void> {
  // fsync off: the suite crashes the server process, never the machine, and the page cache
  // survives a process crash. Unix socket in the cluster's own folder, TCP on loopback only.
  const options = `-p ${c.port} -k ${c.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
  runAsPostgres(path.join(pgBinDir(), 'pg_ctl'), [
    '-D',
    path.join(c.dir, 'data'),
    '-l',
    path.join(c.dir, 'server.log'),
    '-o',
    options,
    '-w',
    '-t',
    '60',
    'start',
  ]);
  await waitForPort(c.port, { timeoutMs: 30_000, what: 'PostgreSQL' });
}

/** `immediate` is a crash: no checkpoint, recovery from WAL at the next start. */
export function stopCluster(c: PgCluster, mode: 'fast' | 'immediate' = 'fast'): void {
  runAsPostgres(path.join(pgBinDir(), 'pg_ctl'), ['-D', path.join(c.dir, 'data'), '-m', mode, '-w', '-t', '60', 'stop']);
}

export function clusterRunning(c: PgCluster): boolean {
  try {
    runAsPostgres(path.join(pgBinDir(), 'pg_ctl'), ['-D', path.join(c.dir, 'data'), 'status']);
    return true;
  } catch {
    return false;
  }
}
