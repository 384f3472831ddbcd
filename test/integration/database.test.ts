import { randomUUID } from 'node:crypto';
import { createSql } from '../../src/db/sql';
import { ALLOWED_TRANSITIONS, EMAIL_STATUSES } from '../../src/shared';

// The status state machine is enforced by PostgreSQL itself, not only by code.

const sql = createSql(process.env.HERALD_TEST_DATABASE_URL!, 2);
afterAll(() => sql.end({ timeout: 5 }));

async function emailIn(status: string) {
  const id = randomUUID();
  await sql`insert into emails (id, status, workflow_id, message_id, from_address, subject, content)
    values (${id}, ${status}, ${'wf-' + id}, ${'<' + id + '@t>'}, 'a@example.org', 's', '{}')`;
  return id;
}

test('the database holds the same transition table as the code', async () => {
  const rows = await sql`select from_status, to_status from email_status_transitions`;
  const inDb = rows.map((r) => `${r.fromStatus}->${r.toStatus}`).sort();
  const inCode = Object.entries(ALLOWED_TRANSITIONS)
    .flatMap(([from, tos]) => tos.map((to) => `${from}->${to}`))
    .sort();
  expect(inDb).toEqual(inCode);
});

test.each([
  ['sent', 'queued'],
  ['sent', 'failed'],
  ['cancelled', 'sending'],
  ['queued', 'sent'],
])('%s -> %s is rejected by the database', async (from, to) => {
  const id = await emailIn(from);
  await expect(sql`update emails set status = ${to} where id = ${id}`).rejects.toThrow(/transition .* is not allowed/);
  const [row] = await sql`select status from emails where id = ${id}`;
  expect(row.status).toBe(from);
});

test('every allowed transition is accepted', async () => {
  for (const from of EMAIL_STATUSES) {
    for (const to of ALLOWED_TRANSITIONS[from]) {
      const id = await emailIn(from);
      await sql`update emails set status = ${to} where id = ${id}`;
    }
  }
});

test('an unknown status is rejected', async () => {
  await expect(emailIn('delivered-ish')).rejects.toThrow(/check constraint/);
});
