import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { DEV_SERVER_TUNING } from '../src/dev/temporal-dev-server';
import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../test/support/paths';
import { DEFAULT_HISTORY_SHARDS } from '../src/dev/temporal-server';
import { cleanupAll, DEFAULT_SETTINGS, HERALD_ROOT, meterProcesses, startStack, type Stack, type StackSettings } from './stack';
import { runB0, runTemporalBaseline, waitForNoOpenWorkflows, type BaselineResult } from './baselines';
import { closedLoop, openLoop, percentile, type Accepted } from './load';
import { Meter, type PhaseCpu } from './meter';
import { loadAverage, peakRssMiB, rssMiB } from './procfs';
import { startPerf, summarizeCpuProfiles } from './profile';
import { CAMPAIGN_DEFAULTS, runCampaignBench } from './campaign';
import { flags } from './flags';

// `npm run bench [-- options]`: Herald measured against its own limits in one run. See
// BENCHMARKS.md for the method; `--help` lists the options.

const HELP = `usage: npm run bench -- [options]
  --smoke                 small run (a few hundred emails, under ~2 minutes), for CI
  --soak                  add a soak at 70% of the knee (10 min; --soak-seconds S)
  --soak-rate R           soak at R emails/s instead of 70% of the measured knee
  --n N                   emails of the closed loop (default 4000; smoke 300)
  --b0 N / --b1 N / --b2 N  messages of B0 / workflows of B1, B2 (defaults 5000 / 3000 / 3000)
  --connections C         concurrent HTTP clients of the closed loop, and B1's and B2's clients (default 16)
  --rates a,b,c           offered rates of the open loop (default: a ladder from the closed loop)
  --step-seconds S        duration of each open-loop step (default 15; smoke 5)
  --p99-bound-ms MS       accept-to-delivery p99 a step must stay under to pass (default 1000)
  --temporal dev|real     which Temporal server the bench starts (default dev): dev = \`temporal server
                          start-dev\` (one shard, SQLite), as npm start runs it; real = temporal-server
                          v1.32.1 on databases of its own on the bench's PostgreSQL (schemas set up
                          with temporal-sql-tool, dropped at the end), several history shards, the
                          dynamic config of deploy/temporal/dynamic-config.yaml (as test:cluster)
  --shards N              history shards of the real server (default ${DEFAULT_HISTORY_SHARDS})
  --workers N             Herald worker processes on the task queue (default 1); worker CPU is their sum
  --temporal-flags "..."  dev server tuning flags instead of the defaults ("none" for none)
  --worker-activities N / --worker-workflow-tasks N / --smtp-pool N / --db-pool N
  --skip-b0 --skip-b1 --skip-b2 --skip-closed --skip-open   leave phases out (experiments)
  --keep                  keep the work directory with every process's log
  --node-arg ARG          extra node flag for api and worker (repeatable; experiments)
  --gateway-rate R        the sink as a rate-limited gateway (R/s, SMTP_GATEWAYS): no local first attempt
  --profile               CPU profiles of api and worker (--cpu-prof) and of the Temporal server
                          (perf, during the closed loop), summarized at the end
  --campaign N            a campaign of N recipients instead (bench/campaign.ts): single-email
                          knee, batches of 1000, upload, pause/resume, completion; stack options apply
Environment: HERALD_BENCH_TEMPORAL_ADDRESS (use that server, not metered, instead of starting one),
HERALD_BENCH_DATABASE_ADMIN_URL, TEMPORAL_CLI, TEMPORAL_SERVER, TEMPORAL_SQL_TOOL.`;

interface Options {
  smoke: boolean;
  soak: boolean;
  soakSeconds: number;
  soakRate?: number;
  n: number;
  b0: number;
  b1: number;
  b2: number;
  connections: number;
  rates?: number[];
  stepSeconds: number;
  p99BoundMs: number;
  skip: Set<string>;
  profile: boolean;
  settings: StackSettings;
}

function parseArgs(argv: string[]): Options {
  const smoke = argv.includes('--smoke');
  const o: Options = {
    smoke,
    soak: argv.includes('--soak'),
    soakSeconds: 600,
    n: smoke ? 300 : 4000,
    b0: smoke ? 500 : 5000,
    b1: smoke ? 300 : 3000,
    b2: smoke ? 300 : 3000,
    connections: 16,
    stepSeconds: smoke ? 5 : 15,
    p99BoundMs: 1000,
    skip: new Set(),
    profile: argv.includes('--profile'),
    settings: { ...DEFAULT_SETTINGS, temporalTuning: DEV_SERVER_TUNING, nodeArgs: [], extraEnv: {} },
  };
  let tuned = false;
  for (const [a, next] of flags(argv)) {
    const num = () => {
      const v = Number(next());
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${a} needs a positive number`);
      return v;
    };
    switch (a) {
      case '--smoke':
      case '--soak':
      case '--profile':
        break;
      case '--keep':
        o.settings.keep = true;
        break;
      case '--help':
      case '-h':
        console.log(HELP);
        process.exit(0);
        break;
      case '--soak-seconds':
        o.soakSeconds = num();
        break;
      case '--soak-rate':
        o.soakRate = num();
        break;
      case '--n':
        o.n = Math.round(num());
        break;
      case '--b0':
        o.b0 = Math.round(num());
        break;
      case '--b1':
        o.b1 = Math.round(num());
        break;
      case '--b2':
        o.b2 = Math.round(num());
        break;
      case '--connections':
        o.connections = Math.round(num());
        break;
      case '--rates':
        o.rates = next()
          .split(',')
          .map(Number)
          .filter((x) => x > 0);
        break;
      case '--step-seconds':
        o.stepSeconds = num();
        break;
      case '--p99-bound-ms':
        o.p99BoundMs = num();
        break;
      case '--temporal-flags': {
        const v = next().trim();
        o.settings.temporalTuning = v === 'none' ? [] : v.split(/\s+/);
        tuned = true;
        break;
      }
      case '--temporal': {
        const v = next();
        if (v !== 'dev' && v !== 'real') throw new Error(`--temporal is dev or real, not ${v}`);
        o.settings.temporal = v;
        break;
      }
      case '--shards':
        o.settings.historyShards = Math.round(num());
        break;
      case '--workers':
        o.settings.workers = Math.round(num());
        break;
      case '--worker-activities':
        o.settings.workerMaxActivities = Math.round(num());
        break;
      case '--worker-workflow-tasks':
        o.settings.workerMaxWorkflowTasks = Math.round(num());
        break;
      case '--smtp-pool':
        o.settings.smtpPoolMax = Math.round(num());
        break;
      case '--db-pool':
        o.settings.dbPoolMax = Math.round(num());
        break;
      case '--node-arg':
        o.settings.nodeArgs = [...o.settings.nodeArgs, next()];
        break;
      case '--gateway-rate':
        o.settings.gatewayRatePerSecond = num();
        break;
      case '--skip-b0':
      case '--skip-b1':
      case '--skip-b2':
      case '--skip-closed':
      case '--skip-open':
        o.skip.add(a.slice(7));
        break;
      default:
        throw new Error(`unknown option ${a}\n${HELP}`);
    }
  }
  if (o.settings.temporal === 'real' && tuned)
    throw new Error('--temporal-flags tunes the dev server; the real server runs with deploy/temporal/dynamic-config.yaml');
  if (o.settings.temporal === 'dev' && o.settings.historyShards !== undefined)
    throw new Error('--shards is for --temporal real (the dev server has one shard)');
  return o;
}

const log = (m: string) => console.error(m);
let profileDir: string | undefined;
let perfReport: string | undefined;
let roles: Record<number, string> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

/** Every Message-ID the sink has received, with each receipt time (more than one = duplicate). */
class Receipts {
  readonly byId = new Map<string, number[]>();
  constructor(private readonly stack: Stack) {}
  collect(): void {
    for (const r of this.stack.sink.collect()) {
      const list = this.byId.get(r.messageId);
      if (list) list.push(r.at);
      else this.byId.set(r.messageId, [r.at]);
    }
  }
  of(emailId: string): number | undefined {
    return this.byId.get(`${emailId}@bench.herald`)?.[0];
  }
  /** Waits until every accepted email has reached the sink; returns how many have not. */
  async waitFor(accepted: Accepted[], timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      this.collect();
      const missing = accepted.filter((a) => this.of(a.id) === undefined).length;
      if (missing === 0 || Date.now() > deadline) return missing;
      await sleep(200);
    }
  }
}

interface HeraldPhase {
  label: string;
  offeredPerS?: number;
  accepted: number;
  errors: number;
  acceptedPerS: number;
  deliveredPerS: number;
  apiP50Ms: number;
  apiP99Ms: number;
  e2eP50Ms: number;
  e2eP99Ms: number;
  /** Open loop: accepted but not yet delivered when the step ended, and how long draining took. */
  backlogAtEnd?: number;
  backlogMax?: number;
  drainS?: number;
  missing: number;
  passed?: boolean;
  cpu: PhaseCpu;
}

function e2e(receipts: Receipts, accepted: Accepted[]): number[] {
  const out: number[] = [];
  for (const a of accepted) {
    const at = receipts.of(a.id);
    if (at !== undefined) out.push(Math.max(0, at - a.at));
  }
  return out;
}

async function heraldClosedLoop(stack: Stack, receipts: Receipts, n: number, connections: number, all: Accepted[]): Promise<HeraldPhase> {
  const meter = new Meter(meterProcesses(stack));
  const sampler = setInterval(() => meter.sample(), 1000);
  const load = await closedLoop({ url: stack.apiUrl, key: stack.apiKey }, n, connections);
  all.push(...load.accepted);
  const missing = await receipts.waitFor(load.accepted, 60_000 + n * 20);
  clearInterval(sampler);
  const cpu = meter.stop();
  const lastReceipt = Math.max(...load.accepted.map((a) => receipts.of(a.id) ?? 0));
  const errors = Object.values(load.errors).reduce((a, b) => a + b, 0);
  const lat = e2e(receipts, load.accepted);
  return {
    label: 'herald closed loop',
    accepted: load.accepted.length,
    errors,
    acceptedPerS: load.accepted.length / ((load.endedAt - load.startedAt) / 1000),
    deliveredPerS: (load.accepted.length - missing) / ((lastReceipt - load.startedAt) / 1000),
    apiP50Ms: load.p50,
    apiP99Ms: load.p99,
    e2eP50Ms: percentile(lat, 50),
    e2eP99Ms: percentile(lat, 99),
    missing,
    cpu,
  };
}

async function heraldOpenStep(
  stack: Stack,
  receipts: Receipts,
  rate: number,
  seconds: number,
  p99BoundMs: number,
  all: Accepted[],
  label = `open ${rate}/s`,
  onSample?: () => void,
): Promise<HeraldPhase> {
  const meter = new Meter(meterProcesses(stack));
  const sinkBefore = stack.sink.count();
  const live: Accepted[] = [];
  let backlogMax = 0;
  const sampler = setInterval(() => {
    meter.sample();
    backlogMax = Math.max(backlogMax, live.length - (stack.sink.count() - sinkBefore));
    onSample?.();
  }, 1000);
  const load = await openLoop({ url: stack.apiUrl, key: stack.apiKey }, rate, seconds, 256, live);
  const stepEnd = Date.now();
  all.push(...load.accepted);
  const missing = await receipts.waitFor(load.accepted, 60_000 + rate * seconds * 20);
  const drainS = (Date.now() - stepEnd) / 1000;
  clearInterval(sampler);
  const cpu = meter.stop();
  const times = load.accepted.map((a) => receipts.of(a.id)).filter((x): x is number => x !== undefined);
  const deliveredInStep = times.filter((t) => t <= load.endedAt).length;
  const acceptedByEnd = load.accepted.filter((a) => a.at <= load.endedAt).length;
  const backlogAtEnd = acceptedByEnd - deliveredInStep;
  const errors = Object.values(load.errors).reduce((a, b) => a + b, 0);
  const lat = e2e(receipts, load.accepted);
  const e2eP99Ms = percentile(lat, 99);
  const stepS = (load.endedAt - load.startedAt) / 1000;
  // Bounded: every request accepted, the generator kept its pace, p99 under the bound, and no
  // more than half a second of work queued when the step ended.
  const passed =
    errors === 0 &&
    missing === 0 &&
    load.accepted.length / stepS >= 0.95 * rate &&
    e2eP99Ms <= p99BoundMs &&
    backlogAtEnd <= Math.max(10, rate * 0.5);
  return {
    label,
    offeredPerS: rate,
    accepted: load.accepted.length,
    errors,
    acceptedPerS: load.accepted.length / stepS,
    deliveredPerS: deliveredInStep / stepS,
    apiP50Ms: percentile(load.latenciesMs, 50),
    apiP99Ms: percentile(load.latenciesMs, 99),
    e2eP50Ms: percentile(lat, 50),
    e2eP99Ms,
    backlogAtEnd,
    backlogMax,
    drainS,
    missing,
    passed,
    cpu,
  };
}

function ladder(closedPerS: number, smoke: boolean): number[] {
  const unit = closedPerS >= 200 ? 20 : closedPerS >= 60 ? 10 : 5;
  const snap = (x: number) => Math.max(unit, Math.round(x / unit) * unit);
  const start = snap(closedPerS * (smoke ? 0.6 : 0.5));
  const step = snap(closedPerS * (smoke ? 0.2 : 0.1));
  const rates: number[] = [];
  for (let r = start; r <= closedPerS * 1.6 && rates.length < (smoke ? 3 : 14); r += step) rates.push(r);
  return rates;
}

interface SoakResult {
  rate: number;
  seconds: number;
  samples: Array<{ t: number; worker: number; api: number }>;
  workerFirstMin: number;
  workerLastMin: number;
  workerSlopeMiBPerMin: number;
  apiFirstMin: number;
  apiLastMin: number;
  phase: HeraldPhase;
}

function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p[0], 0) / n;
  const my = points.reduce((a, p) => a + p[1], 0) / n;
  const num = points.reduce((a, p) => a + (p[0] - mx) * (p[1] - my), 0);
  const den = points.reduce((a, p) => a + (p[0] - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function soak(stack: Stack, receipts: Receipts, rate: number, seconds: number, bound: number, all: Accepted[]): Promise<SoakResult> {
  const samples: SoakResult['samples'] = [];
  const t0 = Date.now();
  let ticks = 0;
  const take = () =>
    samples.push({ t: (Date.now() - t0) / 1000, worker: rssMiB(stack.workerPid) ?? NaN, api: rssMiB(stack.apiPid) ?? NaN });
  take();
  const phase = await heraldOpenStep(stack, receipts, rate, seconds, bound, all, `soak ${rate}/s ${seconds}s`, () => {
    if (++ticks % 5 === 0) {
      take();
      receipts.collect(); // keeps the dump directory small
    }
  });
  take();
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const first = samples.filter((s) => s.t >= 60 && s.t < 120);
  const last = samples.filter((s) => s.t >= seconds - 60 && s.t <= seconds);
  const warm = samples.filter((s) => s.t >= 60);
  return {
    rate,
    seconds,
    samples,
    workerFirstMin: mean(first.map((s) => s.worker)),
    workerLastMin: mean(last.map((s) => s.worker)),
    workerSlopeMiBPerMin: slope(warm.map((s) => [s.t / 60, s.worker])),
    apiFirstMin: mean(first.map((s) => s.api)),
    apiLastMin: mean(last.map((s) => s.api)),
    phase,
  };
}

function machineFacts(): string {
  const cpus = os.cpus();
  let pg = '';
  try {
    pg = readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    // not Linux
  }
  return `${cpus.length} x ${cpus[0]?.model ?? '?'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, ${pg}`;
}

/** The build under test: commit, and whether the work tree had uncommitted changes (read-only git). */
function buildId(): string {
  const root = HERALD_ROOT;
  const git = (...args: string[]) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8' });
  const head = git('rev-parse', '--short', 'HEAD');
  if (head.status !== 0) return root === REPO_ROOT ? 'unknown' : root;
  const dirty = (git('status', '--porcelain', '--untracked-files=no').stdout ?? '').trim() !== '';
  return `${head.stdout.trim()}${dirty ? '+uncommitted' : ''}${root === REPO_ROOT ? '' : ` (${root})`}`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

function fmt(x: number | undefined | null, digits = 0): string {
  return x === undefined || x === null || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

/** The CPU columns: with the real server, its PostgreSQL backends (temporal_pg, "t-pg") after its own process. */
function cpuColumns(stack: Stack): Array<[key: string, header: string]> {
  const columns: Array<[string, string]> = [
    ['api', 'api'],
    ['worker', 'worker'],
    ['temporal', 'temporal'],
  ];
  if (stack.temporalDatabases) columns.push(['temporal_pg', ' t-pg']); // a space: 'temporal' overflows its column
  return [...columns, ['postgres', 'pg'], ['sink', 'sink'], ['runner', 'runner']];
}

function cpuCells(cpu: PhaseCpu, n: number, columns: Array<[string, string]>): string {
  const ms = (name: string) => (cpu.cpu[name] === undefined ? '-' : ((cpu.cpu[name] / n) * 1000).toFixed(2));
  return columns.map(([k]) => pad(ms(k), 7)).join('') + pad(((cpu.othersS / cpu.wallS) * 100).toFixed(0) + '%', 7);
}

async function main() {
  // --- campaign mode (bench/campaign.ts): a separate run of its own ---
  const campaignAt = process.argv.indexOf('--campaign');
  if (campaignAt !== -1) {
    const recipients = Number(process.argv[campaignAt + 1]);
    if (!Number.isInteger(recipients) || recipients <= 0) throw new Error('--campaign needs a number of recipients');
    const rest = process.argv.slice(2).filter((_, i) => i !== campaignAt - 2 && i !== campaignAt - 1);
    const parsed = parseArgs(rest);
    const stepSeconds = rest.includes('--step-seconds') ? parsed.stepSeconds : CAMPAIGN_DEFAULTS.stepSeconds;
    log(
      `bench: campaign of ${recipients} recipients; machine: ${machineFacts()}; load average before: ${loadAverage()}; build ${buildId()}`,
    );
    const { healthy, summary } = await runCampaignBench({
      ...CAMPAIGN_DEFAULTS,
      rates: parsed.rates ?? CAMPAIGN_DEFAULTS.rates,
      stepSeconds,
      recipients,
      settings: parsed.settings,
      log,
    });
    console.log(JSON.stringify({ ...summary, build: buildId(), loadavg: loadAverage() }));
    process.exitCode = healthy ? 0 : 1;
    return;
  }
  // --- end of campaign mode ---
  const opts = parseArgs(process.argv.slice(2));
  const started = Date.now();
  log(`bench: ${opts.smoke ? 'smoke' : 'full'} run; machine: ${machineFacts()}; load average before: ${loadAverage()}`);
  if (opts.settings.gatewayRatePerSecond)
    log(`bench: the sink is a rate-limited gateway (${opts.settings.gatewayRatePerSecond}/s): first attempts through its task queue`);
  if (opts.settings.temporal === 'real')
    log(`bench: the real Temporal server, ${opts.settings.historyShards ?? DEFAULT_HISTORY_SHARDS} history shards, on PostgreSQL`);
  if (opts.settings.workers > 1) log(`bench: ${opts.settings.workers} worker processes`);
  log(
    `bench: temporal flags: ${opts.settings.temporal === 'real' ? '(dev server only)' : opts.settings.temporalTuning.join(' ') || '(none)'}; worker activities ${opts.settings.workerMaxActivities}, workflow tasks ${opts.settings.workerMaxWorkflowTasks}; SMTP pool ${opts.settings.smtpPoolMax}; DB pool ${opts.settings.dbPoolMax}`,
  );
  if (opts.profile) {
    profileDir = mkdtempSync(path.join(os.tmpdir(), 'herald-bench-prof-'));
    opts.settings.nodeArgs = [...opts.settings.nodeArgs, '--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  }
  const stack = await startStack(opts.settings, log);
  roles = { [stack.apiPid]: 'api', ...Object.fromEntries(stack.workerPids.map((pid, i) => [pid, i === 0 ? 'worker' : `worker-${i + 1}`])) };
  const receipts = new Receipts(stack);
  const accepted: Accepted[] = [];
  let b0: BaselineResult | undefined;
  let b1: BaselineResult | undefined;
  let b2: BaselineResult | undefined;
  let closed: HeraldPhase | undefined;
  const steps: HeraldPhase[] = [];
  let half: HeraldPhase | undefined;
  let soakResult: SoakResult | undefined;
  let knee: number | undefined;

  if (!opts.skip.has('b0')) {
    log(`bench: B0, ${opts.b0} messages straight to the sink`);
    b0 = await runB0(stack, opts.b0, opts.settings.workerMaxActivities, opts.settings.smtpPoolMax);
    receipts.collect();
    log(`bench: B0 ${b0.perS.toFixed(0)}/s`);
  }
  if (!opts.skip.has('b1')) {
    log(`bench: B1, ${opts.b1} one-activity workflows`);
    b1 = await runTemporalBaseline(stack, 'b1', opts.b1, opts.connections);
    log(`bench: B1 ${b1.perS.toFixed(0)}/s`);
  }
  if (!opts.skip.has('b2')) {
    log(`bench: B2, ${opts.b2} workflows with no activity`);
    b2 = await runTemporalBaseline(stack, 'b2', opts.b2, opts.connections);
    log(`bench: B2 ${b2.perS.toFixed(0)}/s`);
  }
  if (!opts.skip.has('closed')) {
    log(`bench: Herald closed loop, ${opts.n} emails from ${opts.connections} clients`);
    const perf = opts.profile && stack.temporalPid ? startPerf(stack.temporalPid, path.join(profileDir!, 'temporal.perf.data')) : undefined;
    closed = await heraldClosedLoop(stack, receipts, opts.n, opts.connections, accepted);
    if (perf) perfReport = await perf.stop();
    log(`bench: closed loop delivered ${closed.deliveredPerS.toFixed(0)}/s, API p99 ${closed.apiP99Ms} ms`);
  }
  if (!opts.skip.has('open')) {
    const rates = opts.rates ?? ladder(closed?.deliveredPerS ?? b1?.perS ?? 100, opts.smoke);
    log(`bench: open loop, rates ${rates.join(', ')} emails/s, ${opts.stepSeconds} s each`);
    for (const rate of rates) {
      const step = await heraldOpenStep(stack, receipts, rate, opts.stepSeconds, opts.p99BoundMs, accepted);
      steps.push(step);
      log(
        `bench: ${step.label}: delivered ${step.deliveredPerS.toFixed(0)}/s, e2e p99 ${step.e2eP99Ms.toFixed(0)} ms, backlog ${step.backlogAtEnd}, ${step.passed ? 'bounded' : 'NOT bounded'}`,
      );
      if (!step.passed) break;
      knee = rate;
    }
    const halfRate = Math.max(1, Math.round((knee ?? rates[0] / 2) / 2));
    half = await heraldOpenStep(
      stack,
      receipts,
      halfRate,
      Math.max(opts.stepSeconds, opts.smoke ? 5 : 20),
      opts.p99BoundMs,
      accepted,
      `half knee ${halfRate}/s`,
    );
    log(`bench: ${half.label}: API p50 ${half.apiP50Ms.toFixed(1)} ms, p99 ${half.apiP99Ms.toFixed(1)} ms`);
  }
  if (opts.soak) {
    const rate = opts.soakRate ?? Math.max(1, Math.round(0.7 * (knee ?? 10)));
    log(`bench: soak at ${rate}/s for ${opts.soakSeconds} s`);
    soakResult = await soak(stack, receipts, rate, opts.soakSeconds, opts.p99BoundMs, accepted);
  }

  // Checks over every email of the run.
  receipts.collect();
  const lost = accepted.filter((a) => receipts.of(a.id) === undefined).length;
  const duplicates = [...receipts.byId.values()].filter((l) => l.length > 1).length;
  const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => {} });
  let byStatus: Record<string, number>;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const rows = await sql<Array<{ status: string; n: number }>>`select status, count(*)::int as n from emails group by status`;
    byStatus = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    if (Object.keys(byStatus).every((s) => s === 'sent') || Date.now() > deadline) break;
    await sleep(500);
  }
  await sql.end();
  const notSent = Object.entries(byStatus)
    .filter(([s]) => s !== 'sent')
    .reduce((a, [, n]) => a + n, 0);
  const stored = Object.values(byStatus).reduce((a, b) => a + b, 0);
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const openWorkflows = await waitForNoOpenWorkflows(new Client({ connection }), `TaskQueue="${stack.taskQueue}"`, 30_000);
  await connection.close();
  const workerPeaks = stack.workerPids.map((pid) => peakRssMiB(pid) ?? NaN);
  const workerPeak = stack.workerPids.length === 1 ? peakRssMiB(stack.workerPid) : Math.max(...workerPeaks);
  const apiPeak = peakRssMiB(stack.apiPid);

  // The table.
  const lines: string[] = [];
  lines.push('');
  lines.push(`Herald benchmark (${opts.smoke ? 'smoke' : 'full'}), ${new Date().toISOString()}, build ${buildId()}, ${machineFacts()}`);
  const columns = cpuColumns(stack);
  lines.push(
    `temporal: ${stack.temporalDescription}${stack.workerPids.length > 1 ? ` | ${stack.workerPids.length} worker processes (worker CPU is their sum)` : ''} | worker activities ${opts.settings.workerMaxActivities}, workflow tasks ${opts.settings.workerMaxWorkflowTasks} | SMTP pool ${opts.settings.smtpPoolMax} | DB pool ${opts.settings.dbPoolMax} | clients ${opts.connections}`,
  );
  lines.push('');
  lines.push(
    pad('phase', 22) +
      pad('offered/s', 10) +
      pad('accept/s', 9) +
      pad('deliv/s', 9) +
      pad('API p50/p99 ms', 16) +
      pad('e2e p50/p99 ms', 16) +
      pad('backlog', 8) +
      pad('ok', 4) +
      '| CPU ms/email: ' +
      [...columns.map(([, h]) => h), 'others'].map((h) => pad(h, 7)).join(''),
  );
  for (const [label, b, worker] of [
    ['B0 SMTP limit', b0, ''],
    ['B1 Temporal limit', b1, 'b1worker'],
    ['B2 Temporal floor', b2, 'b2worker'],
  ] as const) {
    if (!b) continue;
    const startCol = b.startP50Ms === undefined ? '-' : `${fmt(b.startP50Ms, 1)}/${fmt(b.startP99Ms, 1)}*`;
    const workerCell = worker ? ` (${worker.slice(0, 2).toUpperCase()} worker ${fmt(((b.cpu.cpu[worker] ?? 0) / b.n) * 1000, 2)})` : '';
    lines.push(
      pad(label, 22) +
        pad('-', 10) +
        pad('-', 9) +
        pad(fmt(b.perS), 9) +
        pad(startCol, 16) +
        pad(`${fmt(b.p50Ms)}/${fmt(b.p99Ms)}`, 16) +
        pad('-', 8) +
        pad('', 4) +
        '|               ' +
        cpuCells(b.cpu, b.n, columns) +
        workerCell,
    );
  }
  for (const p of [closed, ...steps, half, soakResult?.phase]) {
    if (!p) continue;
    lines.push(
      pad(p.label, 22) +
        pad(fmt(p.offeredPerS), 10) +
        pad(fmt(p.acceptedPerS), 9) +
        pad(fmt(p.deliveredPerS), 9) +
        pad(`${fmt(p.apiP50Ms, 1)}/${fmt(p.apiP99Ms, 1)}`, 16) +
        pad(`${fmt(p.e2eP50Ms)}/${fmt(p.e2eP99Ms)}`, 16) +
        pad(p.backlogAtEnd === undefined ? '-' : String(p.backlogAtEnd), 8) +
        pad(p.passed === undefined ? '' : p.passed ? 'yes' : 'NO', 4) +
        '|               ' +
        cpuCells(p.cpu, Math.max(1, p.accepted), columns),
    );
  }
  lines.push(
    b1 || b2
      ? "* B1, B2: latency of the client's workflow start call (back to back from C clients), the Temporal part of an API request"
      : '',
  );
  lines.push('');
  const ratio = closed && b1 ? closed.deliveredPerS / b1.perS : NaN;
  const ratioB2 = closed && b2 ? closed.deliveredPerS / b2.perS : NaN;
  lines.push(
    `knee: ${knee ?? 'not found'} emails/s (highest offered rate with e2e p99 <= ${opts.p99BoundMs} ms and no backlog); ` +
      `Herald/B1 = ${fmt(ratio, 2)}; Herald/B2 = ${fmt(ratioB2, 2)}; knee/B2 = ${fmt(knee && b2 ? knee / b2.perS : NaN, 2)}; Herald/B0 = ${fmt(closed && b0 ? closed.deliveredPerS / b0.perS : NaN, 3)}`,
  );
  lines.push(
    `peak RSS: worker ${stack.workerPids.length === 1 ? fmt(workerPeak) : workerPeaks.map((x) => fmt(x)).join(' / ')} MiB, api ${fmt(apiPeak)} MiB`,
  );
  if (soakResult) {
    lines.push(
      `soak ${soakResult.rate}/s for ${soakResult.seconds} s: worker RSS ${fmt(soakResult.workerFirstMin)} MiB (minute 2) -> ${fmt(soakResult.workerLastMin)} MiB (last minute), slope ${fmt(soakResult.workerSlopeMiBPerMin, 2)} MiB/min; api ${fmt(soakResult.apiFirstMin)} -> ${fmt(soakResult.apiLastMin)} MiB`,
    );
  }
  lines.push(
    `checks: accepted ${accepted.length}, stored ${stored}, delivered ${accepted.length - lost}, lost ${lost}, duplicate Message-IDs ${duplicates}, not sent ${notSent} ${JSON.stringify(byStatus)}, open workflows ${openWorkflows}`,
  );
  lines.push(`wall time ${((Date.now() - started) / 1000).toFixed(0)} s; load average now ${loadAverage()}`);
  console.log(lines.join('\n'));

  const errors = [closed, ...steps, half, soakResult?.phase].reduce((a, p) => a + (p?.errors ?? 0), 0);
  const summary = {
    mode: opts.smoke ? 'smoke' : 'full',
    build: buildId(),
    temporal: stack.temporal,
    history_shards: stack.temporal === 'dev' ? 1 : (stack.historyShards ?? null),
    herald_delivered_per_s: round(closed?.deliveredPerS ?? NaN),
    herald_accepted_per_s: round(closed?.acceptedPerS ?? NaN),
    b1_per_s: round(b1?.perS ?? NaN),
    b0_per_s: round(b0?.perS ?? NaN),
    ratio_b1: round(ratio, 3),
    b2_per_s: round(b2?.perS ?? NaN),
    ratio_b2: round(ratioB2, 3),
    knee_ratio_b2: knee && b2 ? round(knee / b2.perS, 3) : null,
    knee_per_s: knee ?? null,
    api_p99_ms: round(half?.apiP99Ms ?? NaN),
    api_p50_ms: round(half?.apiP50Ms ?? NaN),
    half_knee_per_s: half?.offeredPerS ?? null,
    closed_api_p50_ms: round(closed?.apiP50Ms ?? NaN),
    closed_api_p99_ms: round(closed?.apiP99Ms ?? NaN),
    closed_e2e_p50_ms: round(closed?.e2eP50Ms ?? NaN),
    closed_e2e_p99_ms: round(closed?.e2eP99Ms ?? NaN),
    cpu_ms_per_email: closed
      ? Object.fromEntries(Object.entries(closed.cpu.cpu).map(([k, v]) => [k, round((v / Math.max(1, closed!.accepted)) * 1000, 3)]))
      : null,
    cpu_ms_per_email_total: closed
      ? round((Object.values(closed.cpu.cpu).reduce((a, b) => a + b, 0) / Math.max(1, closed.accepted)) * 1000, 2)
      : null,
    b1_cpu_ms_per_workflow: b1 ? Object.fromEntries(Object.entries(b1.cpu.cpu).map(([k, v]) => [k, round((v / b1!.n) * 1000, 3)])) : null,
    b1_start_p50_ms: round(b1?.startP50Ms ?? NaN),
    b1_start_p99_ms: round(b1?.startP99Ms ?? NaN),
    b1_others_cpu_pct: b1 ? round((b1.cpu.othersS / b1.cpu.wallS) * 100) : null,
    b2_cpu_ms_per_workflow: b2 ? Object.fromEntries(Object.entries(b2.cpu.cpu).map(([k, v]) => [k, round((v / b2!.n) * 1000, 3)])) : null,
    b2_start_p50_ms: round(b2?.startP50Ms ?? NaN),
    b2_start_p99_ms: round(b2?.startP99Ms ?? NaN),
    b2_others_cpu_pct: b2 ? round((b2.cpu.othersS / b2.cpu.wallS) * 100) : null,
    others_cpu_pct: closed ? round((closed.cpu.othersS / closed.cpu.wallS) * 100) : null,
    worker_peak_rss_mib: round(workerPeak ?? NaN),
    ...(stack.workerPids.length > 1 ? { worker_peak_rss_mib_each: workerPeaks.map((x) => round(x)) } : {}),
    api_peak_rss_mib: round(apiPeak ?? NaN),
    soak: soakResult
      ? {
          rate: soakResult.rate,
          seconds: soakResult.seconds,
          worker_rss_first_min: round(soakResult.workerFirstMin),
          worker_rss_last_min: round(soakResult.workerLastMin),
          worker_slope_mib_per_min: round(soakResult.workerSlopeMiBPerMin, 2),
          passed: soakResult.phase.passed,
        }
      : null,
    accepted: accepted.length,
    lost,
    duplicates,
    not_sent: notSent,
    http_errors: errors,
    open_workflows: openWorkflows,
    loadavg: loadAverage(),
    wall_s: Math.round((Date.now() - started) / 1000),
    settings: {
      temporal_flags: stack.temporal === 'dev' ? opts.settings.temporalTuning.join(' ') : '',
      ...(opts.settings.workers > 1 ? { workers: opts.settings.workers } : {}),
      worker_activities: opts.settings.workerMaxActivities,
      worker_workflow_tasks: opts.settings.workerMaxWorkflowTasks,
      smtp_pool: opts.settings.smtpPoolMax,
      db_pool: opts.settings.dbPoolMax,
      clients: opts.connections,
    },
  };
  console.log(JSON.stringify(summary));
  const healthy = lost === 0 && duplicates === 0 && notSent === 0 && errors === 0 && stored === accepted.length;
  process.exitCode = healthy ? 0 : 1;
}

main()
  .catch((err) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupAll();
    if (profileDir) {
      // Written when api and worker exited (cleanupAll stops them with SIGTERM).
      let text = summarizeCpuProfiles(profileDir);
      for (const [pid, role] of Object.entries(roles))
        text = text.replace(new RegExp(`(CPU\\.[\\d.]+\\.${pid}\\.\\d+\\.\\d+\\.cpuprofile)`, 'g'), `${role} $1`);
      console.error(
        `\nprofiles in ${profileDir}\n${text}\n\n${perfReport ?? 'temporal server: not sampled (perf missing or no closed loop)'}`,
      );
    }
    // Temporal's native connection and autocannon timers may keep the loop alive: do not wait.
    process.exit(process.exitCode ?? 0);
  });
