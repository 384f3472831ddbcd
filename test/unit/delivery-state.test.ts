import { ApplicationFailure } from '@temporalio/common';
import { ALREADY_SENDING, DELIVERY_FINISHED, INVALID_SEND_AT, type DeliverEmailInput, type DeliveryPolicy } from '../../src/shared';
import { DEFAULT_ACTOR, DeliveryState, type Control } from '../../src/workflows/delivery-state';
import type { ControlName, RescheduleRequest } from '../../src/workflows/messages';

// DeliveryState without Temporal: a fake clock, no timers, no activities.

const T0 = Date.parse('2030-01-01T12:00:00Z');
const POLICY: DeliveryPolicy = {
  initialIntervalMs: 200,
  backoffCoefficient: 1.5,
  maximumIntervalMs: 1000,
  giveUpAfterMs: 60_000,
  attemptTimeoutMs: 10_000,
};

const iso = (ms: number) => new Date(ms).toISOString();

function setup(overrides: Partial<DeliverEmailInput> = {}) {
  let now = T0;
  const input: DeliverEmailInput = {
    emailId: 'e-1',
    tenantId: 'default',
    policy: POLICY,
    recipientDomains: ['example.org'],
    tags: [],
    ...overrides,
  };
  const state = new DeliveryState(input, () => now);
  return {
    state,
    advance(ms: number) {
      now += ms;
    },
    /** Drains the pending changes, as the workflow writes them. */
    taken() {
      const out = [];
      for (let c = state.takePendingChange(); c; c = state.takePendingChange()) out.push(c);
      return out;
    },
  };
}

/** Any control, given a reschedule's request (the others ignore its sendAt). */
const controlOf = (state: DeliveryState, name: ControlName) => state.controls[name] as Control<RescheduleRequest>;

/** The ApplicationFailure a validator throws (imported by delivery-state.ts from @temporalio/workflow). */
function refusal(fn: () => void): ApplicationFailure {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('the control was not refused');
}

describe('the status a person sees', () => {
  test('without sendAt: queued, due at once', () => {
    const { state } = setup();
    expect(state.status()).toBe('queued');
    expect(state.isDue()).toBe(true);
    expect(state.msUntilDue()).toBe(0);
  });

  test('with a future sendAt: scheduled until the clock reaches it, then queued', () => {
    const { state, advance } = setup({ sendAt: iso(T0 + 60_000) });
    expect(state.status()).toBe('scheduled');
    expect(state.isDue()).toBe(false);
    expect(state.msUntilDue()).toBe(60_000);
    advance(59_999);
    expect(state.status()).toBe('scheduled');
    expect(state.msUntilDue()).toBe(1);
    advance(1);
    expect(state.status()).toBe('queued');
    expect(state.isDue()).toBe(true);
    expect(state.msUntilDue()).toBe(0);
  });

  test('with a past sendAt: queued', () => {
    const { state } = setup({ sendAt: iso(T0 - 1000) });
    expect(state.status()).toBe('queued');
    expect(state.isDue()).toBe(true);
  });

  test('sendNow releases a scheduled email', () => {
    const { state } = setup({ sendAt: iso(T0 + 3_600_000) });
    state.controls.sendNow.apply();
    expect(state.status()).toBe('queued');
    expect(state.isDue()).toBe(true);
  });

  test('sending during the first attempt, retrying after it failed', () => {
    const { state } = setup();
    state.startFirstAttempt();
    expect(state.status()).toBe('sending');
    expect(state.view()).toMatchObject({ phase: 'first-attempt', status: 'sending', retryBudgetMs: undefined });
    state.firstAttemptFailed('451 4.3.0 try later');
    expect(state.status()).toBe('retrying');
    expect(state.view()).toMatchObject({
      phase: 'retrying',
      status: 'retrying',
      lastFailure: '451 4.3.0 try later',
      retryBudgetMs: 60_000,
    });
  });

  test.each([
    ['queued', (_s: DeliveryState) => {}],
    ['scheduled', (_s: DeliveryState) => {}],
    ['retrying', (s: DeliveryState) => (s.startFirstAttempt(), s.firstAttemptFailed('421 busy'))],
  ])('paused over %s', (before, prepare) => {
    const { state } = setup(before === 'scheduled' ? { sendAt: iso(T0 + 60_000) } : {});
    prepare(state);
    expect(state.status()).toBe(before);
    state.controls.pause.apply();
    expect(state.status()).toBe('paused');
    expect(state.view().paused).toBe(true);
    state.controls.resume.apply();
    expect(state.status()).toBe(before);
  });

  test('a pause during the first attempt shows sending until the attempt gives way, then paused', () => {
    const { state } = setup();
    state.startFirstAttempt();
    state.controls.pause.apply();
    // the attempt is still under way (the workflow waits for its real outcome)
    expect(state.status()).toBe('sending');
    state.interruptedByPause();
    expect(state.status()).toBe('paused');
  });

  test.each(['sent', 'failed', 'cancelled'] as const)('the final status once finished (%s), even when paused', (final) => {
    const { state } = setup({ sendAt: iso(T0 + 60_000) });
    state.controls.pause.apply();
    state.finish(final, final === 'failed' ? '550 5.1.1 no such user' : undefined);
    expect(state.status()).toBe(final);
    expect(state.view()).toMatchObject({ phase: 'finished', status: final });
    if (final === 'failed') expect(state.lastFailure).toBe('550 5.1.1 no such user');
  });

  test('view() carries what the query shows', () => {
    const sendAt = iso(T0 + 5000);
    const { state } = setup({ sendAt });
    expect(state.view()).toEqual({
      emailId: 'e-1',
      status: 'scheduled',
      sendAt,
      paused: false,
      phase: 'waiting',
      lastFailure: undefined,
      retryBudgetMs: undefined,
    });
  });
});

describe('the controls: validators', () => {
  const phases = {
    waiting: (_s: DeliveryState) => {},
    'first-attempt': (s: DeliveryState) => s.startFirstAttempt(),
    retrying: (s: DeliveryState) => (s.startFirstAttempt(), s.firstAttemptFailed('451 later')),
    finished: (s: DeliveryState) => s.finish('sent'),
  };
  const future = { sendAt: iso(T0 + 60_000) };

  test.each([
    ['reschedule', 'first-attempt', ALREADY_SENDING],
    ['reschedule', 'retrying', ALREADY_SENDING],
    ['reschedule', 'finished', DELIVERY_FINISHED],
    ['sendNow', 'first-attempt', ALREADY_SENDING],
    ['sendNow', 'retrying', ALREADY_SENDING],
    ['sendNow', 'finished', DELIVERY_FINISHED],
    ['pause', 'finished', DELIVERY_FINISHED],
    ['resume', 'finished', DELIVERY_FINISHED],
  ] as const)('%s is refused in phase %s with %s', (name, phase, type) => {
    const { state } = setup();
    phases[phase](state);
    const failure = refusal(() => controlOf(state, name).validate(future));
    expect(failure.type).toBe(type);
    expect(failure.message).toBeTruthy();
    expect(state.accepts(controlOf(state, name), future)).toBe(false);
  });

  test('a refusal once finished names the final status', () => {
    const { state } = setup();
    state.finish('cancelled');
    expect(refusal(() => state.controls.pause.validate()).message).toContain('cancelled');
  });

  test.each([
    ['reschedule', 'waiting'],
    ['sendNow', 'waiting'],
    ['pause', 'waiting'],
    ['pause', 'first-attempt'],
    ['pause', 'retrying'],
    ['resume', 'waiting'],
    ['resume', 'first-attempt'],
    ['resume', 'retrying'],
  ] as const)('%s is accepted in phase %s', (name, phase) => {
    const { state } = setup();
    phases[phase](state);
    expect(() => controlOf(state, name).validate(future)).not.toThrow();
    expect(state.accepts(controlOf(state, name), future)).toBe(true);
  });

  test('reschedule and sendNow are accepted while paused and waiting', () => {
    const { state } = setup(future);
    state.controls.pause.apply();
    expect(state.accepts(state.controls.reschedule, { sendAt: iso(T0 + 1000) })).toBe(true);
    expect(state.accepts(state.controls.sendNow)).toBe(true);
  });

  test.each([
    ['no request', undefined],
    ['no sendAt', {}],
    ['a number', { sendAt: T0 + 1000 }],
    ['not a date', { sendAt: 'tomorrow-ish' }],
    ['an empty string', { sendAt: '' }],
  ])('reschedule with %s is refused with InvalidSendAt', (_what, request) => {
    const { state } = setup(future);
    const failure = refusal(() => state.controls.reschedule.validate(request as never));
    expect(failure.type).toBe(INVALID_SEND_AT);
    expect(state.sendAt).toBe(future.sendAt);
  });

  test('a reschedule refused because delivery started says so before judging its sendAt', () => {
    const { state } = setup();
    state.startFirstAttempt();
    expect(refusal(() => state.controls.reschedule.validate({ sendAt: 'bad' })).type).toBe(ALREADY_SENDING);
  });
});

describe('the controls: effects and the changes they leave to write', () => {
  test('reschedule moves the send time and records email.rescheduled with it', () => {
    const { state, taken } = setup({ sendAt: iso(T0 + 60_000) });
    const sendAt = iso(T0 + 120_000);
    state.controls.reschedule.apply({ sendAt, actor: 'ops', reason: 'later' });
    expect(state.sendAt).toBe(sendAt);
    expect(state.msUntilDue()).toBe(120_000);
    expect(taken()).toEqual([{ event: 'email.rescheduled', actor: 'ops', data: { reason: 'later' }, sendAt, status: 'scheduled' }]);
  });

  test('a reschedule into the past makes it due (queued)', () => {
    const { state, taken } = setup({ sendAt: iso(T0 + 60_000) });
    state.controls.reschedule.apply({ sendAt: iso(T0 - 1) });
    expect(state.isDue()).toBe(true);
    expect(taken()).toEqual([expect.objectContaining({ event: 'email.rescheduled', status: 'queued' })]);
  });

  test('a reschedule after sendNow holds it again until the new time', () => {
    const { state } = setup({ sendAt: iso(T0 + 60_000) });
    state.controls.sendNow.apply();
    expect(state.isDue()).toBe(true);
    state.controls.reschedule.apply({ sendAt: iso(T0 + 30_000) });
    expect(state.isDue()).toBe(false);
    expect(state.status()).toBe('scheduled');
  });

  test('sendNow records email.send_now; the actor defaults to the temporal CLI and the reason to null', () => {
    const { state, taken } = setup({ sendAt: iso(T0 + 60_000) });
    state.controls.sendNow.apply();
    expect(DEFAULT_ACTOR).toBe('temporal');
    expect(taken()).toEqual([{ event: 'email.send_now', actor: 'temporal', data: { reason: null }, sendAt: undefined, status: 'queued' }]);
  });

  test('pause and resume record once each; a second pause or a resume when not paused records nothing', () => {
    const { state, taken } = setup();
    state.controls.resume.apply({ actor: 'ops' });
    expect(state.hasPendingChanges()).toBe(false);
    state.controls.pause.apply({ actor: 'ops', reason: 'check content' });
    expect(taken()).toEqual([
      expect.objectContaining({ event: 'email.paused', actor: 'ops', data: { reason: 'check content' }, status: 'paused' }),
    ]);
    state.controls.pause.apply({ actor: 'someone else' });
    expect(state.hasPendingChanges()).toBe(false);
    state.controls.resume.apply({ actor: 'ops' });
    expect(taken()).toEqual([expect.objectContaining({ event: 'email.resumed', actor: 'ops', status: 'queued' })]);
    expect(state.paused).toBe(false);
  });

  test('pending changes are taken oldest first, each with the status the email has when it is written', () => {
    const { state, advance } = setup({ sendAt: iso(T0 + 60_000) });
    state.controls.pause.apply({ actor: 'a' });
    expect(state.takePendingChange()).toMatchObject({ event: 'email.paused', actor: 'a', status: 'paused' });
    state.controls.reschedule.apply({ sendAt: iso(T0 + 10_000), actor: 'b' });
    expect(state.takePendingChange()).toMatchObject({ event: 'email.rescheduled', actor: 'b', status: 'paused' });
    state.controls.resume.apply({ actor: 'c' });
    expect(state.takePendingChange()).toMatchObject({ event: 'email.resumed', actor: 'c', status: 'scheduled' });
    advance(10_000);
    state.controls.sendNow.apply({ actor: 'd' });
    expect(state.takePendingChange()).toMatchObject({ event: 'email.send_now', actor: 'd', status: 'queued' });
    expect(state.takePendingChange()).toBeUndefined();
    expect(state.hasPendingChanges()).toBe(false);
  });

  test('several changes wait in order until taken', () => {
    const { state, taken } = setup({ sendAt: iso(T0 + 60_000) });
    state.controls.reschedule.apply({ sendAt: iso(T0 + 90_000) });
    state.controls.pause.apply();
    state.controls.sendNow.apply();
    expect(state.hasPendingChanges()).toBe(true);
    expect(taken().map((c) => c.event)).toEqual(['email.rescheduled', 'email.paused', 'email.send_now']);
  });

  // Each change carries the status it left, not the one of the moment it is written: a pause
  // and a resume written together say paused, then queued (written as one, PostgreSQL would see
  // e.g. queued -> retrying after a first attempt that failed before it began, which it refuses).
  test('changes taken together each carry the status they left (pause, then resume)', () => {
    const { state, taken } = setup();
    state.controls.pause.apply();
    state.controls.resume.apply();
    expect(taken().map((c) => c.status)).toEqual(['paused', 'queued']);
  });

  test('once finished, changes are taken without a status (timeline only)', () => {
    const { state } = setup();
    state.startFirstAttempt();
    state.controls.pause.apply();
    state.finish('sent');
    const change = state.takePendingChange();
    expect(change).toMatchObject({ event: 'email.paused' });
    expect(change).not.toHaveProperty('status');
  });
});

describe('the retry budget', () => {
  function retrying() {
    const ctx = setup();
    ctx.state.startFirstAttempt();
    ctx.advance(2_000);
    ctx.state.firstAttemptFailed('421 busy');
    return ctx;
  }

  test('counts from the first attempt', () => {
    const { state, advance } = retrying();
    expect(state.retryBudgetMs()).toBe(58_000);
    advance(58_000);
    expect(state.retryBudgetMs()).toBe(0);
    advance(1);
    expect(state.retryBudgetMs()).toBe(-1);
  });

  test('paused time does not count, while paused nor after', () => {
    const { state, advance } = retrying();
    advance(3_000);
    state.controls.pause.apply();
    expect(state.retryBudgetMs()).toBe(55_000);
    advance(3_600_000);
    expect(state.retryBudgetMs()).toBe(55_000);
    expect(state.view().retryBudgetMs).toBe(55_000);
    state.controls.resume.apply();
    expect(state.retryBudgetMs()).toBe(55_000);
    advance(5_000);
    expect(state.retryBudgetMs()).toBe(50_000);
  });

  test('several pauses add up', () => {
    const { state, advance } = retrying();
    for (let i = 0; i < 3; i++) {
      state.controls.pause.apply();
      advance(10_000);
      state.controls.resume.apply();
      advance(1_000);
    }
    expect(state.retryBudgetMs()).toBe(58_000 - 3_000);
  });

  test('paused time before the first attempt does not count', () => {
    const { state, advance } = setup();
    state.controls.pause.apply();
    advance(600_000);
    state.controls.resume.apply();
    advance(1_000);
    state.startFirstAttempt();
    state.firstAttemptFailed('421 busy');
    expect(state.retryBudgetMs()).toBe(60_000);
  });

  test('a pause that began during the first attempt counts only from the attempt on', () => {
    const { state, advance } = setup();
    state.startFirstAttempt();
    advance(1_000);
    state.controls.pause.apply();
    advance(20_000);
    state.controls.resume.apply();
    expect(state.retryBudgetMs()).toBe(59_000);
  });
});

describe('interruptedByPause', () => {
  test('returns a first attempt to waiting: the next attempt is a first attempt again, with a fresh budget', () => {
    const { state, advance } = setup();
    state.startFirstAttempt();
    advance(5_000);
    state.controls.pause.apply();
    state.interruptedByPause();
    expect(state.phase).toBe('waiting');
    advance(10_000);
    state.controls.resume.apply();
    expect(state.status()).toBe('queued');
    expect(state.isDue()).toBe(true);
    // controls that need waiting apply again
    expect(state.accepts(state.controls.sendNow)).toBe(true);
    state.startFirstAttempt();
    state.firstAttemptFailed('451 later');
    expect(state.retryBudgetMs()).toBe(60_000);
  });

  test('keeps the retry regime: still retrying, due at once after the resume, budget kept', () => {
    const { state, advance } = setup({ sendAt: iso(T0 + 1_000) });
    advance(1_000);
    state.startFirstAttempt();
    state.firstAttemptFailed('451 later');
    advance(4_000);
    state.controls.pause.apply();
    state.interruptedByPause();
    expect(state.phase).toBe('retrying');
    expect(state.status()).toBe('paused');
    advance(100_000);
    state.controls.resume.apply();
    expect(state.status()).toBe('retrying');
    expect(state.isDue()).toBe(true);
    expect(state.retryBudgetMs()).toBe(56_000);
    expect(state.accepts(state.controls.reschedule, { sendAt: iso(T0 + 999_000) })).toBe(false);
  });
});
