import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import postgres from 'postgres';
import { resolveTemporalServer, resolveTemporalSqlTool } from '../../src/dev/temporal-server-binaries';
import { setupTemporalSchemas, temporalPersistenceFromUrl } from '../../src/dev/temporal-schema';
import { startTemporalServer, type TemporalServer } from '../../src/dev/temporal-server';
import { createDatabase } from '../support/database';
import { sleep } from '../support/process';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink';
import { HeraldStack, stackPorts } from '../support/stack';
import { account, assertNothingLost } from '../faults/lib/accounting';
import { END_MARKER } from '../faults/lib/gateways';
import { submitStream, type Submission } from '../faults/lib/load';
import { clusterFromEnv } from '../faults/lib/pg-cluster';
import { FAULT_POLICY_ENV, scenarioDir } from '../faults/lib/stack';

// The production topology for real: the Temporal server (v1.32.1, several history shards, the
// dynamic config of deploy/temporal/) on PostgreSQL, two worker processes and two API processes
// against it. Load goes through both APIs; one worker and one API are killed with SIGKILL under
// load, then the Temporal server is restarted. Every accepted email reaches a terminal status,
// copies beyond the first only where an attempt is on record as uncertain, and the recovery
// time of each fault is reported (RELIABILITY.md).

const SLUG = 'cluster-ha';
const SHARDS = 8;
const EMAILS = 400;
const INTERVAL_MS = 50; // 20 emails/s offered, through both APIs

let server: TemporalServer | undefined;
let sink: SmtpSink | undefined;
const nodes: HeraldStack[] = [];
let sql: postgres.Sql | undefined;
let connection: Connection | undefined;

afterAll(async () => {
  for (const node of nodes) await node.stop().catch(() => {});
  await connection?.close().catch(() => {});
  await server?.stop().catch(() => {});
  await sink?.close().catch(() => {});
  await sql?.end({ timeout: 2 }).catch(() => {});
});

test('two workers and two APIs on the real Temporal server: a worker, an API and the server fail under load, nothing is lost', async () => {
  const dir = scenarioDir(SLUG);
  const pg = clusterFromEnv();
  const persistence = temporalPersistenceFromUrl(pg.adminUrl, { database: 'temporal', visibilityDatabase: 'temporal_visibility' });
  const [serverBin, sqlTool] = await Promise.all([
    resolveTemporalServer(process.env.TEMPORAL_SERVER),
    resolveTemporalSqlTool(process.env.TEMPORAL_SQL_TOOL),
  ]);
  await setupTemporalSchemas(sqlTool, persistence);
  const serverLog = path.join(dir, 'temporal-server.log');
  server = await startTemporalServer({ server: serverBin, persistence, logFile: serverLog, historyShards: SHARDS });
  // 1 s between the final dot and the reply (as in fault scenario 08): the worker kill lands in
  // sends under way, inside the RFC 1047 window.
  sink = await startSmtpSink({
    dir,
    logFile: path.join(dir, 'smtp-sink.log'),
    flags: ['-W', '.:1'],
    endMarker: END_MARKER,
    commandTimeoutS: 30,
  });

  const databaseUrl = await createDatabase(pg.adminUrl, 'herald_cluster');
  for (const name of ['a', 'b']) {
    const settings = {
      dir: path.join(dir, name),
      databaseUrl,
      gatewayUrl: sink.url,
      messageIdDomain: 'faults.herald.test',
      temporalAddress: server.address,
      env: {
        NODE_ENV: 'production',
        DATABASE_POOL_MAX: '5',
        ...FAULT_POLICY_ENV,
        SMTP_ATTEMPT_TIMEOUT_MS: '6000',
        SMTP_POOL_MAX_CONNECTIONS: '20',
      },
    };
    const node = new HeraldStack(settings, await stackPorts(settings));
    await node.boot();
    nodes.push(node);
  }
  const [a, b] = nodes;
  sql = postgres(databaseUrl, { max: 2, onnotice: () => {}, idle_timeout: 5 });
  connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });

  // Each submission goes to the next API still alive (a load balancer's health check).
  const dead = new Set<HeraldStack>();
  let next = 0;
  const baseUrl = () => {
    const alive = nodes.filter((n) => !dead.has(n));
    return alive[next++ % alive.length].apiUrl;
  };

  const startedAt = Date.now();
  const faults: Record<string, number> = {};
  const inject = (async () => {
    await sleep(3_000);
    faults.workerKilled = Date.now();
    await a.worker!.kill('SIGKILL');
    await sleep(5_000);
    faults.apiKilled = Date.now();
    await a.api!.kill('SIGKILL');
    // The load balancer's health check notices a second later; meanwhile requests fail and retry.
    await sleep(1_000);
    dead.add(a);
    await sleep(5_000);
    // The Temporal server goes away and comes back on the same ports: workers and APIs reconnect.
    const ports = server!.ports;
    faults.serverStopped = Date.now();
    await server!.stop();
    await sleep(2_000);
    server = await startTemporalServer({ server: serverBin, persistence, logFile: serverLog, historyShards: SHARDS, ports });
    faults.serverBack = Date.now();
  })();
  const subs = await submitStream({
    scenario: SLUG,
    baseUrl,
    apiKey: b.apiKey,
    count: EMAILS,
    intervalMs: INTERVAL_MS,
    retryForMs: 120_000,
  });
  await inject;

  const report = await account({ sql, temporalClient: async () => client }, sink, subs, {
    slug: SLUG,
    title: `real Temporal server (${SHARDS} shards, PostgreSQL), 2 workers, 2 APIs`,
    peer: 'smtp-sink',
    fault:
      'smtp-sink -W .:1; SIGKILL worker A at 3 s; SIGKILL API A at 8 s (taken out of rotation 1 s later, clients retry on API B); Temporal server stopped at 14 s, restarted 2 s later',
    startedAt,
    recoveredAt: faults.serverBack,
    recoveryWindowMs: 120_000,
  });
  assertNothingLost(report);
  expect(report.sent).toBe(EMAILS);
  for (const email of report.emails) {
    const uncertain = email.attempts.filter((x) => x.outcome === 'uncertain').length;
    expect(email.copies - 1).toBeLessThanOrEqual(uncertain);
  }

  const recovery = await recoveryTimes(sql, subs, faults);
  process.stdout.write(`\n   recovery (s): ${JSON.stringify(recovery)}\n`);
  // Every fault was felt and recovered from within the window the accounting allowed.
  expect(recovery.workerKill).toBeGreaterThan(0);
  expect(recovery.apiKill).toBeGreaterThan(0);
  expect(recovery.serverRestart).toBeGreaterThanOrEqual(0);
});

/**
 * How long each fault held mail up:
 * - worker kill: until the last email whose attempt the kill interrupted was sent;
 * - API kill: the slowest submission in flight at the kill, retried on the other API, until its 202;
 * - server restart: from the server back until the first email sent after it, and from the stop
 *   until every email accepted before the stop was sent.
 */
async function recoveryTimes(sql: postgres.Sql, subs: Submission[], faults: Record<string, number>) {
  const rows = await sql<Array<{ created: Date; sent: Date | null }>>`select created_at as created, sent_at as sent from emails`;
  const interrupted = await sql<Array<{ sent: Date }>>`
    select e.sent_at as sent from emails e
    where exists (select 1 from delivery_attempts a where a.email_id = e.id and a.outcome = 'uncertain' and a.started_at < ${new Date(faults.workerKilled)})`;
  const sentAfter = (from: number, acceptedBefore: number) =>
    rows.filter((r) => r.created.getTime() < acceptedBefore && (r.sent?.getTime() ?? Infinity) > from).map((r) => r.sent!.getTime());
  const lastOf = (times: number[], from: number) => (times.length ? (Math.max(...times) - from) / 1000 : 0);
  const hitByApiKill = subs.filter(
    (s) => s.tries > 1 && s.acceptedAt && s.acceptedAt > faults.apiKilled && s.acceptedAt - (s.latencyMs ?? 0) <= faults.apiKilled + 1_000,
  );
  const firstSentAfterRestart = rows.map((r) => r.sent?.getTime() ?? Infinity).filter((t) => t > faults.serverBack);
  return {
    workerKill: lastOf(
      interrupted.map((r) => r.sent.getTime()),
      faults.workerKilled,
    ),
    apiKill: Math.max(0, ...hitByApiKill.map((s) => (s.acceptedAt! - faults.apiKilled) / 1000)),
    serverDown: (faults.serverBack - faults.serverStopped) / 1000,
    serverRestart: firstSentAfterRestart.length ? (Math.min(...firstSentAfterRestart) - faults.serverBack) / 1000 : 0,
    serverBacklogCleared: lastOf(sentAfter(faults.serverStopped, faults.serverStopped), faults.serverStopped),
  };
}
