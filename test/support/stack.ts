import { execFile } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { CONFIG_VARIABLES } from '../../src/config';
import { freePort, startTemporalDevServer, type DevServer } from '../../src/dev/temporal-dev-server';
import { distBin, REPO_ROOT } from './paths';
import { spawnLogged, type Proc } from './process';

// Herald as separate processes, as in production: the compiled migrations (dist/bin/migrate.js),
// API (dist/bin/api.js) and worker (dist/bin/worker.js), against a Temporal dev server of the
// stack's own (its SQLite file and log in the stack's folder) or a server named by address.
// The fault suite (FaultStack) adds kills and restarts; the benchmark (startStack) measures the
// CPU of the pids. The database and the SMTP gateway are the caller's.

export interface HeraldStackOptions {
  /** Logs of every process and the dev server's SQLite file. */
  dir: string;
  /** A migrated-or-empty database (the stack runs the migrations). */
  databaseUrl: string;
  /** The worker's SMTP gateway (SMTP_URL). */
  gatewayUrl: string;
  messageIdDomain: string;
  /** Default 'herald-email'. */
  taskQueue?: string;
  /** Temporal CLI for a dev server of the stack's own; ignored with temporalAddress. */
  temporalCli?: string;
  /** Use this Temporal server instead of starting a dev server. */
  temporalAddress?: string;
  /** Flags for `temporal server start-dev` instead of DEV_SERVER_TUNING. */
  temporalTuning?: readonly string[];
  /** Settings of api and worker (Herald's environment variables) on top of the stack's own. */
  env?: Record<string, string>;
  /** Extra node flags for api and worker (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** The Herald build under test (its dist/): this checkout by default. */
  heraldRoot?: string;
  /** Worker processes on the task queue (default 1): `worker` is the first, `extraWorkers` the others. */
  workers?: number;
}

const execFileAsync = promisify(execFile);

/** This process's environment without Herald's own settings: a person's stack never leaks in. */
export function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !CONFIG_VARIABLES.includes(key)) env[key] = value;
  return env;
}

export interface StackPorts {
  api: number;
  /** Undefined with temporalAddress. */
  temporal?: number;
}

/** Free ports for the API and the dev server, kept across restarts. */
export async function stackPorts(opts: HeraldStackOptions): Promise<StackPorts> {
  return { api: await freePort(), temporal: opts.temporalAddress ? undefined : await freePort() };
}

/** Migrations and Temporal, then worker and API. */
export async function startHeraldStack(opts: HeraldStackOptions): Promise<HeraldStack> {
  const stack = new HeraldStack(opts, await stackPorts(opts));
  await stack.boot();
  return stack;
}

export class HeraldStack {
  temporal?: DevServer;
  api?: Proc;
  worker?: Proc;
  /** Workers beyond the first (option `workers`), on the same task queue. */
  extraWorkers: Proc[] = [];
  readonly env: Record<string, string>;
  /** A key of the development tenant `default` (all scopes, limits out of the load's way). */
  apiKey = '';
  readonly apiPort: number;
  readonly temporalPort?: number;
  private readonly bin: string;

  constructor(
    readonly opts: HeraldStackOptions,
    ports: StackPorts,
  ) {
    this.apiPort = ports.api;
    this.temporalPort = ports.temporal;
    this.bin = distBin(opts.heraldRoot);
    this.env = {
      ...inheritedEnv(),
      DATABASE_URL: opts.databaseUrl,
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_TASK_QUEUE: opts.taskQueue ?? 'herald-email',
      SMTP_URL: opts.gatewayUrl,
      MESSAGE_ID_DOMAIN: opts.messageIdDomain,
      HOST: '127.0.0.1',
      PORT: String(ports.api),
      LOG_LEVEL: 'info',
      // Metrics listeners of their own: several stacks (and a person's npm start) may run at once.
      METRICS_PORT: '0',
      WORKER_METRICS_PORT: '0',
      ...opts.env,
    };
  }

  /** Migrations and Temporal, then worker and API; everything started is stopped when a part fails. */
  async boot(): Promise<void> {
    for (const bin of ['api.js', 'worker.js', 'migrate.js']) {
      if (!existsSync(path.join(this.bin, bin))) throw new Error(`${path.join(this.bin, bin)} missing: run \`npm run build\``);
    }
    mkdirSync(this.opts.dir, { recursive: true });
    try {
      await Promise.all([this.startTemporal(), this.migrate().then(() => this.createApiKey())]);
      await Promise.all([this.startWorker(), this.startExtraWorkers(), this.startApi()]);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get temporalAddress(): string {
    return this.opts.temporalAddress ?? `127.0.0.1:${this.temporalPort}`;
  }

  get taskQueue(): string {
    return this.env.TEMPORAL_TASK_QUEUE;
  }

  private node(name: string, script: string): Proc {
    return spawnLogged(name, process.execPath, [...(this.opts.nodeArgs ?? []), path.join(this.bin, script)], {
      env: this.env,
      cwd: REPO_ROOT,
      logFile: path.join(this.opts.dir, `${name}.log`),
    });
  }

  /** The production entry point: src/db/migrate.ts finds migrations/ relative to dist/. */
  async migrate(): Promise<void> {
    const migrate = spawnLogged('migrate', process.execPath, [path.join(this.bin, 'migrate.js')], {
      env: this.env,
      cwd: REPO_ROOT,
      logFile: path.join(this.opts.dir, 'migrate.log'),
    });
    if ((await migrate.exited) !== 0) throw new Error(`migrations failed:\n${migrate.tail()}`);
  }

  /** Through the operator's CLI, as a person would: the limits raised, a key made. */
  async createApiKey(): Promise<void> {
    const herald = async (...args: string[]) => {
      const { stdout } = await execFileAsync(process.execPath, [path.join(this.bin, 'herald.js'), ...args], {
        env: this.env,
        cwd: REPO_ROOT,
      });
      return stdout.trim().split('\n').at(-1)!;
    };
    await herald('tenant', 'update', 'default', '--rate-per-second', '100000', '--burst', '100000', '--daily-quota', '100000000');
    this.apiKey = await herald('key', 'create', '--tenant', 'default', '--scopes', 'send,read,operate', '--name', 'test stack');
  }

  /** A dev server on the stack's port and SQLite file (the same after a restart); nothing with temporalAddress. */
  async startTemporal(): Promise<void> {
    if (this.opts.temporalAddress) return;
    if (!this.opts.temporalCli) throw new Error('HeraldStack: temporalCli or temporalAddress is required');
    this.temporal = await startTemporalDevServer({
      cli: this.opts.temporalCli,
      port: this.temporalPort!,
      headless: true,
      dbFile: path.join(this.opts.dir, 'temporal.sqlite'),
      logFile: path.join(this.opts.dir, 'temporal.log'),
      tuning: this.opts.temporalTuning,
    });
  }

  async startWorker(): Promise<void> {
    this.worker = this.node('worker', 'worker.js');
    await this.worker.waitForLine(/worker running/, 60_000);
  }

  /** The workers beyond the first (option `workers`), started once by boot. */
  private async startExtraWorkers(): Promise<void> {
    for (let i = 2; i <= (this.opts.workers ?? 1); i++) this.extraWorkers.push(this.node(`worker-${i}`, 'worker.js'));
    await Promise.all(this.extraWorkers.map((w) => w.waitForLine(/worker running/, 60_000)));
  }

  async startApi(): Promise<void> {
    this.api = this.node('api', 'api.js');
    await this.api.waitForLine(/API listening/, 60_000);
  }

  /** Stops API, workers and dev server (SIGTERM, then SIGKILL); safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    for (const part of [this.api, this.worker, ...this.extraWorkers, this.temporal]) await part?.stop().catch(() => {});
  }
}
