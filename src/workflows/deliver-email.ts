import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  DELIVERY_FAILED,
  GAVE_UP,
  initialStatus,
  routeFailureOf,
  SEARCH_ATTRIBUTE_KEYS,
  type DeliverEmailInput,
  type EmailStatus,
  type SendOutcome,
} from '../shared';
import { handleControls } from './control-handlers';
import { DEFAULT_ACTOR, DeliveryState } from './delivery-state';
import {
  attemptFailure,
  failureMessage,
  firstAttempt,
  gatewayPlanner,
  isNonRetryable,
  movesRoute,
  retryAttempts,
  statusWrites,
} from './profiles';

/** Thrown (and caught) inside the workflow when Herald holds the email for an operator. */
class HeldForOperator extends Error {}

/**
 * One email, from acceptance to a terminal status. It waits for its send time (movable, and
 * releasable at once), makes a first attempt, and when that fails transiently turns `retrying`
 * and hands over to the activity's RetryPolicy until the give-up time. A pause holds the
 * schedule and the retries; a cancel ends it unless the gateway already has the message.
 * Temporal keeps the timers, the retries and this state across crashes.
 */
export async function deliverEmail(input: DeliverEmailInput): Promise<SendOutcome> {
  const { emailId, policy } = input;
  const state = new DeliveryState(input);
  const writes = statusWrites();
  /** The attempts under way, cancelled by a pause. */
  let attempts: CancellationScope | undefined;
  /** Set when a pause cancelled the attempts: how they end is then the pause's doing. */
  let pausedAttempts = false;
  let shownStatus: EmailStatus = initialStatus(input.sendAt);

  /** Mirrors the status to the search attribute, once per change (each upsert costs the server). */
  function show(status: EmailStatus): void {
    if (status === shownStatus) return;
    shownStatus = status;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTE_KEYS.status, value: status }]);
  }

  // A pause cancels the attempts under way.
  handleControls(state, () => {
    if (state.paused && attempts) {
      pausedAttempts = true;
      attempts.cancel();
    }
  });

  /** Writes the controls' changes to PostgreSQL, in order, each with the status it leaves. */
  async function writePendingChanges(): Promise<void> {
    for (let change = state.takePendingChange(); change; change = state.takePendingChange()) {
      await writes.recordChange(emailId, change);
      if (change.status) show(change.status);
    }
  }

  /** Returns once the email is due and not paused; writes every control change on the way. */
  async function waitUntilDue(): Promise<void> {
    for (;;) {
      await writePendingChanges();
      if (state.paused) await condition(() => !state.paused || state.hasPendingChanges());
      else if (state.isDue()) return;
      else await condition(() => state.paused || state.isDue() || state.hasPendingChanges(), state.msUntilDue());
    }
  }

  /**
   * After a failed attempt: the route decides the next gateway and the wait (src/shared/gateways.ts).
   * A wait is cut at the give-up time (the next attempt then never starts); no gateway left holds
   * the email for an operator.
   */
  async function moveOn(err: unknown): Promise<void> {
    const failure = attemptFailure(err);
    const decision = state.route!.next(routeFailureOf(failure.type), failure.retryAfterMs);
    if ('hold' in decision) {
      state.hold(decision.hold);
      throw new HeldForOperator(decision.hold);
    }
    const wait = Math.min(decision.delayMs, Math.max(0, state.retryBudgetMs()));
    if (wait > 0) await sleep(wait);
  }

  /**
   * The first attempt at once; after a transient failure, the RetryPolicy until the give-up
   * time, through the gateway the route chose, and another route whenever a failure moves it.
   */
  async function attempt(): Promise<SendOutcome> {
    if (!state.route) state.useGateways(await gatewayPlanner().planGateways(input.tenantId));
    const route = state.route!;
    const taskQueue = workflowInfo().taskQueue;
    if (state.phase === 'waiting') {
      // `sending` is not shown: a first attempt lasts milliseconds, and each upsert costs the
      // Temporal server 2-4 ms of CPU per email (BENCHMARKS.md). Search finds it queued, then sent.
      state.startFirstAttempt();
      try {
        return await firstAttempt(policy, route.current(), taskQueue).sendEmail(emailId, route.target());
      } catch (err) {
        if (isCancellation(err) || isNonRetryable(err)) throw err;
        state.firstAttemptFailed(failureMessage(err));
        show('retrying');
        await moveOn(err);
      }
    }
    for (;;) {
      const remaining = state.retryBudgetMs();
      if (remaining <= 0) {
        throw ApplicationFailure.create({ type: GAVE_UP, message: `gave up after ${policy.giveUpAfterMs} ms: ${state.lastFailure}` });
      }
      try {
        return await retryAttempts(policy, remaining, route, taskQueue).sendEmail(emailId, route.target());
      } catch (err) {
        if (isCancellation(err) || !movesRoute(err, route)) throw err;
        state.lastFailure = failureMessage(err);
        await moveOn(err);
      }
    }
  }

  /** Waits, attempts, and goes back to waiting whenever a pause interrupts the attempts. */
  async function deliver(): Promise<SendOutcome> {
    for (;;) {
      await waitUntilDue();
      attempts = new CancellationScope();
      pausedAttempts = false;
      try {
        return await attempts.run(attempt);
      } catch (err) {
        // A pause (not a workflow cancel) stopped the attempts: the timer or attempt cancelled,
        // or an attempt under way that failed transiently (the server does not retry an
        // activity asked to cancel); or Herald held the email for an operator. Wait for the
        // resume (a pause may already be resumed).
        const held = err instanceof HeldForOperator;
        const byPause = pausedAttempts && !CancellationScope.current().consideredCancelled && (isCancellation(err) || !isNonRetryable(err));
        if (!held && !byPause) throw err;
        if (byPause && !isCancellation(err)) state.lastFailure = failureMessage(err);
        state.interruptedByPause();
      } finally {
        attempts = undefined;
      }
    }
  }

  try {
    const outcome = await deliver();
    state.finish(outcome.status);
    show(outcome.status);
    await writePendingChanges();
    return outcome;
  } catch (err) {
    const cancelled = isCancellation(err);
    const reason = cancelled ? undefined : failureMessage(err);
    // Written even though the workflow is being cancelled; the gateway may have had it first,
    // and then the email stays sent.
    const status = await CancellationScope.nonCancellable(() =>
      cancelled
        ? writes.cancelEmail(emailId, state.cancelRequest?.actor ?? DEFAULT_ACTOR, state.cancelRequest?.reason ?? 'workflow cancelled')
        : writes.endDelivery(emailId, reason!),
    );
    state.finish(status, reason);
    show(status);
    if (status === 'sent') return { status, accepted: [], rejected: [], alreadySent: true };
    if (cancelled) throw err;
    throw ApplicationFailure.create({
      type: DELIVERY_FAILED,
      message: `email ${emailId} not delivered: ${state.lastFailure}`,
      nonRetryable: true,
    });
  }
}
