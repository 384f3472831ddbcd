// The email status state machine. PostgreSQL holds the same table (email_status_transitions,
// migrations/) and rejects any transition not listed here; a test keeps the two equal.

export const EMAIL_STATUSES = [
  'queued', // accepted, workflow started, not tried yet
  'scheduled', // waiting for its sendAt time
  'sending', // an attempt is under way
  'retrying', // the last attempt failed transiently; the next one is scheduled by Temporal
  'paused', // held by a person: no attempt and no timer runs until resumed
  'sent', // the gateway accepted the message for at least one recipient and none is pending
  'failed', // permanent failure, or gave up after the retry window
  'cancelled', // cancelled before it was sent
] as const;

export type EmailStatus = (typeof EMAIL_STATUSES)[number];

export const TERMINAL_STATUSES: readonly EmailStatus[] = ['sent', 'failed', 'cancelled'];

/** Changes of status; writing the same status again is not a transition. */
export const ALLOWED_TRANSITIONS: Readonly<Record<EmailStatus, readonly EmailStatus[]>> = {
  queued: ['scheduled', 'sending', 'paused', 'cancelled', 'failed'],
  scheduled: ['queued', 'sending', 'paused', 'cancelled', 'failed'],
  sending: ['retrying', 'sent', 'failed', 'cancelled', 'paused'],
  retrying: ['sending', 'sent', 'failed', 'cancelled', 'paused'],
  // sent: an attempt the pause could not stop (one Temporal had timed out) still delivered
  paused: ['queued', 'scheduled', 'sending', 'retrying', 'sent', 'cancelled', 'failed'],
  sent: [],
  // a failed email can be re-driven: it goes back to queued with a new workflow run
  failed: ['queued'],
  cancelled: [],
};

export function isTerminal(status: EmailStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}
