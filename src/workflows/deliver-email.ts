import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  TimeoutFailure,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  DELIVERY_FAILED,
  NON_RETRYABLE_ERROR_TYPES,
  SEARCH_ATTRIBUTE_KEYS as SA,
  attemptTimeouts,
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

/** The attempts after the first: regular activities under the RetryPolicy, until the give-up time. */
function sender(policy: DeliveryPolicy, scheduleToCloseMs: number, summary: string) {
  const timeouts = attemptTimeouts(policy);
  return proxyActivities<Activities>({
    summary,
    startToCloseTimeout: timeouts.startToCloseMs,
    heartbeatTimeout: timeouts.heartbeatMs,
    scheduleToCloseTimeout: scheduleToCloseMs,
    // An attempt under way is never abandoned: the workflow waits for its real outcome, so a
    // cancel or a pause cannot be recorded over a message the gateway has just accepted.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: policy.initialIntervalMs,
      backoffCoefficient: policy.backoffCoefficient,
      maximumInterval: policy.maximumIntervalMs,
      nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES,
    },
  });
}

/**
 * The first attempt runs as a local activity: in the workflow task itself, without an activity
 * task round trip through the server. It costs the Temporal server 40 % less CPU per email
 * (BENCHMARKS.md). The retries are regular activities under the RetryPolicy.
 */
function firstAttemptSender(policy: DeliveryPolicy) {
  return proxyLocalActivities<Activities>({
    summary: 'SMTP: first attempt',
    startToCloseTimeout: attemptTimeouts(policy).startToCloseMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  });
}

/** The most telling message: the last SMTP reply rather than "activity timed out". */
function failureMessage(err: unknown): string {
  let deepest: unknown = err;
  while (deepest instanceof Error && deepest.cause instanceof Error) deepest = deepest.cause;
  if (deepest instanceof TimeoutFailure && err instanceof ActivityFailure && err.cause) return err.cause.message;
  return deepest instanceof Error ? deepest.message : String(deepest);
}

function isNonRetryable(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && (cause.nonRetryable || NON_RETRYABLE_ERROR_TYPES.includes(cause.type ?? ''));
}

type Control<T> = { validate(req?: T): void; apply(req?: T): void };

interface PendingEvent {
  type: string;
  actor: string;
  reason?: string;
  sendAt?: string;
}

/**
 * The state and the steps of one delivery. deliverEmail wires it to Temporal: its controls
 * become updates and signals, its state the `state` query.
 */
class Delivery {
  readonly state: DeliveryState;
  cancelRequest: ControlRequest | undefined;
  private sendNow = false;
  private firstAttemptDone = false;
  private retryStartedAt = 0;
  private pausedSince = 0;
  private pausedMs = 0;
  /** The running attempts, cancelled by a pause. */
  private attempts: CancellationScope | undefined;
  /** Control changes not yet written to PostgreSQL, written in order by the main flow. */
  private readonly pendingEvents: PendingEvent[] = [];
  private readonly bookkeeping = bookkeeping();

  constructor(private readonly input: DeliverEmailInput) {
    this.state = {
      emailId: input.emailId,
      status: input.sendAt ? 'scheduled' : 'queued',
      sendAt: input.sendAt,
      paused: false,
      phase: 'waiting',
    };
  }

  /** The state as a person should see it: a control's effect shows at once, before it is written. */
  view(): DeliveryState {
    if (this.state.phase === 'done' || this.state.phase === 'first-attempt') return this.state;
    return { ...this.state, status: this.state.paused ? 'paused' : this.restingStatus() };
  }

  setStatus(status: EmailStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: SA.status, value: status }]);
  }

  // Controls: a validator that refuses what does not apply, and the change itself.

  private notDone(): void {
    if (this.state.phase === 'done') {
      throw ApplicationFailure.create({ type: 'DeliveryFinished', message: `email is already ${this.state.status}` });
    }
  }

  private mustBeWaiting(): void {
    this.notDone();
    if (this.state.phase !== 'waiting' || this.firstAttemptDone) {
      throw ApplicationFailure.create({ type: 'AlreadySending', message: 'delivery has already started' });
    }
  }

  private record(type: string, req: ControlRequest | undefined, sendAt?: string): void {
    this.pendingEvents.push({ type, actor: req?.actor ?? DEFAULT_ACTOR, reason: req?.reason, sendAt });
  }

  readonly reschedule: Control<RescheduleRequest> = {
    validate: (req) => {
      this.mustBeWaiting();
      if (!req || typeof req.sendAt !== 'string' || Number.isNaN(Date.parse(req.sendAt))) {
        throw ApplicationFailure.create({ type: 'InvalidSendAt', message: 'sendAt must be an ISO date-time' });
      }
    },
    apply: (req) => {
      this.state.sendAt = req!.sendAt;
      this.sendNow = false;
      this.record('email.rescheduled', req, req!.sendAt);
    },
  };

  readonly releaseNow: Control<ControlRequest> = {
    validate: () => this.mustBeWaiting(),
    apply: (req) => {
      this.sendNow = true;
      this.record('email.send_now', req);
    },
  };

  readonly pause: Control<ControlRequest> = {
    validate: () => this.notDone(),
    apply: (req) => {
      if (this.state.paused) return;
      this.state.paused = true;
      this.pausedSince = Date.now();
      this.record('email.paused', req);
      // Stops the retries (an attempt under way still finishes and is recorded).
      this.attempts?.cancel();
    },
  };

  readonly resume: Control<ControlRequest> = {
    validate: () => this.notDone(),
    apply: (req) => {
      if (!this.state.paused) return;
      this.state.paused = false;
      this.pausedMs += Date.now() - this.pausedSince;
      this.record('email.resumed', req);
    },
  };

  /** The status an unpaused, unfinished email has in the phase it is in. */
  private restingStatus(): EmailStatus {
    if (this.firstAttemptDone) return 'retrying';
    return this.state.sendAt && Date.parse(this.state.sendAt) > Date.now() && !this.sendNow ? 'scheduled' : 'queued';
  }

  /** Writes control events to PostgreSQL, each with the status it leaves the email in. */
  async flushEvents(): Promise<void> {
    while (this.pendingEvents.length > 0) {
      const event = this.pendingEvents.shift()!;
      // Once delivered or failed, a late control is only written to the timeline.
      const status = this.state.phase === 'done' ? undefined : this.state.paused ? 'paused' : this.restingStatus();
      await this.bookkeeping.recordChange(this.input.emailId, {
        status,
        sendAt: event.sendAt,
        actor: event.actor,
        event: event.type,
        data: { reason: event.reason ?? null },
      });
      if (status) this.setStatus(status);
    }
  }

  /** Returns once the email is due and not paused; records every control change on the way. */
  private async waitUntilDue(): Promise<void> {
    for (;;) {
      await this.flushEvents();
      if (this.state.paused) {
        await condition(() => !this.state.paused || this.pendingEvents.length > 0);
        continue;
      }
      const { sendAt } = this.state;
      if (this.firstAttemptDone || this.sendNow || !sendAt || Date.parse(sendAt) <= Date.now()) return;
      await condition(() => this.state.paused || this.sendNow || this.pendingEvents.length > 0, Date.parse(sendAt) - Date.now());
    }
  }

  /** The first attempt at once; after a transient failure, the RetryPolicy until the give-up time. */
  private async runAttempts(): Promise<SendOutcome> {
    const { emailId, policy } = this.input;
    if (!this.firstAttemptDone) {
      this.state.phase = 'first-attempt';
      // Not upserted: a first attempt lasts milliseconds, and each upsert costs the Temporal
      // server 2-4 ms of CPU per email (BENCHMARKS.md). Search finds it queued, then sent.
      this.state.status = 'sending';
      this.retryStartedAt = Date.now();
      try {
        return await firstAttemptSender(policy).sendEmail(emailId);
      } catch (err) {
        if (isCancellation(err) || isNonRetryable(err)) throw err;
        this.firstAttemptDone = true;
        this.state.lastFailure = failureMessage(err);
        this.state.phase = 'retrying';
        this.setStatus('retrying');
        await sleep(policy.initialIntervalMs);
      }
    }
    this.state.phase = 'retrying';
    this.setStatus('retrying');
    // Paused time does not count against the give-up time.
    const remaining = policy.giveUpAfterMs - (Date.now() - this.retryStartedAt - this.pausedMs);
    this.state.retryBudgetMs = remaining;
    if (remaining <= 0) {
      throw ApplicationFailure.create({ type: 'GaveUp', message: `gave up after ${policy.giveUpAfterMs} ms: ${this.state.lastFailure}` });
    }
    return await sender(policy, remaining, 'SMTP: attempts under the retry policy').sendEmail(emailId);
  }

  /** Waits, attempts, and goes back to waiting whenever a pause interrupts the attempts. */
  async deliver(): Promise<SendOutcome> {
    for (;;) {
      await this.waitUntilDue();
      this.attempts = new CancellationScope();
      try {
        return await this.attempts.run(() => this.runAttempts());
      } catch (err) {
        // A pause (not a workflow cancel) cancelled the attempts: wait for the resume.
        if (isCancellation(err) && this.state.paused && !CancellationScope.current().consideredCancelled) {
          this.state.phase = 'waiting';
          continue;
        }
        throw err;
      } finally {
        this.attempts = undefined;
      }
    }
  }

  /** Records a cancellation unless the gateway already has the message; returns the status. */
  async cancelled(): Promise<EmailStatus> {
    const req = this.cancelRequest;
    const status = await CancellationScope.nonCancellable(() =>
      this.bookkeeping.cancelEmail(this.input.emailId, req?.actor ?? DEFAULT_ACTOR, req?.reason ?? 'workflow cancelled'),
    );
    this.state.phase = 'done';
    this.setStatus(status);
    return status;
  }

  /** Records that delivery failed for good (or partly, when some recipients were accepted). */
  async undelivered(err: unknown): Promise<EmailStatus> {
    this.state.lastFailure = failureMessage(err);
    const status = await this.bookkeeping.finishUndelivered(this.input.emailId, this.state.lastFailure);
    this.state.phase = 'done';
    this.setStatus(status);
    return status;
  }
}

function asUpdate<T>(delivery: Delivery, control: Control<T>) {
  return (req?: T) => {
    control.apply(req);
    return delivery.view();
  };
}

/** A signal cannot answer: one that does not apply any more is ignored. */
function asSignal<T>(control: Control<T>) {
  return (req?: T) => {
    try {
      control.validate(req);
    } catch {
      return;
    }
    control.apply(req);
  };
}

/**
 * One email, from acceptance to a terminal status. It waits for its send time (movable, and
 * releasable at once), makes a first attempt, and when that fails transiently turns `retrying`
 * and hands over to the activity's RetryPolicy until the give-up time. A pause holds the
 * schedule and the retries; a cancel ends it unless the gateway already has the message.
 * Temporal keeps the timers, the retries and this state across crashes.
 */
export async function deliverEmail(input: DeliverEmailInput): Promise<SendOutcome> {
  const delivery = new Delivery(input);
  setHandler(stateQuery, () => delivery.view());
  setHandler(cancelRequestedSignal, (req) => {
    delivery.cancelRequest = req;
  });
  // The same controls as validated updates (they answer) and as signals (they can be batched).
  setHandler(rescheduleUpdate, asUpdate(delivery, delivery.reschedule), { validator: delivery.reschedule.validate });
  setHandler(sendNowUpdate, asUpdate(delivery, delivery.releaseNow), { validator: delivery.releaseNow.validate });
  setHandler(pauseUpdate, asUpdate(delivery, delivery.pause), { validator: delivery.pause.validate });
  setHandler(resumeUpdate, asUpdate(delivery, delivery.resume), { validator: delivery.resume.validate });
  setHandler(rescheduleSignal, asSignal(delivery.reschedule));
  setHandler(sendNowSignal, asSignal(delivery.releaseNow));
  setHandler(pauseSignal, asSignal(delivery.pause));
  setHandler(resumeSignal, asSignal(delivery.resume));

  let outcome: SendOutcome;
  try {
    outcome = await delivery.deliver();
  } catch (err) {
    const status = isCancellation(err) ? await delivery.cancelled() : await delivery.undelivered(err);
    // The gateway had it before the cancel or the give-up: the email stays sent.
    if (status === 'sent') return { status, accepted: [], rejected: [], alreadySent: true };
    if (isCancellation(err)) throw err;
    throw ApplicationFailure.create({
      type: DELIVERY_FAILED,
      message: `email ${input.emailId} not delivered: ${delivery.state.lastFailure}`,
      nonRetryable: true,
    });
  }
  delivery.state.phase = 'done';
  delivery.setStatus(outcome.status);
  await delivery.flushEvents();
  return outcome;
}
