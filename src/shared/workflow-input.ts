// What a delivery workflow is given and gives back. Workflows carry ids and a bounded set of
// search attributes, never the email's content (that lives in PostgreSQL).

/** Retry profile of one email, fixed when it is accepted and recorded in its workflow history. */
export interface DeliveryPolicy {
  /** First wait after a transient failure. */
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  /** Give-up time: no attempt starts after this much time since the first one. */
  giveUpAfterMs: number;
  /** Upper bound of one attempt (SMTP timeouts are set below it). */
  attemptTimeoutMs: number;
}

export interface DeliverEmailInput {
  emailId: string;
  tenantId: string;
  /** ISO time; absent means send now. */
  sendAt?: string;
  policy: DeliveryPolicy;
  /** For search attributes: lower-cased recipient domains and metadata tags. */
  recipientDomains: string[];
  tags: string[];
}

export interface SendOutcome {
  status: 'sent' | 'failed';
  accepted: string[];
  rejected: string[];
  /** True when this attempt found every recipient already had its outcome and sent nothing. */
  alreadySent: boolean;
}

/**
 * Temporal's bound on one attempt. An attempt first waits for a pooled SMTP connection, then
 * runs the SMTP transaction (bounded by attemptTimeoutMs through nodemailer's timeouts); the
 * wait must not count as a failure, so Temporal allows for it. A dead worker is found sooner,
 * by the heartbeat the attempt sends while it waits or sends.
 */
export function attemptTimeouts(policy: DeliveryPolicy): { startToCloseMs: number; heartbeatMs: number } {
  return {
    startToCloseMs: policy.attemptTimeoutMs * 4,
    heartbeatMs: Math.min(30_000, Math.max(2_000, Math.floor(policy.attemptTimeoutMs / 2))),
  };
}

/**
 * When an attempt must stop sending: before Temporal gives up on it, by its own timeout or by
 * the give-up time (the schedule-to-close of the retries), with a margin so that the attempt
 * records its outcome before the workflow ends the email. Undefined when Temporal sets no bound.
 */
export function attemptAbortAfterMs(info: {
  nowMs: number;
  startToCloseTimeoutMs?: number;
  scheduledTimestampMs?: number;
  scheduleToCloseTimeoutMs?: number;
}): number | undefined {
  const bounds = [
    info.startToCloseTimeoutMs ? info.startToCloseTimeoutMs : Infinity,
    info.scheduleToCloseTimeoutMs && info.scheduledTimestampMs
      ? info.scheduledTimestampMs + info.scheduleToCloseTimeoutMs - info.nowMs
      : Infinity,
  ];
  const left = Math.min(...bounds);
  if (left === Infinity) return undefined;
  return Math.max(100, Math.floor(left - Math.min(2_000, left / 4)));
}

export function workflowIdFor(emailId: string): string {
  return `email-${emailId}`;
}

export const DELIVER_EMAIL_WORKFLOW = 'deliverEmail';
export const ORPHAN_SWEEP_WORKFLOW = 'sweepOrphans';
