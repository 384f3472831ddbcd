import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;

/**
 * The one pool per process, closed by the entry point with sql.end({ timeout }). Columns come
 * back camelCased and object keys go in snake_cased (postgres.js's column transform); JSON
 * values are left as they are, since they hold callers' own keys (metadata, headers).
 */
export function createSql(url: string, max = 10): Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    transform: { column: { from: postgres.toCamel, to: postgres.fromCamel }, undefined: null },
    // After failed connects the client waits before the next one, up to 20 s by default, and
    // the queries queued on that connection wait with it, even once the server is back. A
    // database restart then holds activities past their timeout (and the retry races the
    // abandoned attempt). Retry the connection every second at most: a query fails at once
    // while the server is down (Temporal retries the activity) and runs as soon as it is up.
    backoff: (retries: number) => Math.min(0.1 * 2 ** retries, 1),
  }) as unknown as Sql;
}
