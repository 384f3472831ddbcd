import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { findOnPath } from '../../src/dev/binary-cache';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/dev/embedded-postgres';
import { freePort } from '../../src/dev/temporal-dev-server';
import { REPO_ROOT } from '../../test/support/paths';
import { flags } from '../flags';

// The bench bundle's runner (run.sh execs it with the bundle's own node): PostgreSQL from the
// embedded-postgres package in a work folder, then `node dist-bench/bench/run.js` once per worker
// count, each process pinned to cores of its own (taskset), each run's JSON line appended to
// results.jsonl, and a summary of emails/s per worker count. The bench itself is not changed:
// pinning is applied from outside, by watching the bench's process tree (see Pinner).

const HELP = `usage: ./run.sh [options] [bench options]
  --workers-list 1,2,4,8   worker process counts, one bench run each (default 1,2,4,8); N > 1 needs
                           a bench that knows --workers (checked with run.js --help, else skipped)
  --work-dir DIR           PostgreSQL's cluster and the bench's scratch files (default: <bundle>/work)
  --results DIR            where results go (default: <bundle>/results/<UTC time>)
  --pin auto|off|PLAN      pin processes to CPUs (default auto: a plan when the machine has >= 8 cores
                           and taskset exists). PLAN: "temporal=0-3;postgres=4-5;api=6;runner=7;workers=8-15"
                           (CPU lists; workers are spread one core each over their list)
  --help                   this, then the bench's own options
Every other option goes to the bench (node dist-bench/bench/run.js), e.g. --smoke, --n 8000.`;

interface Options {
  workers: number[];
  workDir: string;
  resultsDir: string;
  pin: string;
  benchArgs: string[];
}

function parseArgs(argv: string[]): Options {
  const stamp = new Date()
    .toISOString()
    .replace(/[:.]/g, '-')
    .replace(/-\d+Z$/, 'Z');
  const o: Options = {
    workers: [1, 2, 4, 8],
    workDir: path.join(REPO_ROOT, 'work'),
    resultsDir: path.join(REPO_ROOT, 'results', stamp),
    pin: 'auto',
    benchArgs: [],
  };
  for (const [a, next] of flags(argv)) {
    if (a === '--workers-list') {
      o.workers = next()
        .split(',')
        .map((x) => Number(x.trim()));
      if (o.workers.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--workers-list needs positive integers, e.g. 1,2,4,8');
    } else if (a === '--work-dir') o.workDir = path.resolve(next());
    else if (a === '--results') o.resultsDir = path.resolve(next());
    else if (a === '--pin') o.pin = next();
    else if (a === '--help' || a === '-h') {
      console.log(HELP);
      console.log('\nbench options (node dist-bench/bench/run.js --help):');
      console.log(benchHelp());
      process.exit(0);
    } else if (a === '--workers') throw new Error('use --workers-list N (the runner passes --workers to each run)');
    else o.benchArgs.push(a);
  }
  return o;
}

const log = (m: string) => console.error(`bundle: ${m}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BENCH = path.join(REPO_ROOT, 'dist-bench', 'bench', 'run.js');

function benchHelp(): string {
  const r = spawnSync(process.execPath, [BENCH, '--help'], { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}

// ----- CPUs and pinning ----------------------------------------------------------------------

/** A CPU list as taskset and /proc write it: "0-3,8,10-11". */
function parseCpuList(list: string): number[] {
  const out: number[] = [];
  for (const part of list.split(',').map((p) => p.trim())) {
    if (!part) continue;
    const [a, b] = part.split('-').map(Number);
    if (!Number.isInteger(a) || (b !== undefined && !Number.isInteger(b))) throw new Error(`bad CPU list ${list}`);
    for (let c = a; c <= (b ?? a); c++) out.push(c);
  }
  return out;
}

const cpuList = (cpus: number[]) => cpus.join(',');

/** The CPUs this process may run on, grouped by physical core (hyperthreads together). */
function physicalCores(): number[][] {
  const status = readFileSync('/proc/self/status', 'utf8');
  const allowed = parseCpuList(/Cpus_allowed_list:\s*(\S+)/.exec(status)?.[1] ?? `0-${os.cpus().length - 1}`);
  const cores = new Map<string, number[]>();
  for (const cpu of allowed) {
    let key = String(cpu);
    try {
      const topo = `/sys/devices/system/cpu/cpu${cpu}/topology`;
      key = `${readFileSync(`${topo}/physical_package_id`, 'utf8').trim()}:${readFileSync(`${topo}/core_id`, 'utf8').trim()}`;
    } catch {
      // no topology: each CPU its own core
    }
    cores.set(key, [...(cores.get(key) ?? []), cpu]);
  }
  return [...cores.values()];
}

type Role = 'temporal' | 'postgres' | 'api' | 'runner' | 'workers';
const ROLES: Role[] = ['temporal', 'postgres', 'api', 'runner', 'workers'];
/** Each role's CPUs; workers: one group (a physical core) per worker process, round robin. */
type Plan = Record<Exclude<Role, 'workers'>, number[]> & { workers: number[][] };

/**
 * With C physical cores (C >= 8): Temporal C/4, PostgreSQL C/8, the API 1, the bench runner and
 * smtp-sink 1, the workers the rest, one core each (16 cores: 4, 2, 1, 1 and 8).
 */
function autoPlan(cores: number[][]): Plan | string {
  const total = cores.length;
  if (total < 8) return `${total} cores: fewer than 8, nothing to keep apart`;
  const take = (n: number) => cores.splice(0, n);
  const temporal = take(Math.max(2, Math.floor(total / 4))).flat();
  const pg = take(Math.max(1, Math.floor(total / 8))).flat();
  return { temporal, postgres: pg, api: take(1).flat(), runner: take(1).flat(), workers: cores.splice(0) };
}

function parsePlan(text: string): Plan {
  const plan: Partial<Plan> = {};
  for (const item of text.split(';').filter(Boolean)) {
    const [role, list] = item.split('=');
    if (!ROLES.includes(role as Role) || !list) throw new Error(`--pin: bad item "${item}" (roles: ${ROLES.join(', ')})`);
    if (role === 'workers') plan.workers = parseCpuList(list).map((c) => [c]);
    else plan[role as Exclude<Role, 'workers'>] = parseCpuList(list);
  }
  const missing = ROLES.filter((r) => !plan[r]);
  if (missing.length > 0) throw new Error(`--pin: no CPUs for ${missing.join(', ')}`);
  return plan as Plan;
}

function describePlan(p: Plan): string {
  return `temporal ${cpuList(p.temporal)} | postgres ${cpuList(p.postgres)} | api ${cpuList(p.api)} | runner+sink ${cpuList(p.runner)} | workers ${p.workers.map(cpuList).join(' ')}`;
}

/** Pins a process, every thread it has now (threads and children made later inherit it). */
function taskset(pid: number, cpus: number[]): boolean {
  return spawnSync('taskset', ['-a', '-c', '-p', cpuList(cpus), String(pid)], { stdio: 'ignore' }).status === 0;
}

function children(): Map<number, number[]> {
  const byParent = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      byParent.set(ppid, [...(byParent.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited meanwhile
    }
  }
  return byParent;
}

function descendants(root: number, byParent: Map<number, number[]>): number[] {
  const out: number[] = [];
  const todo = [root];
  while (todo.length > 0) {
    const pid = todo.pop()!;
    out.push(pid);
    todo.push(...(byParent.get(pid) ?? []));
  }
  return out;
}

function argvOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

/** Which role a process of the bench's tree plays, from its command line (undefined: leave it). */
function roleOf(argv: string[]): Exclude<Role, 'postgres'> | undefined {
  const exe = path.basename(argv[0] ?? '');
  if (exe === 'temporal' || exe === 'temporal-server') return 'temporal';
  if (exe === 'smtp-sink') return 'runner';
  const script = argv.find((a) => a.endsWith('.js')) ?? '';
  if (script.endsWith(path.join('dist', 'bin', 'api.js'))) return 'api';
  if (script.endsWith(path.join('dist', 'bin', 'worker.js')) || script.endsWith('baseline-worker.js')) return 'workers';
  return undefined;
}

/**
 * Watches the bench's process tree (every 200 ms) and pins each process once, by role: Temporal,
 * API, each worker process on a core of its own (in the order they appear), smtp-sink with the
 * runner. The bench has no hook for this; a process runs unpinned for at most ~200 ms after it
 * starts, long before any load (they are started and waited for before the first phase).
 */
class Pinner {
  private readonly pinned = new Map<number, string>();
  private workerCount = 0;
  private timer?: NodeJS.Timeout;
  readonly lines: string[] = [];
  constructor(private readonly plan: Plan) {}

  pinTree(root: number, role: Role, byParent = children()) {
    for (const pid of descendants(root, byParent)) this.pin(pid, role === 'workers' ? this.plan.workers[0] : this.plan[role], role);
  }

  private pin(pid: number, cpus: number[], role: string) {
    if (this.pinned.has(pid)) return;
    const ok = taskset(pid, cpus);
    this.pinned.set(pid, role);
    // Read back from the kernel: what the process may run on now.
    let now: string;
    try {
      now = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?';
    } catch {
      now = 'exited';
    }
    const what = path.basename(argvOf(pid).find((a) => a.endsWith('.js')) ?? argvOf(pid)[0] ?? '?');
    const line = `pin ${role} pid ${pid} (${what}) -> CPUs ${cpuList(cpus)}${ok ? '' : ' (taskset FAILED)'}, allowed now: ${now}`;
    this.lines.push(line);
    log(line);
  }

  watch(benchPid: number) {
    this.pinned.clear();
    this.workerCount = 0;
    const tick = () => {
      const byParent = children();
      for (const pid of descendants(benchPid, byParent)) {
        if (this.pinned.has(pid)) continue;
        if (pid === benchPid) {
          this.pin(pid, this.plan.runner, 'runner');
          continue;
        }
        const role = roleOf(argvOf(pid));
        if (role === 'workers') {
          const k = this.workerCount++;
          this.pin(pid, this.plan.workers[k % this.plan.workers.length], `worker ${k + 1}`);
        } else if (role) this.pin(pid, this.plan[role], role);
      }
    };
    tick();
    this.timer = setInterval(tick, 200);
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
  }
}

// ----- PostgreSQL ------------------------------------------------------------------------------

/** max_connections for 8 workers and the API (pools of 10 each) with room for the bench. */
const PG_MAX_CONNECTIONS = 400;

async function startPostgres(dir: string): Promise<EmbeddedPostgres & { adminUrl: string }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  let pg = await startEmbeddedPostgres({ dir, port, database: 'postgres' });
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  const [{ max_connections: current }] = await sql<{ max_connections: string }[]>`show max_connections`;
  if (Number(current) < PG_MAX_CONNECTIONS) {
    await sql.unsafe(`alter system set max_connections = ${PG_MAX_CONNECTIONS}`);
    await sql.end({ timeout: 5 });
    await pg.stop();
    pg = await startEmbeddedPostgres({ dir, port, database: 'postgres' });
  } else await sql.end({ timeout: 5 });
  return { ...pg, adminUrl: pg.url };
}

// ----- one bench run -------------------------------------------------------------------------

interface RunResult {
  workers: number;
  code: number | null;
  json?: Record<string, unknown>;
  skipped?: string;
}

let current: ChildProcess | undefined;

async function benchRun(n: number, withFlag: boolean, opts: Options, env: NodeJS.ProcessEnv, pinner?: Pinner): Promise<RunResult> {
  const args = [BENCH, ...(withFlag ? ['--workers', String(n)] : []), ...opts.benchArgs];
  const logFile = path.join(opts.resultsDir, `bench-${n}.log`);
  const out = createWriteStream(logFile);
  log(`workers ${n}: node ${args.map((a) => (path.isAbsolute(a) ? path.relative(REPO_ROOT, a) : a)).join(' ')} (log ${logFile})`);
  const child = spawn(process.execPath, args, { env, cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  current = child;
  if (pinner) pinner.watch(child.pid!);
  let lastJson: string | undefined;
  let partial = '';
  child.stdout!.on('data', (d: Buffer) => {
    process.stdout.write(d);
    out.write(d);
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.startsWith('{')) lastJson = l;
  });
  child.stderr!.on('data', (d: Buffer) => {
    process.stderr.write(d);
    out.write(d);
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
  current = undefined;
  pinner?.stop();
  if (partial.startsWith('{')) lastJson = partial;
  await new Promise<void>((resolve) => out.end(resolve));
  let json: Record<string, unknown> | undefined;
  try {
    json = lastJson ? (JSON.parse(lastJson) as Record<string, unknown>) : undefined;
  } catch {
    json = undefined;
  }
  return { workers: n, code, json };
}

function summaryTable(results: RunResult[], header: string[]): string {
  const cols = ['workers', 'delivered/s', 'accepted/s', 'knee/s', 'B1/s', 'B2/s', 'e2e p99 ms', 'CPU ms/email', 'lost', 'dup', 'exit'];
  const rows = results.map((r) => {
    const j = r.json ?? {};
    const v = (k: string) => (j[k] === undefined || j[k] === null ? '-' : String(j[k]));
    if (r.skipped) return [String(r.workers), `skipped: ${r.skipped}`];
    return [
      String(r.workers),
      v('herald_delivered_per_s'),
      v('herald_accepted_per_s'),
      v('knee_per_s'),
      v('b1_per_s'),
      v('b2_per_s'),
      v('closed_e2e_p99_ms'),
      v('cpu_ms_per_email_total'),
      v('lost'),
      v('duplicates'),
      String(r.code),
    ];
  });
  const width = cols.map((c, i) => Math.max(c.length, ...rows.filter((r) => r.length > 2).map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => (cells.length === 2 ? cells.join('  ') : cells.map((c, i) => c.padStart(width[i])).join('  '));
  return [...header, line(cols), ...rows.map(line), ''].join('\n');
}

// ----- main ----------------------------------------------------------------------------------

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const bundle = existsSync(path.join(REPO_ROOT, 'BUNDLE.json'))
    ? (JSON.parse(readFileSync(path.join(REPO_ROOT, 'BUNDLE.json'), 'utf8')) as Record<string, unknown>)
    : {};
  mkdirSync(opts.resultsDir, { recursive: true });
  mkdirSync(opts.workDir, { recursive: true });
  // As root PostgreSQL runs as `postgres` or `nobody`: its folders (and the bundle's binaries) must be reachable.
  if (process.getuid?.() === 0) {
    chmodSync(opts.workDir, 0o755);
    for (let dir = REPO_ROOT; dir !== path.dirname(dir); dir = path.dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) {
        throw new Error(
          `${dir} is not searchable by other accounts (mode ${(statSync(dir).mode & 0o777).toString(8)}): as root, PostgreSQL runs as postgres/nobody and must reach the bundle; unpack it under /opt or /tmp, or chmod o+x ${dir}`,
        );
      }
    }
  }

  const help = benchHelp();
  const hasWorkersFlag = /--workers\b/.test(help);
  log(
    `bundle build ${String(bundle.herald_build ?? 'unknown')}, node ${process.version} (${process.execPath}); bench ${hasWorkersFlag ? 'knows' : 'does NOT know'} --workers`,
  );

  // Pinning plan.
  const cores = physicalCores();
  let plan: Plan | undefined;
  let pinNote: string;
  if (opts.pin === 'off') pinNote = 'off (--pin off)';
  else if (!findOnPath('taskset')) pinNote = 'off: taskset (util-linux) not found';
  else {
    const p = opts.pin === 'auto' ? autoPlan([...cores]) : parsePlan(opts.pin);
    if (typeof p === 'string') pinNote = `off: ${p}`;
    else {
      plan = p;
      pinNote = describePlan(p);
    }
  }
  log(`${cores.length} physical cores (${cores.flat().length} CPUs); pinning: ${pinNote}`);

  // PostgreSQL, pinned to its CPUs (the backends it forks later inherit them).
  const pg = await startPostgres(path.join(opts.workDir, 'postgres'));
  const pinner = plan ? new Pinner(plan) : undefined;
  pinner?.pinTree(pg.process.pid!, 'postgres');
  const version = await (async () => {
    const sql = postgres(pg.adminUrl, { max: 1, onnotice: () => {} });
    try {
      return (await sql<{ v: string }[]>`select version() as v`)[0].v;
    } finally {
      await sql.end({ timeout: 5 });
    }
  })();
  log(`PostgreSQL on 127.0.0.1:${pg.port} (${pg.dir}): ${version.split(' on ')[0]}, max_connections ${PG_MAX_CONNECTIONS}`);

  const stopAll = async () => {
    current?.kill('SIGINT');
    if (current) await new Promise((r) => current?.once('close', r));
    await pg.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the bench and PostgreSQL`);
      void stopAll().finally(() => process.exit(130));
    });
  }

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HERALD_BENCH_DATABASE_ADMIN_URL: pg.adminUrl,
    TMPDIR: process.env.TMPDIR ?? os.tmpdir(),
    // Go sizes its scheduler from the CPUs it may use when it starts; the Temporal server starts
    // on the runner's CPU and is pinned to its own right after.
    ...(plan ? { GOMAXPROCS: String(plan.temporal.length) } : {}),
  };
  const header = [
    `Herald bench bundle, ${new Date().toISOString()}, bundle build ${String(bundle.herald_build ?? 'unknown')}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, Linux ${os.release()}`,
    `PostgreSQL: ${version.split(' on ')[0]} (embedded-postgres), max_connections ${PG_MAX_CONNECTIONS}; Temporal CLI: ${String(bundle.temporal_cli ?? process.env.TEMPORAL_CLI)}`,
    `pinning: ${pinNote}`,
    `bench options: ${opts.benchArgs.join(' ') || '(none: full run)'}`,
  ];
  writeFileSync(path.join(opts.resultsDir, 'summary.txt'), header.join('\n') + '\n');
  const resultsFile = path.join(opts.resultsDir, 'results.jsonl');
  const results: RunResult[] = [];
  let failed = false;
  for (const n of opts.workers) {
    if (n > 1 && !hasWorkersFlag) {
      const why = 'this build of the bench has no --workers option (node dist-bench/bench/run.js --help)';
      log(`workers ${n}: skipped: ${why}`);
      results.push({ workers: n, code: null, skipped: why });
      continue;
    }
    const r = await benchRun(n, hasWorkersFlag, opts, env, pinner);
    results.push(r);
    if (r.code !== 0) failed = true;
    if (r.json) {
      // The bench's own JSON line, with what the bundle knows: worker count, build (no git here), pinning.
      const line = {
        ...r.json,
        build: r.json.build === 'unknown' ? String(bundle.herald_build ?? 'unknown') : r.json.build,
        bundle_workers: n,
        bundle_exit_code: r.code,
        bundle_pinning: plan ? { plan: describePlan(plan), pinned: pinner!.lines.filter((l) => !l.startsWith('pin postgres')) } : pinNote,
      };
      appendFileSync(resultsFile, JSON.stringify(line) + '\n');
    } else {
      failed = true;
      log(`workers ${n}: no JSON line (exit code ${r.code}); see ${path.join(opts.resultsDir, `bench-${n}.log`)}`);
    }
    await sleep(1000);
  }
  await pg.stop();

  const summary = summaryTable(results, header);
  writeFileSync(path.join(opts.resultsDir, 'summary.txt'), summary);
  console.log('');
  console.log(summary);
  console.log(`results: ${resultsFile} (one JSON line per worker count), ${path.join(opts.resultsDir, 'summary.txt')}, bench-<N>.log`);
  process.exit(failed ? 1 : 0);
}

main().catch((err) => {
  console.error(`bundle: ${(err as Error).message}`);
  process.exit(1);
});
