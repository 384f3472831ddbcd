import { ActivityCancellationType, ActivityFailure, ApplicationFailure, proxyActivities, proxyLocalActivities, TimeoutFailure } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { attemptTimeouts, NON_RETRYABLE_ERROR_TYPES, STATUS_WRITE_REFUSED, type DeliveryPolicy } from '../shared';

// The activity proxies of a delivery, one per retry profile, each typed to what it may call.

/**
 * Status writes must survive a PostgreSQL outage: retried without limit, quickly. A write that
 * PostgreSQL refuses for its data is not retried (it would be refused forever): the workflow
 * ends the delivery instead, visibly.
 */
export function statusWrites() {
  return proxyActivities<Pick<Activities, 'recordChange' | 'cancelEmail' | 'endDelivery'>>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', nonRetryableErrorTypes: [STATUS_WRITE_REFUSED] },
  });
}

/**
 * The first attempt runs as a local activity: in the workflow task itself, without an activity
 * task round trip through the server. It costs the Temporal server 40 % less CPU per email
 * (BENCHMARKS.md). The retries are regular activities under the RetryPolicy.
 */
export function firstAttempt(policy: DeliveryPolicy) {
  return proxyLocalActivities<Pick<Activities, 'sendEmail'>>({
    summary: 'SMTP: first attempt',
    startToCloseTimeout: attemptTimeouts(policy).startToCloseMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  });
}

/** The attempts after the first: regular activities under the RetryPolicy, until the give-up time. */
export function retryAttempts(policy: DeliveryPolicy, scheduleToCloseMs: number) {
  const timeouts = attemptTimeouts(policy);
  return proxyActivities<Pick<Activities, 'sendEmail'>>({
    summary: 'SMTP: attempts under the retry policy',
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

/** The most telling message of a failed attempt: the last SMTP reply rather than "activity timed out". */
export function failureMessage(err: unknown): string {
  let deepest: unknown = err;
  while (deepest instanceof Error && deepest.cause instanceof Error) deepest = deepest.cause;
  if (deepest instanceof TimeoutFailure && err instanceof ActivityFailure && err.cause) return err.cause.message;
  return deepest instanceof Error ? deepest.message : String(deepest);
}

export function isNonRetryable(err: unknown): boolean {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure && (cause.nonRetryable || NON_RETRYABLE_ERROR_TYPES.includes(cause.type ?? ''));
}
