import { randomUUID } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure, defaultPayloadConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import type { EmailChange } from '../../src/db/lifecycle';
import {
  ALREADY_SENDING,
  DELIVER_EMAIL_WORKFLOW,
  DELIVERY_FAILED,
  INVALID_SEND_AT,
  SEARCH_ATTRIBUTE_KEYS,
  SMTP_PERMANENT_FAILURE,
  SMTP_TRANSIENT_FAILURE,
  initialStatus,
  searchAttributesAtStart,
  workflowIdFor,
  type DeliverEmailInput,
  type DeliveryPolicy,
  type EmailStatus,
  type SendOutcome,
  type GatewayRef,
} from '../../src/shared';
import type { deliverEmail } from '../../src/workflows';
import {
  CONTROL_SIGNALS,
  CONTROL_UPDATES,
  cancelRequestedSignal,
  stateQuery,
  type ControlName,
  type ControlRequest,
  type DeliveryView,
  type RescheduleRequest,
} from '../../src/workflows/messages';
import { createWorkflowTestEnvironment } from './environment';

// The real deliverEmail workflow against a Temporal server, with mocked activities: plain
// functions with the names and signatures of createActivities' result, recording their calls.
// The first attempt is a local activity and is mocked the same way.

/** Short intervals; each test overrides what it is about. */
const POLICY: DeliveryPolicy = {
  initialIntervalMs: 100,
  backoffCoefficient: 1,
  maximumIntervalMs: 100,
  giveUpAfterMs: 30_000,
  attemptTimeoutMs: 10_000,
};

interface Call {
  name: keyof Activities;
  emailId: string;
  args: unknown[];
  /** Server time when the activity ran. */
  at: number;
  local: boolean;
}

type SendScript = (attempt: number) => Promise<SendOutcome> | SendOutcome;

const sent = (emailId: string): SendOutcome => ({ status: 'sent', accepted: [`${emailId}@example.org`], rejected: [], alreadySent: false });
const transient = (message = '451 4.3.0 try again later') => ApplicationFailure.create({ type: SMTP_TRANSIENT_FAILURE, message });
const permanent = (message = '550 5.1.1 no such user', flag = true) =>
  ApplicationFailure.create({ type: SMTP_PERMANENT_FAILURE, message, nonRetryable: flag || undefined });

let env: TestWorkflowEnvironment;
let bundle: WorkflowBundleWithSourceMap;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `deliver-email-${randomUUID()}`;
const calls: Call[] = [];
/** How sendEmail answers, per email (default: accepted at once). */
const scripts = new Map<string, SendScript>();
/** What endDelivery and cancelEmail answer, per email (default: failed, cancelled). */
const endings = new Map<string, EmailStatus>();

async function record(name: keyof Activities, emailId: string, args: unknown[]): Promise<void> {
  calls.push({ name, emailId, args, at: await env.currentTimeMs(), local: Context.current().info.isLocal });
}

const activities: Activities = {
  async planGateways(): Promise<GatewayRef[]> {
    return [{ name: 'default', rateLimited: false }];
  },
  async sendEmail(emailId: string): Promise<SendOutcome> {
    await record('sendEmail', emailId, [emailId]);
    const attempt = calls.filter((c) => c.name === 'sendEmail' && c.emailId === emailId).length;
    return (scripts.get(emailId) ?? (() => sent(emailId)))(attempt);
  },
  async recordChange(emailId: string, change: EmailChange): Promise<void> {
    await record('recordChange', emailId, [emailId, change]);
  },
  async cancelEmail(emailId: string, actor: string, reason: string): Promise<EmailStatus> {
    await record('cancelEmail', emailId, [emailId, actor, reason]);
    return endings.get(emailId) ?? 'cancelled';
  },
  async endDelivery(emailId: string, reason: string): Promise<EmailStatus> {
    await record('endDelivery', emailId, [emailId, reason]);
    return endings.get(emailId) ?? 'failed';
  },
};

function createWorker(queue = taskQueue): Promise<Worker> {
  return Worker.create({ connection: env.nativeConnection, taskQueue: queue, workflowBundle: bundle, activities });
}

beforeAll(async () => {
  const quiet = { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} };
  // Bundled once per file; every worker of the file reuses it.
  [env, bundle] = await Promise.all([
    createWorkflowTestEnvironment(),
    bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quiet }),
  ]);
  worker = await createWorker();
  running = worker.run();
}, 120_000);

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
});

// ---------------------------------------------------------------------------------------------

type Handle = WorkflowHandle<typeof deliverEmail>;

async function start(
  options: { sendAt?: number; policy?: Partial<DeliveryPolicy>; send?: SendScript; ending?: EmailStatus; queue?: string } = {},
) {
  const emailId = randomUUID();
  if (options.send) scripts.set(emailId, options.send);
  if (options.ending) endings.set(emailId, options.ending);
  const input: DeliverEmailInput = {
    emailId,
    tenantId: 'default',
    sendAt: options.sendAt === undefined ? undefined : new Date(options.sendAt).toISOString(),
    policy: { ...POLICY, ...options.policy },
    recipientDomains: ['example.org'],
    tags: [],
  };
  const handle: Handle = await env.client.workflow.start<typeof deliverEmail>(DELIVER_EMAIL_WORKFLOW, {
    taskQueue: options.queue ?? taskQueue,
    workflowId: workflowIdFor(emailId),
    args: [input],
    // as the delivery service starts it: findable by status before its first workflow task
    typedSearchAttributes: searchAttributesAtStart(input, initialStatus(input.sendAt)),
  });
  return { emailId, input, handle };
}

/** A control as a validated update, sent as the delivery service sends it. */
function control(handle: Handle, name: ControlName, request: ControlRequest | RescheduleRequest): Promise<DeliveryView> {
  return handle.executeUpdate<DeliveryView, [ControlRequest]>(CONTROL_UPDATES[name].name, { args: [request] });
}

const callsOf = (emailId: string, name: keyof Activities) => calls.filter((c) => c.emailId === emailId && c.name === name);
const changesOf = (emailId: string) => callsOf(emailId, 'recordChange').map((c) => c.args[1] as EmailChange);

/** Waits (polling) until `check` holds; in real time on the dev server, skipped time on the test server does not help here. */
async function until<T>(what: string, check: () => T | false | undefined | Promise<T | false | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The HeraldStatus values the workflow upserted, in order, from its history. */
async function statusUpserts(handle: Handle): Promise<string[]> {
  const { events } = await handle.fetchHistory();
  return events!
    .map((e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[SEARCH_ATTRIBUTE_KEYS.status.name])
    .filter((p) => p !== undefined)
    .map((p) => defaultPayloadConverter.fromPayload<string>(p!));
}

async function failureOf(handle: Handle): Promise<WorkflowFailedError> {
  const err = await handle.result().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return err as WorkflowFailedError;
}

// ---------------------------------------------------------------------------------------------

describe('sending', () => {
  test('without sendAt: one local first attempt, nothing written by the workflow, HeraldStatus upserted once (sent)', async () => {
    const { emailId, handle } = await start();
    expect(await handle.result()).toEqual(sent(emailId));
    expect(callsOf(emailId, 'sendEmail')).toEqual([expect.objectContaining({ local: true, args: [emailId] })]);
    expect(calls.filter((c) => c.emailId === emailId && c.name !== 'sendEmail')).toEqual([]);
    expect(await statusUpserts(handle)).toEqual(['sent']);
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'sent', phase: 'finished' });
    const described = await until('HeraldStatus=sent in visibility', async () => {
      const d = await handle.describe();
      return d.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.status) === 'sent' && d;
    });
    expect(described.typedSearchAttributes.get(SEARCH_ATTRIBUTE_KEYS.emailId)).toBe(emailId);
  });

  test('a scheduled send waits for its sendAt, then sends', async () => {
    const startedAt = await env.currentTimeMs();
    const sendAt = startedAt + 1_500;
    const { emailId, handle } = await start({ sendAt });
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'scheduled', phase: 'waiting', sendAt: new Date(sendAt).toISOString() });
    await env.sleep(700);
    expect(callsOf(emailId, 'sendEmail')).toEqual([]);
    expect((await handle.query(stateQuery)).status).toBe('scheduled');
    await handle.result();
    const [attempt] = callsOf(emailId, 'sendEmail');
    expect(attempt.at).toBeGreaterThanOrEqual(sendAt);
    expect(attempt.local).toBe(true);
    // becoming due is not a change anyone writes; only the end is shown
    expect(changesOf(emailId)).toEqual([]);
    expect(await statusUpserts(handle)).toEqual(['sent']);
  });

  test('a transient first failure turns it retrying; the retry (a regular activity) sends it', async () => {
    const { emailId, handle } = await start({ send: (n) => (n === 1 ? Promise.reject(transient()) : sent(emailId)) });
    expect(await handle.result()).toEqual(sent(emailId));
    const attempts = callsOf(emailId, 'sendEmail');
    expect(attempts.map((c) => c.local)).toEqual([true, false]);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(POLICY.initialIntervalMs);
    expect(await statusUpserts(handle)).toEqual(['retrying', 'sent']);
    expect(callsOf(emailId, 'endDelivery')).toEqual([]);
  });
});

describe('controls', () => {
  test('reschedule moves the send time: the update answers the new view and the change is recorded with its status', async () => {
    const now = await env.currentTimeMs();
    const { emailId, handle } = await start({ sendAt: now + 3_600_000 });
    const sendAt = new Date(now + 1_000).toISOString();
    const view = await control(handle, 'reschedule', { sendAt, actor: 'ops', reason: 'sooner' });
    expect(view).toMatchObject({ emailId, status: 'scheduled', sendAt, phase: 'waiting', paused: false });
    await handle.result();
    expect(changesOf(emailId)).toEqual([
      { event: 'email.rescheduled', actor: 'ops', data: { reason: 'sooner' }, sendAt, status: 'scheduled' },
    ]);
    const [attempt] = callsOf(emailId, 'sendEmail');
    expect(attempt.at).toBeGreaterThanOrEqual(Date.parse(sendAt));
    expect(attempt.at).toBeLessThan(now + 3_600_000);
    // the status did not change (scheduled to scheduled): no upsert for it
    expect(await statusUpserts(handle)).toEqual(['sent']);
  });

  test('reschedule to a later time holds it past the first one', async () => {
    const now = await env.currentTimeMs();
    // wide enough that the reschedule lands before the first time on a loaded machine
    const { emailId, handle } = await start({ sendAt: now + 1_000 });
    const later = now + 2_500;
    await control(handle, 'reschedule', { sendAt: new Date(later).toISOString() });
    await env.sleep(Math.max(0, now + 1_700 - (await env.currentTimeMs())));
    expect(callsOf(emailId, 'sendEmail')).toEqual([]);
    await handle.result();
    expect(callsOf(emailId, 'sendEmail')[0].at).toBeGreaterThanOrEqual(later);
    expect(changesOf(emailId)).toEqual([expect.objectContaining({ event: 'email.rescheduled', actor: 'temporal', status: 'scheduled' })]);
  });

  test('sendNow releases a scheduled email at once', async () => {
    const now = await env.currentTimeMs();
    const { emailId, handle } = await start({ sendAt: now + 3_600_000 });
    const view = await control(handle, 'sendNow', { actor: 'ops' });
    expect(view).toMatchObject({ status: 'queued', phase: 'waiting' });
    await handle.result();
    expect(callsOf(emailId, 'sendEmail')[0].at).toBeLessThan(now + 60_000);
    expect(changesOf(emailId)).toEqual([{ event: 'email.send_now', actor: 'ops', data: { reason: null }, status: 'queued' }]);
    expect(await statusUpserts(handle)).toEqual(['queued', 'sent']);
  });

  test('pause holds a scheduled email past its time; resume releases it', async () => {
    const now = await env.currentTimeMs();
    const sendAt = now + 1_000;
    const { emailId, handle } = await start({ sendAt });
    expect(await control(handle, 'pause', { actor: 'ops', reason: 'check' })).toMatchObject({
      status: 'paused',
      paused: true,
    });
    await env.sleep(Math.max(0, sendAt + 700 - (await env.currentTimeMs())));
    expect(await env.currentTimeMs()).toBeGreaterThan(sendAt);
    expect(callsOf(emailId, 'sendEmail')).toEqual([]);
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'paused', phase: 'waiting' });
    expect(await control(handle, 'resume', { actor: 'ops' })).toMatchObject({
      status: 'queued',
      paused: false,
    });
    await handle.result();
    expect(changesOf(emailId)).toEqual([
      { event: 'email.paused', actor: 'ops', data: { reason: 'check' }, status: 'paused' },
      { event: 'email.resumed', actor: 'ops', data: { reason: null }, status: 'queued' },
    ]);
    expect(callsOf(emailId, 'sendEmail')).toHaveLength(1);
    expect(await statusUpserts(handle)).toEqual(['paused', 'queued', 'sent']);
  });

  test('the controls also work as signals (for batches), and a pause signalled twice is written once', async () => {
    const now = await env.currentTimeMs();
    const { emailId, handle } = await start({ sendAt: now + 3_600_000 });
    await handle.signal(CONTROL_SIGNALS.pause, { actor: 'batch' });
    await handle.signal(CONTROL_SIGNALS.pause, { actor: 'batch' });
    await until('the pause is written', () => changesOf(emailId).length === 1);
    await handle.signal(CONTROL_SIGNALS.sendNow);
    await handle.signal(CONTROL_SIGNALS.resume, { actor: 'batch' });
    await handle.result();
    expect(changesOf(emailId).map((c) => c.event)).toEqual(['email.paused', 'email.send_now', 'email.resumed']);
    expect(changesOf(emailId).at(-1)?.status).toBe('queued');
  });
});

describe('retries', () => {
  test('pause during the retry backoff stops the retries; resume continues them; paused time does not count against the give-up time', async () => {
    let deliverable = false;
    const { emailId, handle } = await start({
      policy: { initialIntervalMs: 300, maximumIntervalMs: 300, giveUpAfterMs: 2_500 },
      send: () => (deliverable ? sent(emailId) : Promise.reject(transient())),
    });
    await until('a retry', () => callsOf(emailId, 'sendEmail').length >= 2);
    const view = await control(handle, 'pause', { actor: 'ops' });
    expect(view).toMatchObject({ status: 'paused', phase: 'retrying' });
    await until('the pause is written', () => changesOf(emailId).length === 1);
    const attemptsWhenPaused = callsOf(emailId, 'sendEmail').length;
    const budgetWhenPaused = (await handle.query(stateQuery)).retryBudgetMs!;
    expect(budgetWhenPaused).toBeGreaterThan(0);

    // paused longer than the whole give-up time: no attempt, and the budget does not shrink
    await env.sleep(3_000);
    expect(callsOf(emailId, 'sendEmail')).toHaveLength(attemptsWhenPaused);
    const whilePaused = await handle.query(stateQuery);
    expect(whilePaused).toMatchObject({ status: 'paused', phase: 'retrying' });
    expect(whilePaused.retryBudgetMs).toBe(budgetWhenPaused);

    deliverable = true;
    expect(await control(handle, 'resume', { actor: 'ops' })).toMatchObject({ status: 'retrying' });
    expect(await handle.result()).toEqual(sent(emailId));
    expect(callsOf(emailId, 'endDelivery')).toEqual([]);
    expect(callsOf(emailId, 'sendEmail').length).toBe(attemptsWhenPaused + 1);
    expect(changesOf(emailId).map((c) => [c.event, c.status])).toEqual([
      ['email.paused', 'paused'],
      ['email.resumed', 'retrying'],
    ]);
    expect(await statusUpserts(handle)).toEqual(['retrying', 'paused', 'retrying', 'sent']);
  });

  test('cancel during the backoff calls cancelEmail with who asked, and the workflow ends cancelled', async () => {
    const { emailId, handle } = await start({
      policy: { initialIntervalMs: 500, maximumIntervalMs: 500 },
      send: () => Promise.reject(transient()),
    });
    await until('a retry', () => callsOf(emailId, 'sendEmail').length >= 2);
    await handle.signal(cancelRequestedSignal, { actor: 'ops', reason: 'wrong recipient' });
    await handle.cancel();
    const err = await failureOf(handle);
    expect(err.cause).toBeInstanceOf(CancelledFailure);
    expect(callsOf(emailId, 'cancelEmail').map((c) => c.args)).toEqual([[emailId, 'ops', 'wrong recipient']]);
    const attempts = callsOf(emailId, 'sendEmail').length;
    await env.sleep(1_000);
    expect(callsOf(emailId, 'sendEmail')).toHaveLength(attempts);
    expect(callsOf(emailId, 'endDelivery')).toEqual([]);
    expect(await statusUpserts(handle)).toEqual(['retrying', 'cancelled']);
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'cancelled', phase: 'finished' });
  });

  test('a cancel without a request says the workflow was cancelled by the temporal CLI', async () => {
    const { emailId, handle } = await start({ sendAt: (await env.currentTimeMs()) + 3_600_000 });
    await handle.cancel();
    await failureOf(handle);
    expect(callsOf(emailId, 'cancelEmail').map((c) => c.args)).toEqual([[emailId, 'temporal', 'workflow cancelled']]);
    expect(callsOf(emailId, 'sendEmail')).toEqual([]);
  });

  test('a cancel that comes after the gateway took it leaves the email sent', async () => {
    const { emailId, handle } = await start({ send: () => Promise.reject(transient()), ending: 'sent' });
    await until('the first attempt', () => callsOf(emailId, 'sendEmail').length >= 1);
    await handle.cancel();
    expect(await handle.result()).toEqual({ status: 'sent', accepted: [], rejected: [], alreadySent: true });
    expect(callsOf(emailId, 'cancelEmail')).toHaveLength(1);
    expect((await statusUpserts(handle)).at(-1)).toBe('sent');
  });

  test('gives up after the retry window: endDelivery with a reason, and the workflow fails with DeliveryFailed', async () => {
    // The dev server fires timers and retries on about one-second ticks: a window of a few seconds.
    const giveUpAfterMs = 3_500;
    const { emailId, handle } = await start({
      policy: { initialIntervalMs: 200, maximumIntervalMs: 200, giveUpAfterMs },
      send: (n) => Promise.reject(transient(`451 4.3.0 busy (attempt ${n})`)),
    });
    const err = await failureOf(handle);
    expect(err.cause).toBeInstanceOf(ApplicationFailure);
    const failure = err.cause as ApplicationFailure;
    expect(failure.type).toBe(DELIVERY_FAILED);
    expect(failure.nonRetryable).toBe(true);
    const attempts = callsOf(emailId, 'sendEmail');
    expect(attempts.length).toBeGreaterThanOrEqual(3);
    // no attempt starts after the give-up time (with slack for a worker slow to pick a task up)
    expect(attempts.at(-1)!.at - attempts[0].at).toBeLessThanOrEqual(giveUpAfterMs + 500);
    const ends = callsOf(emailId, 'endDelivery');
    expect(ends).toHaveLength(1);
    const reason = ends[0].args[1] as string;
    // The server's timeout carries the last attempt's failure as its cause, but the TypeScript
    // SDK (1.24) drops a TimeoutFailure's cause: the workflow only learns that time ran out. The
    // last SMTP reply stays in PostgreSQL (endDelivery appends the email's last_error).
    expect(reason).toBe('activity ScheduleToClose timeout');
    expect(failure.message).toBe(`email ${emailId} not delivered: ${reason}`);
    expect(await statusUpserts(handle)).toEqual(['retrying', 'failed']);
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'failed', phase: 'finished', lastFailure: reason });
  });

  test.each([
    ['the first attempt', 1, true],
    ['the first attempt, by its type alone', 1, false],
    ['a retry', 2, true],
    ['a retry, by its type alone', 2, false],
  ])('a permanent failure (SmtpPermanentFailure) of %s is not retried', async (_what, failingAttempt, flagged) => {
    const { emailId, handle } = await start({
      send: (n) => Promise.reject(n < failingAttempt ? transient() : permanent('550 5.1.1 no such user', flagged)),
    });
    const err = await failureOf(handle);
    expect((err.cause as ApplicationFailure).type).toBe(DELIVERY_FAILED);
    expect(callsOf(emailId, 'sendEmail')).toHaveLength(failingAttempt);
    expect(callsOf(emailId, 'endDelivery').map((c) => c.args)).toEqual([[emailId, '550 5.1.1 no such user']]);
    expect(await statusUpserts(handle)).toEqual(failingAttempt === 1 ? ['failed'] : ['retrying', 'failed']);
  });
});

describe('queries, refusals and signals that do not apply', () => {
  test('the state query shows the retry regime: status, phase, last failure and the budget left', async () => {
    const { emailId, handle } = await start({
      policy: { initialIntervalMs: 1_000, maximumIntervalMs: 1_000, giveUpAfterMs: 20_000 },
      send: (n) => (n === 1 ? Promise.reject(transient('421 4.7.0 slow down')) : sent(emailId)),
    });
    const view = await until('retrying', async () => {
      const v = await handle.query(stateQuery);
      return v.phase === 'retrying' && v;
    });
    expect(view).toMatchObject({ emailId, status: 'retrying', paused: false, lastFailure: '421 4.7.0 slow down' });
    expect(view.retryBudgetMs).toBeGreaterThan(15_000);
    expect(view.retryBudgetMs).toBeLessThanOrEqual(20_000);
    await handle.result();
  });

  test('controls refused by their validator answer why and leave no trace', async () => {
    const { emailId, handle } = await start({
      policy: { initialIntervalMs: 1_000, maximumIntervalMs: 1_000 },
      send: (n) => (n === 1 ? Promise.reject(transient()) : sent(emailId)),
    });
    await until('retrying', async () => (await handle.query(stateQuery)).phase === 'retrying');
    for (const update of [control(handle, 'reschedule', { sendAt: new Date().toISOString() }), control(handle, 'sendNow', {})]) {
      const err = await update.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
      expect(((err as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe(ALREADY_SENDING);
    }
    await handle.result();
    expect(changesOf(emailId)).toEqual([]);
    const { events } = await handle.fetchHistory();
    expect(events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toEqual([]);
  });

  test('a reschedule with an invalid sendAt is refused with InvalidSendAt', async () => {
    const { emailId, handle } = await start({ sendAt: (await env.currentTimeMs()) + 3_600_000 });
    const err = await control(handle, 'reschedule', { sendAt: 'next tuesday' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(((err as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe(INVALID_SEND_AT);
    expect((await handle.query(stateQuery)).status).toBe('scheduled');
    await handle.cancel();
    await failureOf(handle);
    expect(changesOf(emailId)).toEqual([]);
  });

  test('signals that do not apply are ignored: a bad reschedule while waiting, reschedule and sendNow once sending started', async () => {
    const now = await env.currentTimeMs();
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const { emailId, handle } = await start({
      sendAt: now + 3_600_000,
      policy: { initialIntervalMs: 200, maximumIntervalMs: 200 },
      send: async (n) => {
        if (n === 1) throw transient();
        await released;
        return sent(emailId);
      },
    });
    await handle.signal(CONTROL_SIGNALS.reschedule, { sendAt: 'not a date' });
    expect(await handle.query(stateQuery)).toMatchObject({ status: 'scheduled', sendAt: new Date(now + 3_600_000).toISOString() });
    await control(handle, 'sendNow', {});
    await until('a retry under way', () => callsOf(emailId, 'sendEmail').length >= 2);
    await handle.signal(CONTROL_SIGNALS.reschedule, { sendAt: new Date(now + 7_200_000).toISOString() });
    await handle.signal(CONTROL_SIGNALS.sendNow);
    expect(await handle.query(stateQuery)).toMatchObject({
      status: 'retrying',
      phase: 'retrying',
      sendAt: new Date(now + 3_600_000).toISOString(),
    });
    release();
    expect(await handle.result()).toEqual(sent(emailId));
    expect(changesOf(emailId).map((c) => c.event)).toEqual(['email.send_now']);
  });
});

// Two ways a pause once ended a delivery instead of holding it (deliver() read state.paused when
// the attempts ended, not whether the pause had stopped them).
describe('a pause holds, never ends, a delivery', () => {
  // The pause cancels the backoff timer; the resume, handled in the same activation, clears
  // state.paused before the timer's CancelledFailure reaches deliver(): still the pause's doing.
  test('a pause and a resume handled in one activation during the backoff leave the delivery retrying', async () => {
    const queue = `held-${randomUUID()}`;
    // No cache: a worker started later takes the workflow over at once.
    const held = () =>
      Worker.create({ connection: env.nativeConnection, taskQueue: queue, workflowBundle: bundle, activities, maxCachedWorkflows: 0 });
    const { emailId, handle } = await (
      await held()
    ).runUntil(async () => {
      const started = await start({
        queue,
        policy: { initialIntervalMs: 60_000, maximumIntervalMs: 60_000 },
        send: () => Promise.reject(transient()),
      });
      await until('retrying', async () => (await started.handle.query(stateQuery)).phase === 'retrying');
      return started;
    });
    try {
      // No worker runs: both signals wait for the same workflow task.
      await handle.signal(CONTROL_SIGNALS.pause, { actor: 'ops' });
      await handle.signal(CONTROL_SIGNALS.resume, { actor: 'ops' });
      await (
        await held()
      ).runUntil(async () => {
        await until('the signals handled', () => changesOf(emailId).length >= 2 || callsOf(emailId, 'cancelEmail').length > 0);
        expect(callsOf(emailId, 'cancelEmail')).toEqual([]);
        expect(changesOf(emailId).map((c) => c.event)).toEqual(['email.paused', 'email.resumed']);
        expect(await handle.query(stateQuery)).toMatchObject({ status: 'retrying', phase: 'retrying', paused: false });
      });
    } finally {
      await handle.terminate().catch(() => undefined);
    }
  });

  // With WAIT_CANCELLATION_COMPLETED the workflow waits for the attempt under way; when it then
  // fails transiently, the server does not retry it (cancel requested) and the workflow gets an
  // ActivityFailure, not a cancellation: the email is held paused, not failed.
  test('a pause while a retry attempt is under way, which then fails transiently, holds the email paused', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let deliverable = false;
    const { emailId, handle } = await start({
      policy: { initialIntervalMs: 100, maximumIntervalMs: 100 },
      send: async (n) => {
        if (deliverable) return sent(emailId);
        if (n === 2) await gate;
        throw transient(`451 attempt ${n}`);
      },
    });
    try {
      await until('attempt 2 under way', () => callsOf(emailId, 'sendEmail').length >= 2);
      expect(await control(handle, 'pause', { actor: 'ops' })).toMatchObject({ status: 'paused' });
      release();
      await until(
        'the pause written or the delivery ended',
        () => changesOf(emailId).length > 0 || callsOf(emailId, 'endDelivery').length > 0,
      );
      expect(callsOf(emailId, 'endDelivery')).toEqual([]);
      expect(changesOf(emailId)).toEqual([expect.objectContaining({ event: 'email.paused', status: 'paused' })]);
      deliverable = true;
      await control(handle, 'resume', {});
      expect(await handle.result()).toEqual(sent(emailId));
    } finally {
      await handle.terminate().catch(() => undefined);
    }
  });
});
