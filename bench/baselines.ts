import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { buildRawMessage, trackedMessageStream } from '../src/smtp/message';
import { createTransportRegistry } from '../src/smtp/transports';
import { REPO_ROOT } from '../test/support/paths';
import { spawnLogged } from '../test/support/process';
import { onCleanup, type Stack } from './stack';
import { Meter, type PhaseCpu } from './meter';
import { percentile } from './load';

// The two limits Herald is measured against, in the same run, on the same stack.

export interface BaselineResult {
  n: number;
  perS: number;
  wallS: number;
  p50Ms: number;
  p99Ms: number;
  /** B1, B2: latency of the client's start call (the Temporal part of Herald's API latency). */
  startP50Ms?: number;
  startP99Ms?: number;
  cpu: PhaseCpu;
}

/** Runs `count` tasks with at most `concurrency` at once. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/**
 * B0, the SMTP limit: the runner builds the same message Herald builds (MailComposer, one
 * Message-ID each) and sends it straight to the sink through Herald's own pooled transport
 * (same pool size), with as many sends at once as the worker runs activities.
 */
export async function runB0(stack: Stack, n: number, concurrency: number, poolMax: number): Promise<BaselineResult> {
  const transports = createTransportRegistry({
    gateways: [{ name: 'sink', url: stack.sink.url, priority: 0 }],
    maxConnections: poolMax,
    attemptTimeoutMs: 120_000,
  });
  const transport = transports.get('sink');
  const latencies: number[] = [];
  const meter = new Meter({ sink: stack.sink.pid, database: stack.databaseName });
  const t0 = Date.now();
  await pool(n, concurrency, async (i) => {
    const started = performance.now();
    const raw = await buildRawMessage({
      from: { address: 'bench@herald.test', name: 'Herald Bench' },
      subject: 'Herald benchmark',
      messageId: `<b0-${i}-${t0}@bench.herald>`,
      content: {
        to: [{ address: 'rcpt@example.org' }],
        cc: [],
        bcc: [],
        replyTo: [],
        text: 'A small message of the kind a transactional email service sends all day.\n'.repeat(8),
        headers: {},
      },
      attachments: [],
    });
    await transport.sendMail({ envelope: { from: 'bench@herald.test', to: ['rcpt@example.org'] }, raw: trackedMessageStream(raw).stream });
    latencies.push(performance.now() - started);
  });
  const wallS = (Date.now() - t0) / 1000;
  const cpu = meter.stop();
  transports.closeAll();
  return { n, perS: n / wallS, wallS, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), cpu };
}

const TEMPORAL_BASELINES = {
  b1: { workflowType: 'benchOneActivity', what: 'activities' },
  b2: { workflowType: 'benchNoActivity', what: 'workflows' },
} as const;

/**
 * The Temporal baselines: `concurrency` clients start the baseline's workflow back to back, n in
 * all, on the same Temporal server; a worker process with Herald's worker settings runs them.
 * B1 runs one activity (the Temporal limit of "a workflow and an activity"), B2 none (the floor
 * of "one workflow per email"). The rate is n / (last ran - first start); latency is
 * start-to-ran. The worker's CPU is reported as `b1worker` / `b2worker`.
 */
export async function runTemporalBaseline(
  stack: Stack,
  kind: keyof typeof TEMPORAL_BASELINES,
  n: number,
  concurrency: number,
): Promise<BaselineResult> {
  const { workflowType, what } = TEMPORAL_BASELINES[kind];
  const taskQueue = `${stack.taskQueue}-${kind}`;
  const worker = spawnLogged(`${kind}-worker`, process.execPath, [...stack.nodeArgs, path.join(__dirname, 'baseline-worker.js')], {
    env: { ...stack.env, BASELINE_TASK_QUEUE: taskQueue },
    cwd: REPO_ROOT,
    logFile: path.join(stack.workDir, `${kind}-worker.log`),
    ipc: true,
  });
  onCleanup(() => worker.stop());
  await worker.waitForLine(/baseline worker running/, 120_000);
  const ran = new Map<string, number>();
  let lastRan = 0;
  let notify: (() => void) | undefined;
  worker.child.on('message', (m: { ran?: Array<[string, number]> }) => {
    for (const [id, at] of m.ran ?? []) {
      ran.set(id, at);
      lastRan = Math.max(lastRan, at);
    }
    if (ran.size >= n) notify?.();
  });
  const connection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection });
  const prefix = `${kind}-${Date.now().toString(36)}`;
  const startedAt = new Map<string, number>();
  const startLatencies: number[] = [];
  try {
    const meter = new Meter({
      temporal: stack.temporalPid,
      [`${kind}worker`]: worker.pid,
      database: stack.databaseName,
      temporalDatabases: stack.temporalDatabases,
    });
    const t0 = Date.now();
    const allRan = new Promise<void>((resolve) => (notify = resolve));
    await pool(n, concurrency, async (i) => {
      const id = `${prefix}-${i}`;
      startedAt.set(id, Date.now());
      const t = performance.now();
      await client.workflow.start(workflowType, { workflowId: id, taskQueue, args: [id] });
      startLatencies.push(performance.now() - t);
    });
    const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 120_000 + n * 50).unref());
    if ((await Promise.race([allRan, timeout])) === 'timeout')
      throw new Error(`${kind.toUpperCase()}: only ${ran.size} of ${n} ${what} ran`);
    const wallS = (lastRan - t0) / 1000;
    const cpu = meter.stop();
    const latencies = [...ran].map(([id, at]) => at - (startedAt.get(id) ?? at));
    await waitForNoOpenWorkflows(client, `TaskQueue="${taskQueue}"`, 60_000);
    return {
      n,
      perS: n / wallS,
      wallS,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      startP50Ms: percentile(startLatencies, 50),
      startP99Ms: percentile(startLatencies, 99),
      cpu,
    };
  } finally {
    await connection.close();
    await worker.stop();
  }
}

/** Waits until no workflow matching `query` is running (visibility lags a little behind). */
export async function waitForNoOpenWorkflows(client: Client, query: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let open = -1;
  while (Date.now() < deadline) {
    ({ count: open } = await client.workflow.count(`${query} AND ExecutionStatus="Running"`));
    if (open === 0) return 0;
    await new Promise((r) => setTimeout(r, 500));
  }
  return open;
}
