import { createHarness, validEmail, type Harness } from '../support/harness';

// One email = one workflow, end to end: Hono API -> Temporal -> activities -> real SMTP server,
// with every status and attempt checked in PostgreSQL through GET /v1/emails/:id.

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h.close();
});
beforeEach(() => h.smtp.reset());

async function submit(body: Record<string, unknown>) {
  const res = await h.post(body);
  expect(res.status).toBe(202);
  const json = (await res.json()) as any;
  expect(res.headers.get('location')).toBe(`/v1/emails/${json.id}`);
  return json.id as string;
}

test('delivers to several recipients with an attachment, and the message that arrives is right', async () => {
  const res = await h.post(
    validEmail({
      to: ['alice@example.org', { email: 'bob@example.net', name: 'Bob B' }],
      cc: ['carol@example.com'],
      bcc: ['dave@example.com'],
      replyTo: 'replies@herald.test',
      html: '<p>Hello!</p>',
      headers: { 'X-Campaign': 'spring' },
      attachments: [{ filename: 'report.txt', contentType: 'text/plain', content: Buffer.from('quarterly numbers').toString('base64') }],
      metadata: { customer: 'c-42' },
    }),
  );
  expect(res.status).toBe(202);
  const { id, status } = (await res.json()) as any;
  expect(status).toBe('queued');

  // Right after the 202 the email is already there.
  const early = await h.getEmail(id);
  expect(early.id).toBe(id);
  expect(early.workflowId).toBe(`email-${id}`);

  const email = await h.waitForStatus(id, ['sent']);
  expect(email.recipients.map((r: any) => [r.address, r.kind, r.status])).toEqual([
    ['dave@example.com', 'bcc', 'accepted'],
    ['carol@example.com', 'cc', 'accepted'],
    ['alice@example.org', 'to', 'accepted'],
    ['bob@example.net', 'to', 'accepted'],
  ]);
  expect(email.attempts).toHaveLength(1);
  expect(email.attempts[0]).toMatchObject({ attempt: 1, outcome: 'sent', smtpCode: 250 });
  expect(email.sentAt).not.toBeNull();

  const copies = h.smtp.byMessageId(email.messageId);
  expect(copies).toHaveLength(1);
  const [msg] = copies;
  expect(msg.envelopeTo.sort()).toEqual(['alice@example.org', 'bob@example.net', 'carol@example.com', 'dave@example.com']);
  expect(msg.envelopeFrom).toBe('sender@herald.test');
  expect(msg.parsed.subject).toBe('Hello from Herald');
  expect(msg.parsed.text?.trim()).toBe('Hello!');
  expect(msg.parsed.html).toContain('<p>Hello!</p>');
  expect(msg.parsed.headers.get('x-campaign')).toBe('spring');
  expect(msg.parsed.replyTo?.text).toBe('replies@herald.test');
  expect(msg.raw.toString()).not.toMatch(/^bcc:/im);
  expect(msg.raw.toString()).not.toContain('dave@example.com');
  expect(msg.parsed.attachments).toHaveLength(1);
  expect(msg.parsed.attachments[0].filename).toBe('report.txt');
  expect(msg.parsed.attachments[0].content.toString()).toBe('quarterly numbers');

  const [row] = await h.sql`select status from emails where id = ${id}`;
  expect(row.status).toBe('sent');
  const events = await h.sql`select type from email_events where email_id = ${id} order by id`;
  expect(events.map((e) => e.type)).toEqual(['email.accepted', 'attempt.sent', 'email.sent']);
});

test('451 then success: retried with backoff, both attempts recorded, one copy delivered', async () => {
  h.smtp.onRcpt = (_address, call) => (call === 0 ? { code: 451, message: '4.3.0 Try again later' } : undefined);
  const id = await submit(validEmail({ to: ['retry-me@example.org'] }));
  const email = await h.waitForStatus(id, ['sent']);
  expect(email.attempts).toHaveLength(2);
  expect(email.attempts[0]).toMatchObject({ outcome: 'transient', smtpCode: 451, errorCode: 'EENVELOPE' });
  expect(email.attempts[1]).toMatchObject({ outcome: 'sent', smtpCode: 250 });
  expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
});

test('550 at RCPT: failed at once, never retried, the reply is recorded', async () => {
  h.smtp.onRcpt = () => ({ code: 550, message: '5.1.1 No such user' });
  const id = await submit(validEmail({ to: ['nobody@example.org'] }));
  const email = await h.waitForStatus(id, ['failed']);
  expect(email.attempts).toHaveLength(1);
  expect(email.attempts[0]).toMatchObject({ outcome: 'permanent', smtpCode: 550 });
  expect(email.recipients[0]).toMatchObject({ address: 'nobody@example.org', status: 'rejected', smtpCode: 550 });
  expect(email.lastError).toContain('5.1.1');
  await new Promise((r) => setTimeout(r, 1000)); // longer than the retry interval
  expect(h.smtp.rcptCalls.filter((a) => a === 'nobody@example.org')).toHaveLength(1);
  const handle = h.client.workflow.getHandle(email.workflowId);
  expect((await handle.describe()).status.name).toBe('FAILED');
});

test('554 at DATA: failed without retry', async () => {
  h.smtp.onData = () => ({ code: 554, message: '5.6.0 Message rejected as spam' });
  const id = await submit(validEmail({ to: ['data-reject@example.org'] }));
  const email = await h.waitForStatus(id, ['failed']);
  expect(email.attempts).toHaveLength(1);
  expect(email.attempts[0]).toMatchObject({ outcome: 'permanent', smtpCode: 554 });
  expect(email.recipients[0].status).toBe('rejected');
});

test('one recipient refused (550) while the others are accepted: sent, recorded per recipient', async () => {
  h.smtp.onRcpt = (address) => (address === 'bad@example.org' ? { code: 550, message: '5.1.1 Unknown user' } : undefined);
  const id = await submit(validEmail({ to: ['good@example.org', 'bad@example.org'], cc: ['also-good@example.org'] }));
  const email = await h.waitForStatus(id, ['sent']);
  const byAddress = Object.fromEntries(email.recipients.map((r: any) => [r.address, r]));
  expect(byAddress['good@example.org'].status).toBe('accepted');
  expect(byAddress['also-good@example.org'].status).toBe('accepted');
  expect(byAddress['bad@example.org']).toMatchObject({ status: 'rejected', smtpCode: 550 });
  expect(email.attempts).toHaveLength(1);
  expect(email.attempts[0]).toMatchObject({ outcome: 'partial', rejected: ['bad@example.org'] });
  const copies = h.smtp.byMessageId(email.messageId);
  expect(copies).toHaveLength(1);
  expect(copies[0].envelopeTo.sort()).toEqual(['also-good@example.org', 'good@example.org']);
});

test('one recipient deferred (451): only that recipient is retried, with the same Message-ID', async () => {
  h.smtp.onRcpt = (address, call) =>
    address === 'slow@example.org' && call === 0 ? { code: 451, message: '4.2.1 Mailbox busy' } : undefined;
  const id = await submit(validEmail({ to: ['fast@example.org', 'slow@example.org'] }));
  const email = await h.waitForStatus(id, ['sent']);
  expect(email.recipients.every((r: any) => r.status === 'accepted')).toBe(true);
  expect(email.attempts.map((a: any) => a.outcome)).toEqual(['partial', 'sent']);
  const copies = h.smtp.byMessageId(email.messageId);
  expect(copies.map((c) => c.envelopeTo)).toEqual([['fast@example.org'], ['slow@example.org']]);
});

test('gateway down, then back: retried until delivered', async () => {
  await h.smtp.stop();
  const id = await submit(validEmail({ to: ['patient@example.org'] }));
  const retrying = await h.waitForStatus(id, ['retrying']);
  // nodemailer reports a refused connection as ESOCKET (ECONNREFUSED) or ECONNECTION
  expect(retrying.attempts[0]).toMatchObject({ outcome: 'transient', errorCode: expect.stringMatching(/^(ESOCKET|ECONNECTION)$/) });
  await h.smtp.start();
  const email = await h.waitForStatus(id, ['sent']);
  expect(email.attempts.length).toBeGreaterThanOrEqual(2);
  expect(email.attempts.at(-1).outcome).toBe('sent');
  expect(h.smtp.byMessageId(email.messageId)).toHaveLength(1);
});

test('gives up after the give-up time and ends failed', async () => {
  const short = await createHarness({ policy: { giveUpAfterMs: 4000, initialIntervalMs: 200, maximumIntervalMs: 300 } });
  try {
    short.smtp.onRcpt = () => ({ code: 421, message: '4.7.0 Service not available' });
    const res = await short.post(validEmail({ to: ['never@example.org'] }));
    const { id } = (await res.json()) as any;
    await short.waitForStatus(id, ['failed']);
    // An attempt under way when the give-up time came stops sending before Temporal's deadline
    // and records itself moments later (attempt.late): wait for every attempt to be on record.
    const email = await short.waitUntil(id, (e) => e.attempts.every((a: any) => a.outcome !== null));
    expect(email.status).toBe('failed');
    expect(email.attempts.length).toBeGreaterThanOrEqual(2);
    expect(email.attempts.map((a: any) => a.outcome)).toEqual(email.attempts.map(() => 'transient'));
    expect(email.recipients[0].status).toBe('rejected');
    // The gateway's reply is on record; the reason is the last attempt's, which on a busy host may
    // be one the give-up deadline cut before the gateway replied.
    expect(email.attempts.some((a: any) => String(a.smtpResponse).includes('4.7.0'))).toBe(true);
    expect(email.statusReason).toMatch(/4\.7\.0|failed before the gateway replied/);
  } finally {
    await short.close();
  }
});

test('a slow gateway and a busy pool: waiting for a connection is not a failed attempt', async () => {
  // Two pooled connections, 1.5 s per message, six emails: the last waits about 4.5 s for a
  // connection, more than the 2 s SMTP bound of one attempt.
  const slow = await createHarness({ policy: { attemptTimeoutMs: 2000 } });
  try {
    slow.smtp.dataDelayMs = 1500;
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push(((await (await slow.post(validEmail({ to: [`queued${i}@example.org`] }))).json()) as any).id);
    for (const id of ids) {
      const email = await slow.waitForStatus(id, ['sent', 'failed']);
      expect(email.status).toBe('sent');
      expect(email.attempts.map((a: any) => a.outcome)).toEqual(['sent']);
      expect(slow.smtp.byMessageId(email.messageId)).toHaveLength(1);
    }
  } finally {
    await slow.close();
  }
});

test('health and readiness', async () => {
  expect((await h.request('/healthz')).status).toBe(200);
  const ready = await h.request('/readyz');
  expect(ready.status).toBe(200);
  expect((await ready.json()) as any).toMatchObject({ postgres: true, temporal: true });
});

test('unknown email id: 404 problem+json', async () => {
  for (const id of ['6b0f3c1e-1111-4222-8333-944455556666', 'not-a-uuid']) {
    const res = await h.request(`/v1/emails/${id}`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as any).title).toBe('Email not found');
  }
});
