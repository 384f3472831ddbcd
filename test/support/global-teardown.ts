import type { DevServer } from '../../src/dev/temporal-dev-server';
import { adminUrlFromEnv, dropDatabase } from './database';

export default async function globalTeardown() {
  const server = (globalThis as Record<string, unknown>).__heraldTemporal as DevServer | undefined;
  await server?.stop();
  const dbName = process.env.HERALD_TEST_DATABASE_NAME;
  if (dbName) await dropDatabase(adminUrlFromEnv(), dbName);
}
