import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  condition,
  defineQuery,
  defineSignal,
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


export interface CancelRequest {
  actor: string;
  reason?: string;
}

export interface DeliveryState {
  emailId: string;
  status: EmailStatus;
  sendAt?: string;
  paused: boolean;
  phase: 'waiting' | 'first-attempt' | 'retrying' | 'done';
  lastFailure?: string;
}

export const stateQuery = defineQuery<DeliveryState>('state');
/** Tells the workflow who asks for the cancellation that follows (the API sends it first). */
export const cancelRequestedSignal = defineSignal<[CancelRequest]>('cancelRequested');

function bookkeeping() {
  // Status writes must survive a PostgreSQL outage: retried without limit, quickly.
  return proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  });
}

function sender(policy: DeliveryPolicy, retry: { maximumAttempts?: number; scheduleToCloseMs?: number }) {
  return proxyActivities<Activities>({
    startToCloseTimeout: policy.attemptTimeoutMs,
    scheduleToCloseTimeout: retry.scheduleToCloseMs,
    // An attempt under way is never abandoned: the workflow waits for its real outcome, so a
    // cancel cannot record `cancelled` for a message the gateway has just accepted.
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
 * One email, from acceptance to a terminal status. The first attempt runs at once; when it
 * fails transiently, the status turns `retrying` and the activity's RetryPolicy takes over
 * until the give-up time. Temporal keeps the timers, the retries and this state across crashes.
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
  let cancelRequest: CancelRequest | undefined;
  setHandler(stateQuery, () => state);
  setHandler(cancelRequestedSignal, (req) => {
    cancelRequest = req;
  });

  const setStatus = (status: EmailStatus) => {
    state.status = status;
    upsertSearchAttributes([{ key: SA.status, value: status }]);
  };

  const { finishUndelivered, cancelEmail } = bookkeeping();
  try {
    if (state.sendAt) {
      const wait = Date.parse(state.sendAt) - Date.now();
      if (wait > 0) await sleep(wait);
    }

    const startedAt = Date.now();
    let outcome: SendOutcome;
    try {
      state.phase = 'first-attempt';
      setStatus('sending');
      outcome = await sender(policy, { maximumAttempts: 1 }).sendEmail(emailId);
    } catch (err) {
      if (isCancellation(err) || isNonRetryable(err)) throw err;
      state.lastFailure = failureMessage(err);
      state.phase = 'retrying';
      setStatus('retrying');
      await sleep(policy.initialIntervalMs);
      const remaining = policy.giveUpAfterMs - (Date.now() - startedAt);
      if (remaining <= 0) throw err;
      outcome = await sender(policy, { scheduleToCloseMs: remaining }).sendEmail(emailId);
    }
    state.phase = 'done';
    setStatus(outcome.status);
    return outcome;
  } catch (err) {
    if (isCancellation(err)) {
      const actor = cancelRequest?.actor ?? 'temporal';
      const status = await CancellationScope.nonCancellable(() =>
        cancelEmail(emailId, actor, cancelRequest?.reason ?? 'workflow cancelled'),
      );
      state.phase = 'done';
      setStatus(status);
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
