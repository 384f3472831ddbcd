import { createHarness, validEmail, type Harness } from '../support/harness';

// WORKER_WORKFLOW_DEADLOCK_TIMEOUT_MS=0 runs workflows without the SDK's watchdog, which costs a
// thread per call into the sandbox (BENCHMARKS.md). Node refuses a vm timeout of 0, so without
// patches/@temporalio+worker+1.24.0.patch every workflow task of this worker would fail.

let h: Harness;
beforeAll(async () => {
  h = await createHarness({ workflowDeadlockTimeoutMs: 0 });
});
afterAll(async () => {
  await h.close();
});

test('with the watchdog off, an email is delivered end to end, through a transient failure and its retry', async () => {
  h.smtp.onRcpt = (_address, call) => (call === 0 ? { code: 451, message: '4.3.0 Try again later' } : undefined);
  const res = await h.post(validEmail({ to: ['watchdog@example.org'] }));
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  const sent = await h.waitForStatus(id, ['sent', 'failed'], 30_000);
  expect(sent.status).toBe('sent');
  expect(sent.attempts.map((a: { outcome: string }) => a.outcome)).toEqual(['transient', 'sent']);
  expect(h.smtp.received).toHaveLength(1);
});
