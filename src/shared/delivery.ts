import type { EmailStatus } from './status';

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

export type RecipientOutcome = 'accepted' | 'rejected' | 'deferred' | 'pending';

export interface SendOutcome {
  status: Extract<EmailStatus, 'sent' | 'failed'>;
  accepted: string[];
  rejected: string[];
  /** True when this attempt found the gateway had already accepted the message and sent nothing. */
  alreadySent: boolean;
}

export function workflowIdFor(emailId: string): string {
  return `email-${emailId}`;
}

export const DELIVER_EMAIL_WORKFLOW = 'deliverEmail';
