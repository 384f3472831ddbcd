import type { EmailStatus } from './status';

// The rules of delivery, written once. The accept path, the send activity, the status writes,
// the workflow and the API all call these; none restates them.

/**
 * Where one recipient stands. `deferred` got a 4yz and is tried again; `pending` not tried yet;
 * `suppressed` is on the tenant's suppression list and was not sent to (no gateway contacted).
 */
export type RecipientOutcome = 'pending' | 'accepted' | 'rejected' | 'deferred' | 'suppressed';

/** What a failed SMTP attempt says about the message as a whole. */
export type FailureKind =
  | 'transient' // 4yz, connection error or timeout before the data went out: try again
  | 'permanent' // 5yz: trying again sends the same refused thing
  | 'uncertain'; // cut after the data went out: the gateway may hold a copy (RFC 1047)

/** The status of a newly accepted email. */
export function initialStatus(sendAt: string | Date | null | undefined): 'queued' | 'scheduled' {
  return sendAt ? 'scheduled' : 'queued';
}

/** A recipient the next attempt still sends to. */
export function isUnsent(outcome: RecipientOutcome): boolean {
  return outcome === 'pending' || outcome === 'deferred';
}

/**
 * The status the recipients' outcomes lead to: `sent` when at least one recipient accepted and
 * none is left to send, `failed` when none accepted and none is left (every recipient refused
 * or suppressed), else still `retrying`.
 */
export function statusOfRecipients(outcomes: readonly RecipientOutcome[]): Extract<EmailStatus, 'sent' | 'failed' | 'retrying'> {
  if (outcomes.some(isUnsent)) return 'retrying';
  return outcomes.includes('accepted') ? 'sent' : 'failed';
}

/** When delivery ends without them (give-up, permanent refusal), unsent recipients are refused. */
export function outcomeWhenEnded(outcome: RecipientOutcome): RecipientOutcome {
  return isUnsent(outcome) ? 'rejected' : outcome;
}

/** RFC 5321 4.2.1: 5yz is permanent; 4yz (and anything else) is worth another try. */
export function isPermanentReply(code: number | undefined): boolean {
  return code !== undefined && code >= 500 && code < 600;
}

/** Whether Temporal tries a failed attempt again. */
export function isRetryable(kind: FailureKind): boolean {
  return kind !== 'permanent';
}
