import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  proxyActivities,
  proxyLocalActivities,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  attemptTimeouts,
  gatewayTaskQueue,
  NON_RETRYABLE_ERROR_TYPES,
  routeChangingFailureTypes,
  STATUS_WRITE_REFUSED,
  type DeliveryPolicy,
  type GatewayRef,
  type GatewayRoute,
} from '../shared';

// The activity proxies of a delivery, one per retry profile, each typed to what it may call.

/**
 * Status writes must survive a PostgreSQL outage: retried without limit, quickly. A write that
 * PostgreSQL refuses for its data is not retried (it would be refused forever): the workflow
 * ends the delivery instead, visibly.
 */
export function statusWrites() {
  return proxyActivities<Pick<Activities, 'recordChange' | 'cancelEmail' | 'endDelivery'>>({
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [STATUS_WRITE_REFUSED],
    },
  });
}

/**
 * The gateways of this email (names, in order, and which are rate-limited), asked of the worker
 * once, as a local activity: the worker holds the configuration and the tenant's list. Retried
 * until a configured gateway is found.
 */
export function gatewayPlanner() {
  return proxyLocalActivities<Pick<Activities, 'planGateways'>>({
    summary: 'Gateways of this email',
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
}

/**
 * The first attempt runs as a local activity: in the workflow task itself, without an activity
 * task round trip through the server. It costs the Temporal server 40 % less CPU per email
 * (BENCHMARKS.md). A rate-limited gateway is the exception: local activities bypass task queue
 * limits, so its first attempt is a regular activity on the gateway's own task queue, whose
 * server-side limit holds across every worker. The retries are regular activities under the
 * RetryPolicy.
 */
export function firstAttempt(policy: DeliveryPolicy, gateway: GatewayRef, taskQueue: string) {
  const timeouts = attemptTimeouts(policy);
  const common = {
    startToCloseTimeout: timeouts.startToCloseMs,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { maximumAttempts: 1, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES },
  };
  if (!gateway.rateLimited)
    return proxyLocalActivities<Pick<Activities, 'sendEmail'>>({ summary: `SMTP: first attempt through ${gateway.name}`, ...common });
  return proxyActivities<Pick<Activities, 'sendEmail'>>({
    summary: `SMTP: first attempt through ${gateway.name} (rate-limited)`,
    taskQueue: gatewayTaskQueue(taskQueue, gateway.name),
    heartbeatTimeout: timeouts.heartbeatMs,
    ...common,
  });
}

/**
 * The attempts through the route's current gateway: regular activities under the RetryPolicy,
 * until the give-up time, on the gateway's own task queue when it is rate-limited. Failures that
 * move the route (src/shared/gateways.ts) come back to the workflow instead of being retried.
 */
export function retryAttempts(policy: DeliveryPolicy, scheduleToCloseMs: number, route: GatewayRoute, taskQueue: string) {
  const timeouts = attemptTimeouts(policy);
  const gateway = route.current();
  return proxyActivities<Pick<Activities, 'sendEmail'>>({
    summary: `SMTP: attempts through ${gateway.name}`,
    ...(gateway.rateLimited ? { taskQueue: gatewayTaskQueue(taskQueue, gateway.name) } : {}),
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
      nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES, ...routeChangingFailureTypes(route.target().mayFailOver)],
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

/** What a failed attempt's ApplicationFailure says: its type, and the delay its reply asked for. */
export function attemptFailure(err: unknown): { type?: string; retryAfterMs?: number } {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (!(cause instanceof ApplicationFailure)) return {};
  const details = cause.details?.[0] as { retryAfterMs?: number | null } | undefined;
  return { type: cause.type ?? undefined, retryAfterMs: details?.retryAfterMs ?? undefined };
}

/** Whether the failed attempts came back to move the route (another gateway, or the copies bound). */
export function movesRoute(err: unknown, route: GatewayRoute): boolean {
  const { type } = attemptFailure(err);
  return type !== undefined && routeChangingFailureTypes(route.target().mayFailOver).includes(type);
}
