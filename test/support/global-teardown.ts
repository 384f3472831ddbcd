import postgres from 'postgres';
import type { DevServer } from '../../src/dev/temporal-dev-server';

export default async function globalTeardown() {
  const server = (globalThis as Record<string, unknown>).__heraldTemporal as DevServer | undefined;
  await server?.stop();
  const dbName = process.env.HERALD_TEST_DATABASE_NAME;
  if (dbName) {
    const admin = postgres(process.env.HERALD_TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', {
      max: 1,
      onnotice: () => {},
    });
    await admin.unsafe(`drop database if exists ${dbName} with (force)`);
    await admin.end();
  }
}
