import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import postgres from 'postgres';
import { resolveTemporalServer, resolveTemporalSqlTool } from '../../src/dev/temporal-server-binaries';
import { setupTemporalSchemas, temporalPersistenceFromUrl } from '../../src/dev/temporal-schema';
import { startTemporalServer, type TemporalServer } from '../../src/dev/temporal-server';
import { SEARCH_ATTRIBUTE_KEYS } from '../../src/shared';
import { proceed } from './fixtures/wait-then-greet';

// The production topology for real: temporal-server v1.32.1 on the machine's PostgreSQL, its
// schemas set up by temporal-sql-tool, Herald's search attributes registered. A workflow
// started before a restart of the server finishes after it.

jest.setTimeout(120_000);
try {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
} catch {
  // already installed in this process
}

const adminUrl = process.env.HERALD_TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const prefix = `herald_it_${process.pid}`;
const persistence = temporalPersistenceFromUrl(adminUrl, {
  database: `${prefix}_temporal`,
  visibilityDatabase: `${prefix}_temporal_visibility`,
});
const logFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'herald-temporal-server-')), 'temporal-server.log');
let server: TemporalServer | undefined;

async function dropDatabases() {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  for (const db of [persistence.database, persistence.visibilityDatabase]) await admin.unsafe(`drop database if exists ${db} with (force)`);
  await admin.end();
}

afterAll(async () => {
  await server?.stop();
  await dropDatabases();
});

test('schemas, start, a workflow across a server restart, stop', async () => {
  const [serverBin, sqlTool] = await Promise.all([
    resolveTemporalServer(process.env.TEMPORAL_SERVER),
    resolveTemporalSqlTool(process.env.TEMPORAL_SQL_TOOL),
  ]);
  await dropDatabases();

  let t = Date.now();
  await setupTemporalSchemas(sqlTool, persistence);
  await setupTemporalSchemas(sqlTool, persistence); // a second run on an existing schema is a no-op
  console.log(`schema setup, twice: ${Date.now() - t} ms`);

  t = Date.now();
  server = await startTemporalServer({ server: serverBin, persistence, logFile, historyShards: 4 });
  console.log(`server start (namespace and search attributes included): ${Date.now() - t} ms; log ${logFile}`);

  const taskQueue = 'temporal-server-test';
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    taskQueue,
    workflowsPath: require.resolve('./fixtures/wait-then-greet'),
    activities: { greet: async (name: string) => `hello ${name}` },
  });
  const workerDone = worker.run();
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection });
    const handle = await client.workflow.start('waitThenGreet', {
      taskQueue,
      workflowId: `wait-then-greet-${process.pid}`,
      args: ['herald'],
      typedSearchAttributes: [{ key: SEARCH_ATTRIBUTE_KEYS.status, value: 'queued' }],
    });
    await waitFor(async () => (await client.workflow.count(`HeraldStatus = "queued" AND WorkflowId = "${handle.workflowId}"`)).count === 1);

    // Same ports again, so that the worker and the client reconnect on their own.
    const ports = server.ports;
    t = Date.now();
    await server.stop();
    console.log(`server stop: ${Date.now() - t} ms`);
    t = Date.now();
    server = await startTemporalServer({ server: serverBin, persistence, logFile, historyShards: 4, ports });
    console.log(`server restart: ${Date.now() - t} ms`);

    await handle.signal(proceed);
    expect(await handle.result()).toBe('hello herald');
  } finally {
    await connection.close();
    worker.shutdown();
    await workerDone;
  }
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}
