import postgres from 'postgres';

// How PostgreSQL's answer to a write is told apart: a refusal of the data itself, which the same
// write will get again however often it is retried, or anything else (an outage, a restart, a
// lock timeout), which a retry can outlive.

/**
 * SQLSTATE classes (PostgreSQL Appendix A) of a refusal of the data: 22 data exception (a NUL
 * byte, a date out of range, a value too long), 23 integrity constraint violation (a status
 * transition the table does not allow, a check), 54 program limit exceeded (a row or index entry
 * too large).
 */
export const DATA_REFUSAL_SQLSTATE_CLASSES: readonly string[] = ['22', '23', '54'];

/** Whether PostgreSQL refused the data of this statement (retrying it cannot succeed). */
export function isDataRefusal(err: unknown): err is postgres.PostgresError {
  return (
    err instanceof postgres.PostgresError && typeof err.code === 'string' && DATA_REFUSAL_SQLSTATE_CLASSES.includes(err.code.slice(0, 2))
  );
}
