import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { createSql, type Sql } from '../../src/db/sql';
import { createAttemptStore, INTERRUPTED_ATTEMPT, type AttemptStore } from '../../src/db/attempts';
import { createEmailStore, DailyQuotaExceeded, type EmailStore, type NewEmail } from '../../src/db/emails';
import { workflowIdFor } from '../../src/shared';
import { adminUrlFromEnv, createDatabase, dropDatabase } from '../support/database';
import { distBin } from '../support/paths';

// The send path and the accept path write in single statements (data-modifying CTEs) where they
// can, and in transactions where they cannot. These tests hold both to the same rows, on a real
// PostgreSQL: the late-attempt rule, the timeline's order, the webhook outbox trigger, the quota.
// A database of its own: its emails have no workflows (the orphan sweep of another test file
// would take them for orphans) and its tenants have webhook endpoints no dispatcher should see.
// Migrated by the build's entry point, as the stack does (postgres-shift does not load in jest).

const dbName = `herald_store_${process.pid}`;
let sql: Sql;
let emails: EmailStore;
let attempts: AttemptStore;
beforeAll(async () => {
  const url = await createDatabase(adminUrlFromEnv(), dbName);
  await promisify(execFile)(process.execPath, [path.join(distBin(), 'migrate.js')], { env: { ...process.env, DATABASE_URL: url } });
  sql = createSql(url, 2);
  emails = createEmailStore(sql);
  attempts = createAttemptStore(sql);
});
afterAll(async () => {
  await sql?.end({ timeout: 5 });
  await dropDatabase(adminUrlFromEnv(), dbName);
});

/** A tenant of its own, with an enabled webhook endpoint so that every event reaches the outbox. */
async function tenant(dailyQuota = 1000): Promise<string> {
  const id = `store-${randomUUID().slice(0, 8)}`;
  await sql`insert into tenants (id, name, daily_quota) values (${id}, 'store statements', ${dailyQuota})`;
  await sql`insert into webhook_endpoints (id, tenant_id, url, events, secret)
    values (${'we-' + id}, ${id}, 'https://example.org/hook', ${['email.sent']}, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')`;
  return id;
}

const SEND_AT = new Date(Date.now() + 3_600_000).toISOString();

function newEmail(tenantId: string, overrides: Partial<NewEmail> = {}): NewEmail {
  const id = randomUUID();
  return {
    id,
    tenantId,
    workflowId: workflowIdFor(id),
    messageId: `<${id}@test.herald>`,
    from: { address: 'sender@herald.test', name: 'Sender' },
    subject: 'statements',
    content: {
      to: [{ address: 'a@example.org' }, { address: 'b@example.org' }],
      cc: [{ address: 'a@example.org' }],
      bcc: [{ address: 'c@example.net' }],
      replyTo: [],
      text: 'hi',
      headers: { 'X-Order': '1' },
    },
    attachments: [],
    metadata: { customer: 'c-42' },
    tags: ['orders'],
    sendAt: SEND_AT,
    requestHash: 'hash',
    dailyQuota: 1000,
    ...overrides,
  };
}

/** Everything stored for one email, without what differs by nature (ids, times). */
async function stored(id: string) {
  const [email] = await sql`
    select tenant_id, status, workflow_id = 'email-' || id::text as own_workflow, from_address, subject, content, metadata, tags, send_at,
      source, request_hash, idempotency_key
    from emails where id = ${id}`;
  const recipients = await sql`select address, kind, domain, status from email_recipients where email_id = ${id} order by address`;
  const events = await sql`select type, actor, data from email_events where email_id = ${id} order by id`;
  const outbox = await sql`select o.tenant_id from webhook_outbox o join email_events ev on ev.id = o.event_id where ev.email_id = ${id}`;
  const raw = await sql`select mail_from, message from email_raw_messages where email_id = ${id}`;
  return { email, recipients, events, outbox: outbox.length, raw };
}

async function usage(tenantId: string): Promise<number> {
  const [row] = await sql`select emails from tenant_daily_usage where tenant_id = ${tenantId}`;
  return row?.emails ?? 0;
}

test('an email stored in one statement (no attachments) has the same rows as one stored in a transaction', async () => {
  const tenantId = await tenant();
  const single = newEmail(tenantId);
  const inTransaction = newEmail(tenantId, {
    attachments: [{ filename: 'a.bin', contentType: 'application/octet-stream', content: Buffer.from([0, 1, 255]) }],
  });
  const keyed = newEmail(tenantId, { idempotencyKey: randomUUID() });
  for (const email of [single, inTransaction, keyed]) {
    expect(await emails.insert(email)).toEqual({
      id: email.id,
      status: 'scheduled',
      workflowId: email.workflowId,
      requestHash: 'hash',
      sendAt: email.sendAt,
      created: true,
    });
  }
  const [a, b, c] = await Promise.all([stored(single.id), stored(inTransaction.id), stored(keyed.id)]);
  expect(a.email).toMatchObject({ status: 'scheduled', ownWorkflow: true, source: 'api', tags: ['orders'], idempotencyKey: null });
  // a@ is both to and cc: one recipient.
  expect(a.recipients.map((r) => `${r.address}:${r.domain}:${r.status}`)).toEqual([
    'a@example.org:example.org:pending',
    'b@example.org:example.org:pending',
    'c@example.net:example.net:pending',
  ]);
  expect(a.recipients[2].kind).toBe('bcc');
  expect(a.events).toEqual([{ type: 'email.accepted', actor: 'api', data: { status: 'scheduled', sendAt: single.sendAt } }]);
  expect(a.outbox).toBe(1);
  expect(b).toEqual(a);
  expect({ ...c, email: { ...c.email, idempotencyKey: null } }).toEqual(a);
  expect(await usage(tenantId)).toBe(3);
  // The key still finds the email it stored.
  expect(await emails.insert(newEmail(tenantId, { idempotencyKey: keyed.idempotencyKey }))).toMatchObject({ id: keyed.id, created: false });
  expect(await usage(tenantId)).toBe(3);
});

test('a submitted message is stored with its email, in one statement too', async () => {
  const tenantId = await tenant();
  const submitted = { mailFrom: 'bounces@herald.test', message: Buffer.from('Subject: x\r\n\r\n\u00e9\u0000\r\n', 'latin1') };
  const email = newEmail(tenantId, { source: 'smtp', submitted, sendAt: undefined });
  expect(await emails.insert(email)).toMatchObject({ status: 'queued', sendAt: null, created: true });
  const rows = await stored(email.id);
  expect(rows.email).toMatchObject({ source: 'smtp', sendAt: null });
  expect(rows.events).toEqual([{ type: 'email.accepted', actor: 'smtp', data: { status: 'queued', sendAt: null } }]);
  expect(rows.raw).toEqual([{ mailFrom: 'bounces@herald.test', message: submitted.message }]);
});

test('past the daily quota, nothing is stored and nothing more is counted, with or without attachments', async () => {
  const tenantId = await tenant(1);
  await emails.insert(newEmail(tenantId, { dailyQuota: 1 }));
  const refused = [
    newEmail(tenantId, { dailyQuota: 1 }),
    newEmail(tenantId, { dailyQuota: 1, attachments: [{ filename: 'a', contentType: 'text/plain', content: Buffer.from('a') }] }),
  ];
  for (const email of refused) {
    await expect(emails.insert(email)).rejects.toBeInstanceOf(DailyQuotaExceeded);
    expect(await sql`select 1 from emails where id = ${email.id}`).toHaveLength(0);
  }
  expect(await usage(tenantId)).toBe(1);
  const none = await tenant(0);
  await expect(emails.insert(newEmail(none, { dailyQuota: 0 }))).rejects.toBeInstanceOf(DailyQuotaExceeded);
  expect(await usage(none)).toBe(0);
});

test('loadForSend reads recipients, suppressions and attachment bytes in one query', async () => {
  const tenantId = await tenant();
  const big = Buffer.alloc(10_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 256;
  const email = newEmail(tenantId, {
    sendAt: undefined,
    attachments: [
      { filename: 'big.bin', contentType: 'application/octet-stream', content: big },
      { filename: 'empty.txt', contentType: 'text/plain', content: Buffer.alloc(0) },
    ],
  });
  await emails.insert(email);
  await sql`insert into suppressions (tenant_id, address, source, reason) values (${tenantId}, 'b@example.org', 'manual', 'asked')`;
  const loaded = await attempts.loadForSend(email.id);
  expect(loaded).toMatchObject({ id: email.id, tenantId, status: 'queued', subject: 'statements', from: email.from, attempted: false });
  expect(loaded!.recipients).toEqual([
    { address: 'a@example.org', status: 'pending' },
    { address: 'b@example.org', status: 'pending', suppressedBecause: 'asked' },
    { address: 'c@example.net', status: 'pending' },
  ]);
  expect(loaded!.attachments).toEqual(email.attachments);
  expect(loaded!.attachments[0].content.equals(big)).toBe(true);
  expect(loaded!.submitted).toBeUndefined();

  const plain = newEmail(tenantId);
  await emails.insert(plain);
  expect((await attempts.loadForSend(plain.id))!.attachments).toEqual([]);
  expect(await attempts.loadForSend(randomUUID())).toBeUndefined();
});

async function attemptRows(emailId: string) {
  return sql`select attempt, gateway, outcome, finished_at is not null as finished, error_message, accepted
    from delivery_attempts where email_id = ${emailId} order by id`;
}

async function queuedEmail(tenantId: string): Promise<string> {
  const email = newEmail(tenantId, { sendAt: undefined });
  await emails.insert(email);
  return email.id;
}

test('beginAttempt marks the email sending, numbers the attempt and closes an open one as uncertain', async () => {
  const tenantId = await tenant();
  const id = await queuedEmail(tenantId);
  const first = await attempts.beginAttempt(id, 'primary');
  expect((await sql`select status from emails where id = ${id}`)[0].status).toBe('sending');
  const second = await attempts.beginAttempt(id, 'backup');
  expect(second).not.toBe(first);
  expect(await attemptRows(id)).toEqual([
    { attempt: 1, gateway: 'primary', outcome: 'uncertain', finished: true, errorMessage: INTERRUPTED_ATTEMPT, accepted: [] },
    { attempt: 2, gateway: 'backup', outcome: null, finished: false, errorMessage: null, accepted: [] },
  ]);
  expect((await attempts.loadForSend(id))!.attempted).toBe(true);
});

const sentResult = {
  outcome: 'partial' as const,
  smtpCode: 250,
  smtpResponse: '250 ok\u0000',
  accepted: ['a@example.org', 'b@example.org'],
  rejected: ['c@example.net'],
};
const sentUpdates = [
  { address: 'a@example.org', status: 'accepted' as const, smtpCode: 250, smtpResponse: '250 ok' },
  { address: 'b@example.org', status: 'accepted' as const, smtpCode: 250, smtpResponse: '250 ok' },
  { address: 'c@example.net', status: 'rejected' as const, smtpCode: 550, smtpResponse: '550 no such user' },
];
const suppress = (tenantId: string) => ({ tenantId, addresses: [{ address: 'c@example.net', reason: '550 no such user', smtpCode: 550 }] });

test('recordAttempt writes the attempt, recipients, status, suppressions and both events, in order', async () => {
  const tenantId = await tenant();
  const id = await queuedEmail(tenantId);
  const attemptId = await attempts.beginAttempt(id, 'primary');
  const applied = await attempts.recordAttempt({
    emailId: id,
    attemptId,
    result: sentResult,
    recipients: sentUpdates,
    status: 'sent',
    suppress: suppress(tenantId),
  });
  expect(applied).toBe(true);
  const [email] = await sql`select status, sent_at is not null as has_sent_at, last_error from emails where id = ${id}`;
  expect(email).toEqual({ status: 'sent', hasSentAt: true, lastError: null });
  expect(await attemptRows(id)).toEqual([
    { attempt: 1, gateway: 'primary', outcome: 'partial', finished: true, errorMessage: null, accepted: sentResult.accepted },
  ]);
  const [attempt] = await sql`select smtp_response, rejected from delivery_attempts where id = ${attemptId}`;
  expect(attempt).toEqual({ smtpResponse: '250 ok\ufffd', rejected: ['c@example.net'] });
  const rows = await stored(id);
  expect(rows.recipients.map((r) => `${r.address}:${r.status}`)).toEqual([
    'a@example.org:accepted',
    'b@example.org:accepted',
    'c@example.net:rejected',
  ]);
  expect(rows.events.map((e) => e.type)).toEqual(['email.accepted', 'attempt.partial', 'email.sent']);
  expect(rows.events[1].data).toEqual({
    attemptId,
    outcome: 'partial',
    status: 'sent',
    smtpCode: 250,
    errorCode: null,
    accepted: sentResult.accepted,
    rejected: sentResult.rejected,
  });
  expect(rows.events[2].data).toEqual({ attemptId, reason: null });
  expect(rows.outbox).toBe(3);
  const [suppressed] =
    await sql`select source, reason, smtp_code, email_id from suppressions where tenant_id = ${tenantId} and address = 'c@example.net'`;
  expect(suppressed).toEqual({ source: 'bounce', reason: '550 no such user', smtpCode: 550, emailId: id });
});

test('a retrying attempt records its status and error, with no final event', async () => {
  const tenantId = await tenant();
  const id = await queuedEmail(tenantId);
  const attemptId = await attempts.beginAttempt(id, 'primary');
  const result = {
    outcome: 'transient' as const,
    smtpCode: 451,
    smtpResponse: '451 later',
    errorCode: 'EENVELOPE',
    errorMessage: 'later',
    accepted: [],
    rejected: [],
  };
  expect(await attempts.recordAttempt({ emailId: id, attemptId, result, recipients: [], status: 'retrying', lastError: '451 later' })).toBe(
    true,
  );
  const [email] = await sql`select status, last_error, sent_at from emails where id = ${id}`;
  expect(email).toEqual({ status: 'retrying', lastError: '451 later', sentAt: null });
  expect((await stored(id)).events.map((e) => e.type)).toEqual(['email.accepted', 'attempt.transient']);
});

test('a late attempt (closed by a later one) is recorded as attempt.late and changes no status', async () => {
  const tenantId = await tenant();
  const id = await queuedEmail(tenantId);
  const late = await attempts.beginAttempt(id, 'primary');
  await attempts.beginAttempt(id, 'primary');
  const applied = await attempts.recordAttempt({
    emailId: id,
    attemptId: late,
    result: sentResult,
    recipients: sentUpdates,
    status: 'sent',
    suppress: suppress(tenantId),
  });
  expect(applied).toBe(false);
  const [email] = await sql`select status, sent_at from emails where id = ${id}`;
  expect(email).toEqual({ status: 'sending', sentAt: null });
  // The record of the interrupted attempt stays as the later attempt wrote it.
  expect((await attemptRows(id))[0]).toMatchObject({ outcome: 'uncertain', errorMessage: INTERRUPTED_ATTEMPT, accepted: [] });
  const rows = await stored(id);
  // What it learnt is kept: the recipients' outcomes, the suppression, the timeline entry.
  expect(rows.recipients.map((r) => r.status)).toEqual(['accepted', 'accepted', 'rejected']);
  expect(rows.events.map((e) => e.type)).toEqual(['email.accepted', 'attempt.late']);
  expect(rows.events[1].data).toMatchObject({ attemptId: late, outcome: 'partial', status: 'sent' });
  expect(await sql`select 1 from suppressions where tenant_id = ${tenantId} and address = 'c@example.net'`).toHaveLength(1);
});

test('an attempt that ends after the email was cancelled keeps the cancel and is late', async () => {
  const tenantId = await tenant();
  const id = await queuedEmail(tenantId);
  const attemptId = await attempts.beginAttempt(id, 'primary');
  await sql`update emails set status = 'cancelled' where id = ${id}`;
  const applied = await attempts.recordAttempt({ emailId: id, attemptId, result: sentResult, recipients: sentUpdates, status: 'sent' });
  expect(applied).toBe(false);
  expect((await sql`select status from emails where id = ${id}`)[0].status).toBe('cancelled');
  // Its own attempt row is closed with what happened.
  expect(await attemptRows(id)).toEqual([
    { attempt: 1, gateway: 'primary', outcome: 'partial', finished: true, errorMessage: null, accepted: sentResult.accepted },
  ]);
  expect((await stored(id)).events.map((e) => e.type)).toEqual(['email.accepted', 'attempt.late']);
});
