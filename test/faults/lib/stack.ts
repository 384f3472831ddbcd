import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { createDatabase } from '../../support/database';
import { HeraldStack, stackPorts, type HeraldStackOptions, type StackPorts } from '../../support/stack';
import { clusterFromEnv, type PgCluster } from './pg-cluster';
import type { Gateway } from './gateways';
import { submitStream, type StreamOptions, type Submission } from './load';

// The whole of Herald as separate processes (test/support/stack.ts), against the suite's
// PostgreSQL cluster with a database of the scenario's own, and the gateway the scenario chose.
// Each part can be killed and started again on the same port and files.

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

export class FaultStack extends HeraldStack {
  /** The test's own reading connection (accounting), small. */
  sql!: postgres.Sql;
  private client?: Client;
  private connection?: Connection;

  private constructor(
    opts: HeraldStackOptions,
    ports: StackPorts,
    readonly pg: PgCluster,
  ) {
    super(opts, ports);
  }

  static async start(opts: StackOptions): Promise<FaultStack> {
    const pg = clusterFromEnv();
    const databaseUrl = await createDatabase(pg.adminUrl, `herald_faults_${opts.slug.replace(/-/g, '_')}`);
    const settings: HeraldStackOptions = {
      dir: scenarioDir(opts.slug),
      databaseUrl,
      gatewayUrl: opts.gatewayUrl,
      messageIdDomain: 'faults.herald.test',
      temporalCli: process.env.HERALD_FAULTS_TEMPORAL_CLI!,
      env: { NODE_ENV: 'production', DATABASE_POOL_MAX: '5', ...FAULT_POLICY_ENV, ...opts.env },
    };
    const stack = new FaultStack(settings, await stackPorts(settings), pg);
    await stack.boot();
    stack.sql = postgres(databaseUrl, { max: 2, onnotice: () => {}, idle_timeout: 5 });
    return stack;
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

  async killWorker(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.worker?.kill(signal);
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

  /** Kills API and worker (no graceful shutdown to wait for), stops the rest; safe to call twice and after a failed start. */
  override async stop(): Promise<void> {
    const steps: Array<() => Promise<unknown>> = [
      () => this.killApi(),
      () => this.killWorker(),
      () => this.connection?.close() ?? Promise.resolve(),
      () => super.stop(),
      () => this.sql?.end({ timeout: 2 }) ?? Promise.resolve(),
    ];
    for (const step of steps) await step().catch(() => {});
    this.connection = undefined;
    this.client = undefined;
  }
}

/**
 * The setup every scenario shares: its gateway (started in the scenario's folder) and the whole
 * stack pointed at it, started before the file's tests and stopped after them.
 */
export function useFaultStack<G extends Gateway>(
  slug: string,
  opts: { gateway: (dir: string) => Promise<G>; env?: Record<string, string> },
) {
  const scenario: { stack?: FaultStack; gateway?: G } = {};
  beforeAll(async () => {
    scenario.gateway = await opts.gateway(scenarioDir(slug));
    scenario.stack = await FaultStack.start({ slug, gatewayUrl: scenario.gateway.url, env: opts.env ?? {} });
  });
  afterAll(async () => {
    await scenario.stack?.stop();
    await scenario.gateway?.close();
  });
  return {
    get stack(): FaultStack {
      return scenario.stack!;
    },
    get gateway(): G {
      return scenario.gateway!;
    },
    /** A stream of emails to this scenario's API, with its key (submitStream). */
    submit(stream: Omit<StreamOptions, 'scenario' | 'baseUrl' | 'apiKey'>): Promise<Submission[]> {
      return submitStream({ scenario: slug, baseUrl: () => scenario.stack!.apiUrl, apiKey: scenario.stack!.apiKey, ...stream });
    },
  };
}
