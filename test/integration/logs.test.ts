import { Writable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/logger';
import { captureRuntimeLogs, createHarness, validEmail, type Harness } from '../support/harness';

// One log format, and one request followed through it: the X-Request-Id a caller sends comes back
// in the answer and is on the API's lines, on the workflow start, and on the worker's lines of
// the activities that delivered the email, each with the email id, the tenant and the workflow id.

const lines: Array<Record<string, any>> = [];
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line));
    done();
  },
});
// Debug: the SDK logs a workflow's start at that level, through the workflow's own logger.
const logger = createLogger('debug', 'herald-test', { format: 'json', destination: sink });
let h: Harness;

beforeAll(async () => {
  captureRuntimeLogs(logger);
  h = await createHarness({ logger });
});

afterAll(async () => {
  await h?.close();
  captureRuntimeLogs(undefined);
});

test("a request id is followed from the API's lines into the worker's, with the email, tenant and workflow on every line about the email", async () => {
  const requestId = `req-${randomUUID()}`;
  const res = await h.post(validEmail(), { 'X-Request-Id': requestId });
  expect(res.status).toBe(202);
  expect(res.headers.get('x-request-id')).toBe(requestId);
  const { id } = (await res.json()) as any;
  await h.waitForStatus(id, ['sent']);

  const workflowId = `email-${id}`;
  await waitForLines((l) => l.requestId === requestId && l.msg === 'SMTP attempt');
  const ofRequest = await waitForLines((l) => l.requestId === requestId && l.msg === 'Workflow completed');
  const accepted = ofRequest.find((l) => l.msg === 'email accepted');
  expect(accepted).toMatchObject({ level: 30, name: 'herald-test', emailId: id, tenantId: h.tenantId, workflowId });
  expect(ofRequest.find((l) => l.msg === 'request')).toMatchObject({
    method: 'POST',
    route: '/v1/emails',
    status: 202,
    tenantId: h.tenantId,
    emailId: id,
    workflowId,
  });
  // The worker's line, written by the send activity through Temporal's activity logger.
  expect(ofRequest.find((l) => l.msg === 'SMTP attempt')).toMatchObject({
    component: 'temporal-activity',
    activityType: 'sendEmail',
    emailId: id,
    tenantId: h.tenantId,
    workflowId,
    outcome: 'sent',
    smtpCode: 250,
  });
  // The workflow's own lines (from the workflow logger, inside the sandbox) carry it too; the SDK's
  // "Workflow started" comes before the start's header is read, and names the email and tenant.
  expect(ofRequest.find((l) => l.msg === 'Workflow completed')).toMatchObject({
    workflowId,
    workflowType: 'deliverEmail',
    emailId: id,
    tenantId: h.tenantId,
  });
  expect(lines.find((l) => l.msg === 'Workflow started' && l.workflowId === workflowId)).toMatchObject({
    emailId: id,
    tenantId: h.tenantId,
  });
  // Every line about this email names it, its tenant and its workflow (the SDK's debug "Activity
  // started", logged before the activity's header is read, has the workflow id alone).
  const aboutEmail = lines.filter(
    (l) => (l.emailId === id || l.workflowId === workflowId || JSON.stringify(l).includes(id)) && l.msg !== 'Activity started',
  );
  expect(aboutEmail.map((l) => l.msg)).toEqual(expect.arrayContaining(['email accepted', 'request', 'SMTP attempt']));
  for (const line of aboutEmail) expect(line).toMatchObject({ emailId: id, tenantId: h.tenantId, workflowId });
  // One format: pino's JSON, a time, a level and a message on every line.
  for (const line of lines)
    expect(line).toEqual(expect.objectContaining({ level: expect.any(Number), time: expect.any(Number), msg: expect.any(String) }));
});

test('a request without an id, or with one that is not a sane token, gets a new one', async () => {
  for (const header of [{}, { 'X-Request-Id': 'has spaces and; semicolons' }, { 'X-Request-Id': 'x'.repeat(300) }] as Array<
    Record<string, string>
  >) {
    const res = await h.request('/v1/emails/00000000-0000-0000-0000-000000000000', { headers: header });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  }
  // Problems carry it too, and the access line names the route pattern, not the path.
  const res = await h.request('/v1/emails/not-an-id', { headers: { 'X-Request-Id': 'trace-42' } });
  expect(res.headers.get('x-request-id')).toBe('trace-42');
  const [line] = await waitForLines((l) => l.requestId === 'trace-42' && l.msg === 'request');
  expect(line).toMatchObject({ route: '/v1/emails/:id', status: 404 });
});

async function waitForLines(until: (l: Record<string, any>) => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!lines.some(until)) {
    if (Date.now() > deadline) throw new Error(`no such log line; got:\n${lines.map((l) => JSON.stringify(l)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const match = lines.find(until)!;
  return lines.filter((l) => l.requestId === match.requestId);
}
