import postgres from 'postgres';
import { resolveTemporalCli } from '../../src/dev/temporal-cli';
import { freePort, startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { migrate } from '../../src/db/migrate';

// One real Temporal dev server (in memory) and one fresh PostgreSQL database for the whole run.
export default async function globalSetup() {
  const cli = await resolveTemporalCli(process.env.TEMPORAL_CLI);
  const server = await startTemporalDevServer({ cli, port: await freePort(), headless: true });
  (globalThis as Record<string, unknown>).__heraldTemporal = server;

  const base = process.env.HERALD_TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const dbName = `herald_test_${process.pid}`;
  const admin = postgres(base, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.unsafe(`create database ${dbName}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${dbName}`;
  await migrate(url.toString());

  process.env.HERALD_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.HERALD_TEST_DATABASE_URL = url.toString();
  process.env.HERALD_TEST_DATABASE_NAME = dbName;
  process.env.HERALD_TEST_TEMPORAL_CLI = cli;
}
