import { findBinary, goInstall } from './binary-cache';

// The real Temporal server and its schema tool, for the production topology on one machine
// (tests, benchmarks): TEMPORAL_SERVER / TEMPORAL_SQL_TOOL, then PATH (the names the official
// images use), then Herald's cache, else `go install` into the cache (a few minutes, once).
// v1.32.1 is the newest tag that Go 1.26.8 builds. The sql tool carries the schema files
// inside it (`--schema-name postgresql/v12/...`): the binary alone can set up a database.
export const TEMPORAL_SERVER_VERSION = 'v1.32.1';

const BINARIES = {
  server: { name: 'temporal-server', envName: 'TEMPORAL_SERVER', pkg: 'go.temporal.io/server/cmd/server' },
  sqlTool: { name: 'temporal-sql-tool', envName: 'TEMPORAL_SQL_TOOL', pkg: 'go.temporal.io/server/cmd/tools/sql' },
} as const;

async function resolve(which: keyof typeof BINARIES, explicit: string | undefined, log: (msg: string) => void) {
  const { name, envName, pkg } = BINARIES[which];
  const found = findBinary(name, explicit, envName);
  if (found) return found;
  log(`herald: no ${name} found; building ${pkg}@${TEMPORAL_SERVER_VERSION} (first run only, a few minutes)...`);
  try {
    return await goInstall(`${pkg}@${TEMPORAL_SERVER_VERSION}`, name);
  } catch (err) {
    throw new Error(
      `${(err as Error).message}\nHerald needs ${name} ${TEMPORAL_SERVER_VERSION}: put it on PATH, set ${envName} to its path, ` +
        'or install Go 1.26.8 or later (https://go.dev/dl/) with access to its module proxy so Herald can build it.',
      { cause: err },
    );
  }
}

export function resolveTemporalServer(explicit?: string, log: (msg: string) => void = (m) => console.error(m)) {
  return resolve('server', explicit, log);
}

export function resolveTemporalSqlTool(explicit?: string, log: (msg: string) => void = (m) => console.error(m)) {
  return resolve('sqlTool', explicit, log);
}
