import postgres from 'postgres';

export type Sql = postgres.Sql<Record<string, never>>;

/** The one pool per process. Closed by the entry point with sql.end({ timeout }). */
export function createSql(url: string, max = 10): Sql {
  return postgres(url, {
    max,
    onnotice: () => {},
    transform: { undefined: null },
  }) as unknown as Sql;
}
