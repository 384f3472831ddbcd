import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { createActivities } from '../../src/activities';
import { createSql } from '../../src/db/sql';
import { createTransportRegistry } from '../../src/smtp/transports';
import { createBreakers } from '../../src/smtp/breaker';
import { STATUS_WRITE_REFUSED, workflowIdFor } from '../../src/shared';
import { createHarness, validEmail, type Harness } from '../support/harness';

// No control can wedge an email. Whatever sends a control (the API, the temporal CLI, a batch
// signal), a reason or date PostgreSQL cannot store is refused before the workflow accepts it;
// and a status write PostgreSQL refuses anyway fails once and ends the delivery visibly, while
// an outage is still retried.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

async function scheduled(to: string): Promise<string> {
  const res = await h.post(validEmail({ to: [to], sendAt: inAnHour() }));
  expect(res.status).toBe(202);
  return ((await res.json()) as any).id;
}

const handle = (id: string) => h.client.workflow.getHandle(workflowIdFor(id));

test.each([
  ['pause with a NUL in its reason', 'pause', { actor: 'ops', reason: 'hold\u0000' }],
  ['pause with a lone surrogate in its reason', 'pause', { actor: 'ops', reason: 'hold\ud800' }],
  ['pause with a line break in its actor', 'pause', { actor: 'ops\r\nx', reason: 'hold' }],
  ['pause with a reason of 10 000 characters', 'pause', { reason: 'r'.repeat(10_000) }],
  ['reschedule to year 0000', 'reschedule', { sendAt: '0000-01-01T00:00:00Z' }],
  ['reschedule to year 9999', 'reschedule', { sendAt: '9999-12-31T23:59:59Z' }],
  ['reschedule with a NUL in its reason', 'reschedule', { sendAt: inAnHour(), reason: '\u0000' }],
  ['send-now with a NUL in its reason', 'sendNow', { reason: '\u0000' }],
])('the temporal CLI path: %s is refused by the update, and the email still moves', async (_what, name, request) => {
  const id = await scheduled(`cli-${name}@example.org`);
  await expect(handle(id).executeUpdate(name, { args: [request] })).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
  // The same as a signal (which cannot answer) is ignored.
  await handle(id).signal(name, request);
  expect(await handle(id).query('state')).toMatchObject({ status: 'scheduled', paused: false });
  await handle(id).executeUpdate('sendNow', { args: [{ actor: 'ops' }] });
  const email = await h.waitForStatus(id, ['sent']);
  expect(email.statusChangedBy).not.toMatch(/\u0000/);
});

test('a cancel whose request text cannot be stored still cancels, recorded without that text', async () => {
  const id = await scheduled('cancel-nul@example.org');
  await handle(id).signal('cancelRequested', { actor: 'ops', reason: 'bye\u0000' });
  await handle(id).cancel();
  const email = await h.waitForStatus(id, ['cancelled']);
  expect(email.statusReason).toBe('workflow cancelled');
});

test('a status write PostgreSQL refuses fails once, and the delivery ends visibly instead of looping', async () => {
  const id = await scheduled('refused-write@example.org');
  // Behind the workflow's back the row becomes terminal: the pause's status write (paused) is a
  // transition the database refuses (SQLSTATE 23514), however often it is tried.
  await h.sql`update emails set status = 'cancelled' where id = ${id}`;
  // The workflow accepts the pause (it answers at once, as the API's 200 did before this fix)...
  expect(await handle(id).executeUpdate('pause', { args: [{ actor: 'ops' }] })).toMatchObject({ paused: true });
  // ...and its write is refused once, not retried forever: the run fails, saying why.
  const failure = await handle(id)
    .result()
    .then(
      () => undefined,
      (err) => err,
    );
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  expect(String(failure.cause?.message)).toContain('SQLSTATE 23514');
  const history = await handle(id).fetchHistory();
  const refusedWrites = history.events!.filter(
    (e) => e.activityTaskFailedEventAttributes?.failure?.applicationFailureInfo?.type === STATUS_WRITE_REFUSED,
  );
  expect(refusedWrites).toHaveLength(1);
  expect((await handle(id).describe()).status.name).toBe('FAILED');
});

/** One gateway (the harness's scripted server) and its breaker, as the worker wires them. */
const gatewayDeps = () => ({
  transports: createTransportRegistry({
    gateways: [{ name: 'default', url: h.smtp.url, priority: 0 }],
    maxConnections: 1,
    attemptTimeoutMs: 1000,
  }),
  breakers: createBreakers({ failures: 5, coolDownMs: 30_000 }),
});

describe('the status-write activities', () => {
  test('a refusal of the data is non-retryable StatusWriteRefused', async () => {
    const id = await scheduled('activity-refusal@example.org');
    const activities = createActivities({ sql: h.sql, ...gatewayDeps() });
    const refusal = await activities
      .recordChange(id, { event: 'email.rescheduled', actor: 'ops', sendAt: '0000-01-01T00:00:00Z', status: 'scheduled' })
      .then(
        () => undefined,
        (err) => err,
      );
    expect(refusal).toBeInstanceOf(ApplicationFailure);
    expect(refusal).toMatchObject({ type: STATUS_WRITE_REFUSED, nonRetryable: true });
    expect(refusal.message).toContain('SQLSTATE 22008');
    const nul = await activities.cancelEmail(id, 'ops', 'bye\u0000').then(
      () => undefined,
      (err) => err,
    );
    expect(nul).toMatchObject({ type: STATUS_WRITE_REFUSED, nonRetryable: true });
    await h.request(`/v1/emails/${id}/cancel`, { method: 'POST' });
  });

  test('an outage is an ordinary (retried) error', async () => {
    const down = createSql('postgres://postgres@127.0.0.1:1/herald', 1);
    try {
      const activities = createActivities({ sql: down, ...gatewayDeps() });
      const err = await activities.recordChange('00000000-0000-4000-8000-000000000000', { event: 'email.paused', actor: 'ops' }).then(
        () => undefined,
        (e) => e,
      );
      expect(err).toMatchObject({ code: 'ECONNREFUSED' });
      expect(err instanceof ApplicationFailure).toBe(false);
    } finally {
      await down.end({ timeout: 1 });
    }
  });
});
