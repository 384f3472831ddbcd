import { createTenantStore } from '../../src/db/tenants';
import { createHarness, validEmail, type Harness } from '../support/harness';

// Two scripted smtp-server gateways, primary and secondary, behind one worker: failover on
// failures that say nothing about the message, staying put on those about it, the delay a reply
// asks for, the circuit breaker, a tenant's own gateways, and the bound on copies.

let h: Harness;
const COOL_DOWN_MS = 2_000;
beforeAll(async () => {
  h = await createHarness({
    gateways: [
      { name: 'secondary', priority: 20 },
      { name: 'primary', priority: 10 },
    ],
    breaker: { failures: 3, coolDownMs: COOL_DOWN_MS },
  });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  for (const server of Object.values(h.gateways)) {
    server.reset();
    await server.start(); // listening again after a test that stopped it
  }
});

const primary = () => h.gateways.primary;
const secondary = () => h.gateways.secondary;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function submit(to: string): Promise<string> {
  const res = await h.post(validEmail({ to: [to] }));
  expect(res.status).toBe(202);
  return ((await res.json()) as any).id as string;
}

const route = (email: any) => email.attempts.map((a: any) => `${a.gateway}:${a.outcome}`);

test('the smtp gateways are configured in priority order, the first one first', async () => {
  const email = await h.waitForStatus(await submit('first@example.org'), ['sent']);
  expect(route(email)).toEqual(['primary:sent']);
  expect(primary().byMessageId(email.messageId)).toHaveLength(1);
});

test('450 greylisting "try again in 2 seconds": stays on the gateway, waits what it asked', async () => {
  primary().onRcpt = (_a, call) => (call === 0 ? { code: 450, message: '4.2.0 Greylisted, please try again in 2 seconds' } : undefined);
  const email = await h.waitForStatus(await submit('greylisted@example.org'), ['sent']);
  expect(route(email)).toEqual(['primary:transient', 'primary:sent']);
  expect(email.attempts[0]).toMatchObject({ smtpCode: 450 });
  // The policy's first interval is 200 ms: only the reply's delay explains the wait.
  const gap = Date.parse(email.attempts[1].startedAt) - Date.parse(email.attempts[0].finishedAt);
  expect(gap).toBeGreaterThanOrEqual(1_800);
  expect(secondary().rcptCalls).not.toContain('greylisted@example.org');
});

test("a delay asked for under the retry policy is honoured by Temporal (nextRetryDelay), beyond the policy's longest interval", async () => {
  primary().onRcpt = (_a, call) => (call < 2 ? { code: 451, message: '4.7.1 Rate limited, retry after 2 seconds' } : undefined);
  const email = await h.waitForStatus(await submit('slow-down@example.org'), ['sent']);
  expect(route(email)).toEqual(['primary:transient', 'primary:transient', 'primary:sent']);
  // Attempts 2 and 3 are the retry policy's (its longest interval: 1 s).
  const gap = Date.parse(email.attempts[2].startedAt) - Date.parse(email.attempts[1].finishedAt);
  expect(gap).toBeGreaterThanOrEqual(1_800);
});

test('the primary refuses connections: delivered through the secondary, each attempt with its gateway', async () => {
  await primary().stop();
  const email = await h.waitForStatus(await submit('failover@example.org'), ['sent']);
  expect(email.attempts).toEqual([
    expect.objectContaining({
      attempt: 1,
      gateway: 'primary',
      outcome: 'transient',
      errorCode: expect.stringMatching(/^(ECONNECTION|ESOCKET)$/),
    }),
    expect.objectContaining({ attempt: 2, gateway: 'secondary', outcome: 'sent', smtpCode: 250 }),
  ]);
  // The gateway's address is not the tenant's to read.
  expect(JSON.stringify(email)).not.toContain(String(primary().port));
  expect(secondary().byMessageId(email.messageId)).toHaveLength(1);
});

test('421 closes the primary session: the next attempt goes to the secondary', async () => {
  primary().onRcpt = () => ({ code: 421, message: '4.3.2 Service shutting down, closing channel' });
  const email = await h.waitForStatus(await submit('closing@example.org'), ['sent']);
  expect(route(email)).toEqual(['primary:transient', 'secondary:sent']);
  expect(email.attempts[0].smtpCode).toBe(421);
});

test('the circuit breaker: opens after repeated connection failures (skipped without trying), then a probe closes it', async () => {
  // One success first: the failures of the earlier tests are not "in a row" any more.
  await h.waitForStatus(await submit('reset@example.org'), ['sent']);
  await primary().stop();
  const failed: string[] = [];
  for (let i = 0; i < 3; i++) {
    const email = await h.waitForStatus(await submit(`breaker-${i}@example.org`), ['sent']);
    expect(route(email)).toEqual(['primary:transient', 'secondary:sent']);
    failed.push(email.id);
  }
  const openedAt = Date.now();
  // Open: the primary is skipped without an attempt (nothing to record: it was not tried).
  const skipped = await h.waitForStatus(await submit('skipped@example.org'), ['sent']);
  expect(route(skipped)).toEqual(['secondary:sent']);
  const history = await h.client.workflow.getHandle(skipped.workflowId).fetchHistory();
  expect(JSON.stringify(history.events)).toMatch(/gateway primary skipped: its circuit is open/);

  // Back, and after the cool-down one attempt probes it and closes the circuit.
  await primary().start();
  await sleep(Math.max(0, COOL_DOWN_MS - (Date.now() - openedAt)) + 200);
  const connectionsBefore = primary().connections;
  const probe = await h.waitForStatus(await submit('probe@example.org'), ['sent']);
  expect(route(probe)).toEqual(['primary:sent']);
  expect(primary().connections).toBeGreaterThan(connectionsBefore);
  const closed = await h.waitForStatus(await submit('closed@example.org'), ['sent']);
  expect(route(closed)).toEqual(['primary:sent']);
});

test("a tenant's own gateways: only those, in its order", async () => {
  const tenants = createTenantStore(h.sql);
  await tenants.update(h.tenantId, { gateways: ['secondary'] });
  try {
    const email = await h.waitForStatus(await submit('own-gateway@example.org'), ['sent']);
    expect(route(email)).toEqual(['secondary:sent']);
    expect(primary().rcptCalls).not.toContain('own-gateway@example.org');
  } finally {
    await tenants.update(h.tenantId, { gateways: [] });
  }
});

test('the bound on copies: a gateway that cuts after the final dot gets one resend, then the next one; then the email is held for an operator', async () => {
  // Both cut the connection after the final dot, before any reply (RFC 1047).
  primary().onData = () => 'cut';
  secondary().onData = () => 'cut';
  const id = await submit('cut-after-dot@example.org');
  const held = await h.waitForStatus(id, ['paused']);
  expect(route(held)).toEqual(['primary:uncertain', 'primary:uncertain', 'secondary:uncertain', 'secondary:uncertain']);
  expect(held).toMatchObject({
    statusChangedBy: 'herald',
    statusReason: expect.stringMatching(/may have been delivered; resume to send it again, or cancel it/),
  });
  // Held: nothing more is tried.
  await sleep(1_500);
  expect((await h.getEmail(id)).attempts).toHaveLength(4);

  // The operator resumes it: every gateway may take it again, from the first.
  primary().onData = undefined;
  secondary().onData = undefined;
  const resumed = await h.request(`/v1/emails/${id}/resume`, { method: 'POST' });
  expect(resumed.status).toBe(200);
  const email = await h.waitForStatus(id, ['sent']);
  expect(route(email)).toEqual(['primary:uncertain', 'primary:uncertain', 'secondary:uncertain', 'secondary:uncertain', 'primary:sent']);
  expect(primary().byMessageId(email.messageId)).toHaveLength(1);
});
