// Which webhook events a timeline entry (a row of email_events) gives, and what they carry. The
// one mapping from the audit trail to webhooks: pure, so it is tested alone and, when a new
// timeline entry or recipient outcome appears, changed here alone.

export const WEBHOOK_EVENT_TYPES = [
  'email.accepted',
  'email.sent',
  'email.delivery_delayed',
  'email.failed',
  'email.cancelled',
  'recipient.rejected',
  'recipient.suppressed',
  'recipient.unsubscribed',
  'campaign.completed',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Sent by POST /v1/webhooks/:id/test to that endpoint alone, whatever it subscribed to. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';

/** A row of email_events. */
export interface TimelineEntry {
  id: string;
  type: string;
  at: Date;
  actor: string | null;
  data: Record<string, unknown>;
}

export interface RecipientSnapshot {
  address: string;
  kind: string;
  /** pending, accepted, rejected, deferred, and `suppressed` where suppression lists exist. */
  status: string;
  smtpCode: number | null;
  smtpResponse: string | null;
}

/** The email as the dispatcher reads it when it builds the events (moments after the entry). */
export interface EmailSnapshot {
  id: string;
  tenantId: string;
  status: string;
  workflowId: string;
  messageId: string;
  fromAddress: string;
  subject: string;
  metadata: Record<string, unknown>;
  tags: string[];
  lastError: string | null;
  createdAt: Date;
  sendAt: Date | null;
  sentAt: Date | null;
  recipients: RecipientSnapshot[];
}

export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

export interface WebhookEvent {
  type: WebhookEventType;
  payload: WebhookPayload;
}

/** What was already sent about one email (from earlier webhook messages). */
export interface EmailWebhookHistory {
  /** When the entry of the last email.delivery_delayed happened, if any. */
  lastDelayedAt?: Date;
  /** Recipients that had their recipient.rejected or recipient.suppressed event already. */
  announced: Set<string>;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const STATUS_OF_END: Record<string, string> = { 'email.sent': 'sent', 'email.failed': 'failed', 'email.cancelled': 'cancelled' };

function emailData(email: EmailSnapshot, status: string) {
  return {
    emailId: email.id,
    tenantId: email.tenantId,
    workflowId: email.workflowId,
    messageId: email.messageId,
    status,
    from: email.fromAddress,
    subject: email.subject,
    recipients: email.recipients.map((r) => ({
      address: r.address,
      kind: r.kind,
      status: r.status,
      smtpCode: r.smtpCode,
      smtpResponse: r.smtpResponse,
    })),
    metadata: email.metadata,
    tags: email.tags,
    createdAt: iso(email.createdAt),
    sendAt: iso(email.sendAt),
    sentAt: iso(email.sentAt),
  };
}

/**
 * The webhook events of one timeline entry, in the order they are to be delivered.
 * - email.accepted, email.sent, email.failed, email.cancelled: one each, from the entry of that name.
 * - email.delivery_delayed: an attempt that leaves the email retrying; the first one of an email,
 *   then at most one per `delayedEveryMs`.
 * - recipient.rejected: each recipient an attempt refused for good (its SMTP code and reply), once.
 * - recipient.suppressed: each recipient whose outcome is `suppressed` (a suppression list): named by a
 *   `recipients.suppressed` entry (`data.addresses`), or suppressed already when the email is accepted; once.
 * - recipient.unsubscribed: each recipient a `recipients.unsubscribed` entry names (the email's one-click
 *   unsubscribe link was used; the entry is written once per address).
 */
export function webhookEventsOf(
  entry: TimelineEntry,
  email: EmailSnapshot,
  history: EmailWebhookHistory,
  delayedEveryMs: number,
): WebhookEvent[] {
  const status = typeof entry.data.status === 'string' ? entry.data.status : (STATUS_OF_END[entry.type] ?? email.status);
  const source = { id: entry.id, type: entry.type, actor: entry.actor };
  const event = (type: WebhookEventType, extra: Record<string, unknown> = {}): WebhookEvent => ({
    type,
    payload: { type, timestamp: entry.at.toISOString(), data: { ...emailData(email, status), ...extra, timelineEntry: source } },
  });
  const recipientEvents = (type: 'recipient.rejected' | 'recipient.suppressed', chosen: (r: RecipientSnapshot) => boolean) =>
    email.recipients.filter((r) => chosen(r) && !history.announced.has(r.address)).map((r) => event(type, { recipient: { ...r } }));

  if (entry.type === 'email.accepted') {
    // Recipients refused before any attempt (a suppression list) have that outcome from the start.
    return [event('email.accepted'), ...recipientEvents('recipient.suppressed', (r) => r.status === 'suppressed')];
  }
  // The recipients a `recipients.*` entry names (`data.addresses`).
  const named = new Set(Array.isArray(entry.data.addresses) ? entry.data.addresses.map(String) : []);
  if (entry.type === 'recipients.suppressed') {
    return recipientEvents('recipient.suppressed', (r) => r.status === 'suppressed' && named.has(r.address));
  }
  if (entry.type === 'recipients.unsubscribed') {
    return email.recipients.filter((r) => named.has(r.address)).map((r) => event('recipient.unsubscribed', { recipient: { ...r } }));
  }
  if (entry.type.startsWith('attempt.')) {
    // Refused at RCPT (listed in the entry), or with the whole message by a permanent reply.
    const listed = new Set(Array.isArray(entry.data.rejected) ? entry.data.rejected.map(String) : []);
    const events = recipientEvents(
      'recipient.rejected',
      (r) => r.status === 'rejected' && (listed.has(r.address) || entry.type === 'attempt.permanent'),
    );
    const due = !history.lastDelayedAt || entry.at.getTime() - history.lastDelayedAt.getTime() >= delayedEveryMs;
    if (entry.data.status === 'retrying' && entry.type !== 'attempt.late' && due) {
      events.push(
        event('email.delivery_delayed', {
          attempt: { outcome: entry.data.outcome ?? null, smtpCode: entry.data.smtpCode ?? null, errorCode: entry.data.errorCode ?? null },
          reason: email.lastError,
        }),
      );
    }
    return events;
  }
  if (entry.type in STATUS_OF_END) {
    return [event(entry.type as WebhookEventType, { reason: typeof entry.data.reason === 'string' ? entry.data.reason : null })];
  }
  return [];
}

/** The test event of POST /v1/webhooks/:id/test. */
export function testPayload(endpointId: string, tenantId: string, at: Date): WebhookPayload {
  return { type: WEBHOOK_TEST_EVENT, timestamp: at.toISOString(), data: { endpointId, tenantId, message: 'A test event from Herald' } };
}

/** The history of an email once these events are built (the dispatcher builds several entries in a row). */
export function withEvents(history: EmailWebhookHistory, entry: TimelineEntry, events: WebhookEvent[]): EmailWebhookHistory {
  const announced = new Set(history.announced);
  let lastDelayedAt = history.lastDelayedAt;
  for (const e of events) {
    if (e.type === 'email.delivery_delayed') lastDelayedAt = entry.at;
    const recipient = (e.payload.data.recipient as RecipientSnapshot | undefined)?.address;
    if (recipient) announced.add(recipient);
  }
  return { lastDelayedAt, announced };
}
