import path from 'node:path';
import postgres from 'postgres';
import { createSql } from './sql';

const MIGRATIONS_DIR = path.resolve(__dirname, '../../migrations');
// Any fixed number: API and worker may boot at once and both try to migrate.
const MIGRATION_LOCK_ID = 4_242_001;

/** Creates the database named in the URL when it does not exist yet (dev and test setups). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select 1 as exists from pg_database where datname = ${name}`;
    if (!row) {
      await sql.unsafe(`create database "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created meanwhile by another process
      });
    }
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Applies the numbered migrations in migrations/ with postgres-shift, one process at a time. */
export async function migrate(url: string): Promise<void> {
  // postgres-shift is an ES module; Node >= 20.19 loads it with require().
  const shift = require('postgres-shift').default as (opts: { sql: unknown; path: string }) => Promise<void>;
  const sql = createSql(url, 2);
  const lock = await sql.reserve();
  try {
    await lock`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
    await shift({ sql, path: MIGRATIONS_DIR });
  } finally {
    await lock`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`.catch(() => {});
    lock.release();
    await sql.end({ timeout: 5 });
  }
}
