import postgres from 'postgres';
import { createSql } from '../../src/db/sql';

// The patched driver (patches/postgres+3.4.9.patch): when PostgreSQL drops the connection of a
// transaction, the statements its body still sends (the next statement, the rollback, the
// commit) are rejected with CONNECTION_CLOSED and dropped, instead of throwing from a timer and
// killing the process, as the unpatched driver did to the worker when fault scenario 10
// restarted PostgreSQL. The pool then reconnects for the next query.

const url = process.env.HERALD_TEST_DATABASE_URL!;

test.each([
  ['its next statement and its rollback', true],
  ['its commit', false],
])(
  'a transaction whose connection PostgreSQL drops: what it sends next (%s) fails with CONNECTION_CLOSED and the pool serves the next query',
  async (_, nextStatement) => {
    const sql = createSql(url, 1);
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    let body: Promise<unknown> | undefined;
    try {
      // The driver rejects the transaction as soon as its connection closes; the body runs on.
      const transaction = sql.begin((tx) => {
        body = (async () => {
          const [{ pid }] = await tx<{ pid: number }[]>`select pg_backend_pid() as pid`;
          await admin`select pg_terminate_backend(${pid})`;
          await new Promise((resolve) => setTimeout(resolve, 200));
          if (nextStatement) await tx`select 1`;
        })();
        return body;
      });
      await expect(transaction).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      if (nextStatement) await expect(body).rejects.toMatchObject({ code: 'CONNECTION_CLOSED' });
      else await body;
      const [{ one }] = await sql<{ one: number }[]>`select 1 as one`;
      expect(one).toBe(1);
    } finally {
      await Promise.all([sql.end({ timeout: 1 }), admin.end({ timeout: 1 })]);
    }
  },
);
