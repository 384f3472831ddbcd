import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describeRunError } from './binary-cache';

const run = promisify(execFile);

/** Where a Temporal server keeps its state: one PostgreSQL server, two databases. */
export interface TemporalPersistence {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  visibilityDatabase: string;
}

/** From a PostgreSQL URL (its path is ignored: the two database names are Temporal's). */
export function temporalPersistenceFromUrl(
  url: string,
  names: { database?: string; visibilityDatabase?: string } = {},
): TemporalPersistence {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username) || 'postgres',
    password: decodeURIComponent(u.password),
    database: names.database ?? 'temporal',
    visibilityDatabase: names.visibilityDatabase ?? 'temporal_visibility',
  };
}

// Each step is idempotent in temporal-sql-tool v1.32.1: `create` succeeds on an existing database,
// `setup-schema -v 0.0` keeps a newer version, `update-schema` applies only what is missing. So
// this runs at every start and also upgrades a database made by an older server.
const STEPS = (schema: string) => [
  ['create-database'],
  ['setup-schema', '-v', '0.0'],
  ['update-schema', '--schema-name', `postgresql/v12/${schema}`],
];

/** Creates (or brings up to date) the persistence and visibility databases of a Temporal server. */
export async function setupTemporalSchemas(sqlTool: string, db: TemporalPersistence): Promise<void> {
  const targets = [
    [db.database, 'temporal'],
    [db.visibilityDatabase, 'visibility'],
  ] as const;
  for (const [database, schema] of targets) {
    for (const step of STEPS(schema)) {
      const args = ['--plugin', 'postgres12', '--ep', db.host, '-p', String(db.port), '-u', db.user, '--db', database, ...step];
      try {
        // The password goes through the environment, not the command line (visible in `ps`).
        await run(sqlTool, args, { env: { PATH: process.env.PATH ?? '', SQL_PASSWORD: db.password }, maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        throw new Error(`temporal-sql-tool ${args.join(' ')} failed: ${describeRunError(err)}`, { cause: err });
      }
    }
  }
}
