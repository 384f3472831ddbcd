import type { OutboxBatch } from '../../src/db/webhooks';
import { webhookEventsOf, withEvents, type EmailSnapshot, type EmailWebhookHistory, type TimelineEntry } from '../../src/webhooks/events';
import { planFanOut } from '../../src/webhooks/pump';

// The one mapping from the email timeline (email_events) to webhook events, and the fan-out of a
// batch to the endpoints that subscribed.

const at = (s: number) => new Date(Date.UTC(2026, 10, 23, 12, 0, s));
const email = (
  recipients: Array<Partial<EmailSnapshot['recipients'][number]> & { address: string }> = [{ address: 'a@example.org' }],
): EmailSnapshot => ({
  id: 'e1',
  tenantId: 't1',
  status: 'sent',
  workflowId: 'email-e1',
  messageId: '<e1@herald>',
  fromAddress: 'shop@example.com',
  subject: 'Hi',
  metadata: { order: 7, tags: ['orders'] },
  tags: ['orders'],
  lastError: '451 4.3.0 busy',
  createdAt: at(0),
  sendAt: null,
  sentAt: at(9),
  recipients: recipients.map((r) => ({ kind: 'to', status: 'accepted', smtpCode: 250, smtpResponse: '250 ok', ...r })),
});
const entry = (id: number, type: string, data: Record<string, unknown> = {}, s = id): TimelineEntry => ({
  id: String(id),
  type,
  at: at(s),
  actor: 'worker',
  data,
});
const fresh = (): EmailWebhookHistory => ({ announced: new Set() });
const HOUR = 3_600_000;

test('accepted, sent, failed and cancelled each give their event, with the email, its status and the time of the entry', () => {
  const accepted = webhookEventsOf(entry(1, 'email.accepted', { status: 'queued', sendAt: null }), email(), fresh(), HOUR);
  expect(accepted).toHaveLength(1);
  expect(accepted[0].payload).toEqual({
    type: 'email.accepted',
    timestamp: at(1).toISOString(),
    data: {
      emailId: 'e1',
      tenantId: 't1',
      workflowId: 'email-e1',
      messageId: '<e1@herald>',
      status: 'queued',
      from: 'shop@example.com',
      subject: 'Hi',
      recipients: [{ address: 'a@example.org', kind: 'to', status: 'accepted', smtpCode: 250, smtpResponse: '250 ok' }],
      metadata: { order: 7, tags: ['orders'] },
      tags: ['orders'],
      createdAt: at(0).toISOString(),
      sendAt: null,
      sentAt: at(9).toISOString(),
      timelineEntry: { id: '1', type: 'email.accepted', actor: 'worker' },
    },
  });
  expect(
    webhookEventsOf(entry(2, 'email.sent', { attemptId: '1', reason: null }), email(), fresh(), HOUR).map((e) => [
      e.type,
      e.payload.data.status,
    ]),
  ).toEqual([['email.sent', 'sent']]);
  const failed = webhookEventsOf(entry(3, 'email.failed', { reason: 'gave up after 72 h' }), email(), fresh(), HOUR);
  expect(failed[0].payload.data).toMatchObject({ status: 'failed', reason: 'gave up after 72 h' });
  expect(webhookEventsOf(entry(4, 'email.cancelled', { reason: 'customer asked' }), email(), fresh(), HOUR)[0].type).toBe(
    'email.cancelled',
  );
});

test('timeline entries that are not webhook events give none', () => {
  for (const type of ['email.paused', 'email.resumed', 'email.rescheduled', 'email.redriven', 'email.recovered', 'attempt.sent']) {
    expect(webhookEventsOf(entry(5, type, { status: 'sent' }), email(), fresh(), HOUR)).toEqual([]);
  }
});

test('delivery_delayed: on the first attempt that leaves the email retrying, then at most once per window', () => {
  const transient = (id: number, s: number) =>
    entry(id, 'attempt.transient', { outcome: 'transient', status: 'retrying', smtpCode: 451, errorCode: null, rejected: [] }, s);
  let history = fresh();
  const first = webhookEventsOf(transient(1, 0), email(), history, 10_000);
  expect(first.map((e) => e.type)).toEqual(['email.delivery_delayed']);
  expect(first[0].payload.data).toMatchObject({
    status: 'retrying',
    attempt: { outcome: 'transient', smtpCode: 451, errorCode: null },
    reason: '451 4.3.0 busy',
  });
  history = withEvents(history, transient(1, 0), first);
  expect(webhookEventsOf(transient(2, 5), email(), history, 10_000)).toEqual([]);
  expect(webhookEventsOf(transient(3, 10), email(), history, 10_000).map((e) => e.type)).toEqual(['email.delivery_delayed']);
  // An attempt that ends the email, or comes late, is no delay.
  expect(webhookEventsOf(entry(4, 'attempt.permanent', { status: 'failed', rejected: [] }), email(), fresh(), 1)).toEqual([]);
  expect(webhookEventsOf(entry(5, 'attempt.late', { status: 'retrying', rejected: [] }), email(), fresh(), 1)).toEqual([]);
});

test('recipient.rejected: each recipient refused for good (at RCPT, or with the whole message), once, with its code and reply', () => {
  const snapshot = email([
    { address: 'a@example.org' },
    { address: 'b@example.org', status: 'rejected', smtpCode: 550, smtpResponse: '550 5.1.1 no such user' },
    { address: 'c@example.org', status: 'deferred', smtpCode: 452, smtpResponse: '452 mailbox full' },
  ]);
  const partial = entry(1, 'attempt.partial', { status: 'retrying', rejected: ['b@example.org', 'c@example.org'] });
  const events = webhookEventsOf(partial, snapshot, fresh(), HOUR);
  expect(events.map((e) => e.type)).toEqual(['recipient.rejected', 'email.delivery_delayed']);
  expect(events[0].payload.data.recipient).toEqual({
    address: 'b@example.org',
    kind: 'to',
    status: 'rejected',
    smtpCode: 550,
    smtpResponse: '550 5.1.1 no such user',
  });
  const history = withEvents(fresh(), partial, events);
  expect([...history.announced]).toEqual(['b@example.org']);

  // The whole message refused later: the others are announced, b is not again.
  const refused = email([
    { address: 'a@example.org', status: 'rejected', smtpCode: 554, smtpResponse: '554 refused' },
    { address: 'b@example.org', status: 'rejected', smtpCode: 550, smtpResponse: '550 5.1.1 no such user' },
    { address: 'c@example.org', status: 'rejected', smtpCode: 554, smtpResponse: '554 refused' },
  ]);
  const permanent = webhookEventsOf(entry(2, 'attempt.permanent', { status: 'failed', rejected: [] }), refused, history, HOUR);
  expect(permanent.map((e) => (e.payload.data.recipient as { address: string }).address)).toEqual(['a@example.org', 'c@example.org']);
});

test('recipient.suppressed: each recipient a recipients.suppressed entry names, or suppressed when accepted; once', () => {
  const snapshot = email([
    { address: 'a@example.org', status: 'pending' },
    { address: 'blocked@example.org', status: 'suppressed', smtpCode: null, smtpResponse: 'suppressed: bounce 550 5.1.1' },
  ]);
  const accepted = webhookEventsOf(entry(1, 'email.accepted', { status: 'queued' }), snapshot, fresh(), HOUR);
  expect(accepted.map((e) => [e.type, (e.payload.data.recipient as { address?: string } | undefined)?.address])).toEqual([
    ['email.accepted', undefined],
    ['recipient.suppressed', 'blocked@example.org'],
  ]);
  // The suppression list checked at the send (the way the suppression branch records it).
  const suppressed = entry(2, 'recipients.suppressed', { addresses: ['blocked@example.org'] });
  const events = webhookEventsOf(suppressed, snapshot, fresh(), HOUR);
  expect(events.map((e) => e.payload.data.recipient)).toEqual([
    { address: 'blocked@example.org', kind: 'to', status: 'suppressed', smtpCode: null, smtpResponse: 'suppressed: bounce 550 5.1.1' },
  ]);
  expect(webhookEventsOf(suppressed, snapshot, withEvents(fresh(), suppressed, events), HOUR)).toEqual([]);
});

test('recipient.unsubscribed: each recipient a recipients.unsubscribed entry names, with its state, and no one else', () => {
  const snapshot = email([{ address: 'ann@example.org' }, { address: 'bob@example.org' }]);
  const unsubscribed = entry(3, 'recipients.unsubscribed', { addresses: ['ann@example.org'] });
  const events = webhookEventsOf(unsubscribed, snapshot, fresh(), HOUR);
  expect(events.map((e) => [e.type, e.payload.data.recipient, e.payload.data.status])).toEqual([
    [
      'recipient.unsubscribed',
      { address: 'ann@example.org', kind: 'to', status: 'accepted', smtpCode: 250, smtpResponse: '250 ok' },
      'sent',
    ],
  ]);
  expect(webhookEventsOf(entry(4, 'recipients.unsubscribed', { addresses: 'ann@example.org' }), snapshot, fresh(), HOUR)).toEqual([]);
});

test('the fan-out: each event to the endpoints of its tenant that subscribed to it, in the order of the entries', () => {
  const batch: OutboxBatch = {
    entries: [
      { ...entry(1, 'email.accepted', { status: 'queued' }), emailId: 'e1' },
      { ...entry(2, 'attempt.transient', { status: 'retrying', rejected: [] }), emailId: 'e1' },
      { ...entry(3, 'attempt.transient', { status: 'retrying', rejected: [] }), emailId: 'e1' },
      { ...entry(4, 'email.sent', {}), emailId: 'e1' },
      { ...entry(5, 'email.accepted', { status: 'queued' }), emailId: 'gone' },
    ],
    emails: new Map([['e1', email()]]),
    histories: new Map(),
    endpoints: [
      { id: 'wh_all', tenantId: 't1', events: ['email.accepted', 'email.delivery_delayed', 'email.sent'] },
      { id: 'wh_sent', tenantId: 't1', events: ['email.sent'] },
      { id: 'wh_other', tenantId: 't2', events: ['email.accepted', 'email.sent'] },
    ],
  };
  let n = 0;
  const plan = planFanOut(batch, HOUR, () => `msg_${++n}`);
  expect(plan.messages.map((m) => [m.id, m.type, m.eventId])).toEqual([
    ['msg_1', 'email.accepted', '1'],
    ['msg_2', 'email.delivery_delayed', '2'],
    ['msg_3', 'email.sent', '4'],
  ]);
  expect(JSON.parse(plan.messages[2].body)).toMatchObject({ type: 'email.sent', data: { emailId: 'e1' } });
  expect(plan.deliveries.map((d) => `${d.endpointId}:${d.messageId}`)).toEqual([
    'wh_all:msg_1',
    'wh_all:msg_2',
    'wh_all:msg_3',
    'wh_sent:msg_3',
  ]);
});
