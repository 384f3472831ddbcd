import postgres from 'postgres';

// Databases of their own for the integration tests, each fault scenario and each benchmark
// run: on the machine's PostgreSQL (an admin URL) or on the fault suite's own cluster.

export const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** The machine's PostgreSQL: the first of these environment variables that is set, else DEFAULT_ADMIN_URL. */
export function adminUrlFromEnv(...names: string[]): string {
  for (const name of [...names, 'HERALD_TEST_DATABASE_ADMIN_URL']) if (process.env[name]) return process.env[name]!;
  return DEFAULT_ADMIN_URL;
}

/** The URL of database `name` on the server of `adminUrl`. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function checkName(name: string): void {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`bad database name ${name}`);
}

async function asAdmin(adminUrl: string, statements: string[]): Promise<void> {
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    for (const statement of statements) await admin.unsafe(statement);
  } finally {
    await admin.end({ timeout: 5 });
  }
}

/** Creates an empty database (dropping a leftover of the same name); returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  checkName(name);
  await asAdmin(adminUrl, [`drop database if exists ${name} with (force)`, `create database ${name}`]);
  return databaseUrl(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  checkName(name);
  await asAdmin(adminUrl, [`drop database if exists ${name} with (force)`]);
}
