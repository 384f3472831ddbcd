import { resolveTemporalCli } from '../../src/dev/temporal-cli';
import { freePort, startTemporalDevServer } from '../../src/dev/temporal-dev-server';
import { migrate } from '../../src/db/migrate';
import { adminUrlFromEnv, createDatabase } from './database';

// One real Temporal dev server (in memory) and one fresh PostgreSQL database for the whole run.
export default async function globalSetup() {
  const cli = await resolveTemporalCli(process.env.TEMPORAL_CLI);
  const server = await startTemporalDevServer({ cli, port: await freePort(), headless: true });
  (globalThis as Record<string, unknown>).__heraldTemporal = server;

  const dbName = `herald_test_${process.pid}`;
  const url = await createDatabase(adminUrlFromEnv(), dbName);
  await migrate(url);

  process.env.HERALD_TEST_TEMPORAL_ADDRESS = server.address;
  process.env.HERALD_TEST_DATABASE_URL = url;
  process.env.HERALD_TEST_DATABASE_NAME = dbName;
  process.env.HERALD_TEST_TEMPORAL_CLI = cli;
}
