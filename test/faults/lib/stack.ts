import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { freePort, startTemporalDevServer, type DevServer } from '../../../src/dev/temporal-dev-server';
import { clusterFromEnv, createDatabase, type PgCluster } from './pg-cluster';
import { spawnLogged, type Proc } from './proc';
import { startSmtpSink, type SinkGateway } from './gateways';

// The whole of Herald as separate processes, as in production: the compiled API
// (dist/bin/api.js) and worker (dist/bin/worker.js), a Temporal dev server with its SQLite file,
// the suite's PostgreSQL cluster with a database of the scenario's own, and the gateway the
// scenario chose. Each part can be killed and started again on the same port and files.

export const REPO_ROOT = path.resolve(__dirname, '../../..');
const DIST_BIN = path.join(REPO_ROOT, 'dist', 'bin');

/** Short retry intervals so that a scenario takes seconds; each scenario may override. */
export const FAULT_POLICY_ENV = {
  RETRY_INITIAL_INTERVAL_MS: '500',
  RETRY_BACKOFF_COEFFICIENT: '2',
  RETRY_MAX_INTERVAL_MS: '2000',
  RETRY_GIVE_UP_AFTER_MS: '180000',
  SMTP_ATTEMPT_TIMEOUT_MS: '8000',
  SMTP_POOL_MAX_CONNECTIONS: '5',
};

export interface StackOptions {
  /** Scenario slug: database herald_faults_<slug>, logs in <run dir>/<slug>/. */
  slug: string;
  gatewayUrl: string;
  env?: Record<string, string>;
}

export function runDir(): string {
  const dir = process.env.HERALD_FAULTS_RUN_DIR;
  if (!dir) throw new Error('the fault suite global setup did not run (HERALD_FAULTS_RUN_DIR unset)');
  return dir;
}

export function scenarioDir(slug: string): string {
  const dir = path.join(runDir(), slug);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export class FaultStack {
  temporal?: DevServer;
  api?: Proc;
  worker?: Proc;
  /** The test's own reading connection (accounting), small. */
  sql!: postgres.Sql;
  client?: Client;
  private connection?: Connection;

  private constructor(
    readonly opts: StackOptions,
    readonly dir: string,
    readonly pg: PgCluster,
    readonly databaseUrl: string,
    readonly temporalPort: number,
    readonly apiPort: number,
    readonly temporalCli: string,
  ) {}

  static async start(opts: StackOptions): Promise<FaultStack> {
    for (const bin of ['api.js', 'worker.js', 'migrate.js']) {
      if (!existsSync(path.join(DIST_BIN, bin))) throw new Error(`dist/bin/${bin} missing: run \`npm run build\` (npm run test:faults does)`);
    }
    const pg = clusterFromEnv();
    const dir = scenarioDir(opts.slug);
    const databaseUrl = await createDatabase(pg, `herald_faults_${opts.slug.replace(/-/g, '_')}`);
    const stack = new FaultStack(opts, dir, pg, databaseUrl, await freePort(), await freePort(), process.env.HERALD_FAULTS_TEMPORAL_CLI!);
    try {
      const migrate = spawnLogged('migrate', process.execPath, [path.join(DIST_BIN, 'migrate.js')], {
        env: stack.env(),
        logFile: path.join(dir, 'migrate.log'),
      });
      await Promise.all([stack.startTemporal(), migrate.exited]);
      if (migrate.child.exitCode !== 0) throw new Error(`migrations failed:\n${migrate.tail()}`);
      stack.sql = postgres(databaseUrl, { max: 2, onnotice: () => {}, idle_timeout: 5 });
      await Promise.all([stack.startWorker(), stack.startApi()]);
      return stack;
    } catch (err) {
      await stack.stop();
      throw err;
    }
  }

  get apiUrl() {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  get temporalAddress() {
    return `127.0.0.1:${this.temporalPort}`;
  }

  env(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: 'production',
      DATABASE_URL: this.databaseUrl,
      DATABASE_POOL_MAX: '5',
      TEMPORAL_ADDRESS: this.temporalAddress,
      TEMPORAL_TASK_QUEUE: 'herald-email',
      SMTP_URL: this.opts.gatewayUrl,
      MESSAGE_ID_DOMAIN: 'faults.herald.test',
      HOST: '127.0.0.1',
      PORT: String(this.apiPort),
      LOG_LEVEL: 'info',
      // Ports of their own: several stacks (and a person's npm start) may run at once.
      METRICS_PORT: '0',
      WORKER_METRICS_PORT: '0',
      ...FAULT_POLICY_ENV,
      ...this.opts.env,
    };
  }

  async startTemporal(): Promise<void> {
    this.temporal = await startTemporalDevServer({
      cli: this.temporalCli,
      port: this.temporalPort,
      headless: true,
      dbFile: path.join(this.dir, 'temporal.sqlite'),
      logFile: path.join(this.dir, 'temporal.log'),
    });
  }

  /** SIGKILL: the dev server's SQLite file stays as the crash left it. */
  async killTemporal(): Promise<void> {
    const child = this.temporal?.process;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    this.temporal = undefined;
  }

  async startWorker(): Promise<void> {
    this.worker = spawnLogged('worker', process.execPath, [path.join(DIST_BIN, 'worker.js')], {
      env: this.env(),
      logFile: path.join(this.dir, 'worker.log'),
    });
    await this.worker.waitForLine(/worker running/, 60_000);
  }

  async killWorker(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.worker?.kill(signal);
  }

  async startApi(): Promise<void> {
    this.api = spawnLogged('api', process.execPath, [path.join(DIST_BIN, 'api.js')], {
      env: this.env(),
      logFile: path.join(this.dir, 'api.log'),
    });
    await this.api.waitForLine(/API listening/, 60_000);
  }

  async killApi(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.api?.kill(signal);
  }

  /** A Temporal client of the test's own (for counting open workflows at the end). */
  async temporalClient(): Promise<Client> {
    if (!this.client) {
      this.connection = await Connection.connect({ address: this.temporalAddress });
      this.client = new Client({ connection: this.connection });
    }
    return this.client;
  }

  /** Kills everything this stack started; safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    const steps: Array<() => Promise<unknown>> = [
      () => this.api?.kill('SIGKILL') ?? Promise.resolve(),
      () => this.worker?.kill('SIGKILL') ?? Promise.resolve(),
      () => this.connection?.close() ?? Promise.resolve(),
      () => this.temporal?.stop() ?? Promise.resolve(),
      () => this.sql?.end({ timeout: 2 }) ?? Promise.resolve(),
    ];
    for (const step of steps) await step().catch(() => {});
    this.connection = undefined;
    this.client = undefined;
  }
}

/**
 * The setup most scenarios share: a Postfix smtp-sink (with the scenario's flags) and the whole
 * stack pointed at it, started before the file's tests and stopped after them.
 */
export function useSinkStack(slug: string, opts: { sinkFlags?: string[]; env?: Record<string, string> } = {}) {
  const scenario: { stack?: FaultStack; sink?: SinkGateway } = {};
  beforeAll(async () => {
    const dir = scenarioDir(slug);
    scenario.sink = await startSmtpSink({ port: await freePort(), dir, logFile: path.join(dir, 'smtp-sink.log'), flags: opts.sinkFlags ?? [] });
    scenario.stack = await FaultStack.start({ slug, gatewayUrl: scenario.sink.url, env: opts.env ?? {} });
  });
  afterAll(async () => {
    await scenario.stack?.stop();
    await scenario.sink?.close();
  });
  return {
    get stack(): FaultStack {
      return scenario.stack!;
    },
    get sink(): SinkGateway {
      return scenario.sink!;
    },
  };
}
