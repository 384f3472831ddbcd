import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  DELIVERY_FAILED,
  NON_RETRYABLE_ERROR_TYPES,
  SEARCH_ATTRIBUTE_KEYS as SA,
  type DeliverEmailInput,
  type DeliveryPolicy,
  type EmailStatus,
  type SendOutcome,
} from '../shared';
import {
  cancelRequestedSignal,
  pauseSignal,
  pauseUpdate,
  rescheduleSignal,
  rescheduleUpdate,
  resumeSignal,
  resumeUpdate,
  sendNowSignal,
  sendNowUpdate,
  stateQuery,
  type ControlRequest,
  type DeliveryState,
  type RescheduleRequest,
} from './definitions';

const DEFAULT_ACTOR = 'temporal';

function bookkeeping() {
  // Status writes must survive a PostgreSQL outage: retried without limit, quickly.
  return proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
}

function sender(policy: DeliveryPolicy, retry: { maximumAttempts?: number; scheduleToCloseMs?: number }, summary: string) {
  return proxyActivities<Activities>({
    summary,
    startToCloseTimeout: policy.attemptTimeoutMs,
    scheduleToCloseTimeout: retry.scheduleToCloseMs,
    // An attempt under way is never abandoned: the workflow waits for its real outcome, so a
    // cancel or a pause cannot be recorded over a message the gateway has just accepted.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient: policy.backoffCoefficient,
      maximumInterval: policy.maximumIntervalMs,
      maximumAttempts: retry.maximumAttempts,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  });
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

function isNonRetryable(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && (cause.nonRetryable || NON_RETRYABLE_ERROR_TYPES.includes(cause.type ?? ''));
}

/**
 * One email, from acceptance to a terminal status. It waits for its send time (movable, and
 * releasable at once), makes a first attempt, and when that fails transiently turns `retrying`
 * and hands over to the activity's RetryPolicy until the give-up time. A pause holds the
 * schedule and the retries; a cancel ends it unless the gateway already has the message.
 * Temporal keeps the timers, the retries and this state across crashes.
 */
export async function deliverEmail(input: DeliverEmailInput): Promise<SendOutcome> {
  const { emailId, policy } = input;
  const state: DeliveryState = {
    emailId,
    status: input.sendAt ? 'scheduled' : 'queued',
    sendAt: input.sendAt,
    paused: false,
    phase: 'waiting',
  };
  const { finishUndelivered, cancelEmail, recordChange } = bookkeeping();
  let cancelRequest: ControlRequest | undefined;
  let sendNow = false;
  let firstAttemptDone = false;
  let retryStartedAt = 0;
  let pausedSince = 0;
  let pausedMs = 0;
  let attempts: CancellationScope | undefined;
  /** Control changes not yet written to PostgreSQL, written in order by the main flow. */
  const pendingEvents: Array<{ type: string; actor: string; reason?: string; sendAt?: string }> = [];

  const setStatus = (status: EmailStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: SA.status, value: status }]);
  };
  const notDone = (_req?: ControlRequest) => {
    if (state.phase === 'done') throw ApplicationFailure.create({ type: 'DeliveryFinished', message: `email is already ${state.status}` });
  };

  setHandler(stateQuery, () => state);
  setHandler(cancelRequestedSignal, (req) => {
    cancelRequest = req;
  });
  // Each control: a validator (refuses what does not apply) and the change itself. Updates run
  // the validator and report its refusal; signals run it and ignore what does not apply.
  const mustBeWaiting = () => {
    notDone();
    if (state.phase !== 'waiting' || firstAttemptDone) {
      throw ApplicationFailure.create({ type: 'AlreadySending', message: 'delivery has already started' });
    }
  };
  const controls = {
    reschedule: {
      validate(req?: RescheduleRequest) {
        mustBeWaiting();
        if (!req || typeof req.sendAt !== 'string' || Number.isNaN(Date.parse(req.sendAt))) {
          throw ApplicationFailure.create({ type: 'InvalidSendAt', message: 'sendAt must be an ISO date-time' });
        }
      },
      apply(req?: RescheduleRequest) {
        state.sendAt = req!.sendAt;
        sendNow = false;
        pendingEvents.push({ type: 'email.rescheduled', actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason, sendAt: req!.sendAt });
      },
    },
    sendNow: {
      validate: (_req?: ControlRequest) => mustBeWaiting(),
      apply(req?: ControlRequest) {
        sendNow = true;
        pendingEvents.push({ type: 'email.send_now', actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason });
      },
    },
    pause: {
      validate: (_req?: ControlRequest) => notDone(),
      apply(req?: ControlRequest) {
        if (state.paused) return;
        state.paused = true;
        pausedSince = Date.now();
        pendingEvents.push({ type: 'email.paused', actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason });
        // Stops the retries (an attempt under way still finishes and is recorded).
        attempts?.cancel();
      },
    },
    resume: {
      validate: (_req?: ControlRequest) => notDone(),
      apply(req?: ControlRequest) {
        if (!state.paused) return;
        state.paused = false;
        pausedMs += Date.now() - pausedSince;
        pendingEvents.push({ type: 'email.resumed', actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason });
      },
    },
  };
  const asSignal =
    <T>(control: { validate(req?: T): void; apply(req?: T): void }) =>
    (req?: T) => {
      try {
        control.validate(req);
      } catch {
        return; // does not apply any more; nothing to change
      }
      control.apply(req);
    };
  const asUpdate =
    <T>(control: { apply(req?: T): void }) =>
    (req?: T) => {
      control.apply(req);
      return state;
    };
  setHandler(rescheduleUpdate, asUpdate(controls.reschedule), { validator: controls.reschedule.validate });
  setHandler(sendNowUpdate, asUpdate(controls.sendNow), { validator: controls.sendNow.validate });
  setHandler(pauseUpdate, asUpdate(controls.pause), { validator: controls.pause.validate });
  setHandler(resumeUpdate, asUpdate(controls.resume), { validator: controls.resume.validate });
  setHandler(rescheduleSignal, asSignal(controls.reschedule));
  setHandler(sendNowSignal, asSignal(controls.sendNow));
  setHandler(pauseSignal, asSignal(controls.pause));
  setHandler(resumeSignal, asSignal(controls.resume));

  /** The status an unpaused, unfinished email has in the phase it is in. */
  const restingStatus = (): EmailStatus =>
    firstAttemptDone ? 'retrying' : state.sendAt && Date.parse(state.sendAt) > Date.now() && !sendNow ? 'scheduled' : 'queued';

  /** Writes control events to PostgreSQL, each with the status it leaves the email in. */
  const flushEvents = async () => {
    while (pendingEvents.length > 0) {
      const event = pendingEvents.shift()!;
      // Once delivered or failed, a late control is only written to the timeline.
      const status = state.phase === 'done' ? undefined : state.paused ? 'paused' : restingStatus();
      await recordChange(emailId, { status, sendAt: event.sendAt, actor: event.actor, event: event.type, data: { reason: event.reason ?? null } });
      if (status) setStatus(status);
    }
  };

  /** Returns once the email is due and not paused; records every control change on the way. */
  const waitUntilDue = async () => {
    for (;;) {
      await flushEvents();
      if (state.paused) {
        await condition(() => !state.paused || pendingEvents.length > 0);
        continue;
      }
      const due = firstAttemptDone || sendNow || !state.sendAt || Date.parse(state.sendAt) <= Date.now();
      if (due) return;
      await condition(() => state.paused || sendNow || pendingEvents.length > 0, Date.parse(state.sendAt!) - Date.now());
    }
  };

  const runAttempts = async (): Promise<SendOutcome> => {
    if (!firstAttemptDone) {
      state.phase = 'first-attempt';
      setStatus('sending');
      retryStartedAt = Date.now();
      try {
        return await sender(policy, { maximumAttempts: 1 }, 'SMTP: first attempt').sendEmail(emailId);
      } catch (err) {
        if (isCancellation(err) || isNonRetryable(err)) throw err;
        firstAttemptDone = true;
        state.lastFailure = failureMessage(err);
        state.phase = 'retrying';
        setStatus('retrying');
        await sleep(policy.initialIntervalMs);
      }
    }
    state.phase = 'retrying';
    setStatus('retrying');
    const remaining = policy.giveUpAfterMs - (Date.now() - retryStartedAt - pausedMs);
    state.retryBudgetMs = remaining;
    if (remaining <= 0) {
      throw ApplicationFailure.create({ type: 'GaveUp', message: `gave up after ${policy.giveUpAfterMs} ms: ${state.lastFailure}` });
    }
    return await sender(policy, { scheduleToCloseMs: remaining }, 'SMTP: attempts under the retry policy').sendEmail(emailId);
  };

  try {
    let outcome: SendOutcome;
    for (;;) {
      await waitUntilDue();
      attempts = new CancellationScope();
      try {
        outcome = await attempts.run(runAttempts);
        break;
      } catch (err) {
        // A pause cancelled the attempts scope: wait for the resume and go on where we were.
        if (isCancellation(err) && state.paused && !CancellationScope.current().consideredCancelled) {
          state.phase = 'waiting';
          continue;
        }
        throw err;
      } finally {
        attempts = undefined;
      }
    }
    state.phase = 'done';
    setStatus(outcome.status);
    await flushEvents();
    return outcome;
  } catch (err) {
    if (isCancellation(err)) {
      const actor = cancelRequest?.actor ?? DEFAULT_ACTOR;
      const status = await CancellationScope.nonCancellable(() =>
        cancelEmail(emailId, actor, cancelRequest?.reason ?? 'workflow cancelled'),
      );
      state.phase = 'done';
      setStatus(status);
      // The gateway had it before the cancel arrived: the email stays sent.
      if (status === 'sent') return { status: 'sent', accepted: [], rejected: [], alreadySent: true };
      throw err;
    }
    state.lastFailure = failureMessage(err);
    const status = await finishUndelivered(emailId, state.lastFailure);
    state.phase = 'done';
    setStatus(status);
    if (status === 'sent') return { status, accepted: [], rejected: [], alreadySent: true };
    throw ApplicationFailure.create({
      type: DELIVERY_FAILED,
      message: `email ${emailId} not delivered: ${state.lastFailure}`,
      nonRetryable: true,
    });
  }
}
