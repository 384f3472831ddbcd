import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  attemptAbortAfterMs,
  EMAIL_NOT_SENDABLE,
  FAILURE_TYPE_OF,
  SMTP_RECIPIENTS_DEFERRED,
  isRetryable,
  isUnsent,
  outcomeWhenEnded,
  statusOfRecipients,
  type RecipientOutcome,
  type SendOutcome,
} from '../shared';
import type { AttemptStore, RecipientUpdate, SendableEmail } from '../db/attempts';
import type { LifecycleStore } from '../db/lifecycle';
import type { Metrics } from '../metrics';
import type { TransportRegistry } from '../smtp/transports';
import { classifySmtpError, recipientRepliesOf, type SmtpFailure } from '../smtp/classify';
import { messageFor, trackedMessageStream } from '../smtp/message';
import { gatewayName, redactOutcome } from '../smtp/redact';

export interface SendDeps {
  attempts: AttemptStore;
  lifecycle: Pick<LifecycleStore, 'closeWithKnownOutcome'>;
  transports: TransportRegistry;
  gatewayUrl: string;
  metrics: Metrics;
}

type Recipients = SendableEmail['recipients'];
type AttemptRecord = Omit<Parameters<AttemptStore['recordAttempt']>[0], 'emailId'>;

/** The recipients with this attempt's outcomes applied. */
function applyUpdates(recipients: Recipients, updates: RecipientUpdate[]): Recipients {
  const byAddress = new Map(updates.map((u) => [u.address, u.status]));
  return recipients.map((r) => ({ address: r.address, status: byAddress.get(r.address) ?? r.status }));
}

function outcomeOf(recipients: Recipients, alreadySent: boolean): SendOutcome {
  const of = (status: RecipientOutcome) => recipients.filter((r) => r.status === status).map((r) => r.address);
  const status = statusOfRecipients(recipients.map((r) => r.status));
  return { status: status === 'sent' ? 'sent' : 'failed', accepted: of('accepted'), rejected: of('rejected'), alreadySent };
}

function notSendable(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: EMAIL_NOT_SENDABLE, message, nonRetryable: true });
}

/**
 * One delivery attempt of one email. Temporal calls it again, with backoff, when it throws a
 * retryable failure; it throws non-retryable ones for 5yz replies. It only ever sends to the
 * recipients that the gateway has not accepted or refused for good in an earlier attempt, which
 * is the duplicate guard: the outcome is recorded first thing after the gateway answers.
 */
export function createSendEmail({ attempts, lifecycle, transports, gatewayUrl, metrics }: SendDeps) {
  const gateway = gatewayName(gatewayUrl);
  const onEnded = (e: { tenantId: string; status: 'sent' | 'failed' | 'cancelled'; dueAt: Date }) => metrics.emailEnded(e.tenantId, gateway, e.status, e.dueAt);
  /** Records an attempt; counts it, and the email when the attempt ended it. */
  async function record(email: SendableEmail, args: AttemptRecord): Promise<void> {
    const applied = await attempts.recordAttempt({ emailId: email.id, ...args });
    const { outcome, smtpCode } = args.result;
    metrics.smtpAttempt(gateway, outcome, smtpCode);
    Context.current().log.info('SMTP attempt', { outcome, smtpCode: smtpCode ?? null, status: args.status, late: !applied });
    if (applied && (args.status === 'sent' || args.status === 'failed')) onEnded({ tenantId: email.tenantId, status: args.status, dueAt: email.dueAt });
  }

  return async function sendEmail(emailId: string): Promise<SendOutcome> {
    const email = await attempts.loadForSend(emailId);
    if (!email) throw notSendable(`email ${emailId} not found`);
    if (email.status === 'cancelled') throw notSendable(`email ${emailId} is cancelled`);
    const unsent = email.recipients.filter((r) => isUnsent(r.status)).map((r) => r.address);
    if (unsent.length === 0) {
      // The duplicate guard: nothing left to send. Make sure the status says so.
      const outcome = outcomeOf(email.recipients, true);
      if (email.status !== 'sent') await lifecycle.closeWithKnownOutcome(emailId, outcome.status, onEnded);
      return outcome;
    }

    if (!email.attempted) metrics.firstAttempt(gateway, email.dueAt);
    const attemptId = await attempts.beginAttempt(emailId);
    const message = await messageFor(email);
    const tracked = trackedMessageStream(message.raw);
    const ctx = Context.current();
    // Tells Temporal this worker is alive while the message waits for a pooled connection or
    // a slow gateway; a dead worker is then noticed within the heartbeat timeout.
    const heartbeat = ctx.info.heartbeatTimeoutMs ? setInterval(() => ctx.heartbeat(), ctx.info.heartbeatTimeoutMs / 3) : undefined;
    // Never send once Temporal has given up on this attempt: at its deadline the pool drops a
    // message still waiting for a connection (and cuts one under way).
    const abortAfterMs = attemptAbortAfterMs({ nowMs: Date.now(), ...ctx.info });
    const deadline = abortAfterMs === undefined ? undefined : AbortSignal.timeout(abortAfterMs);
    let info: { accepted?: unknown[]; rejectedErrors?: unknown[]; response?: string };
    try {
      // Replies are redacted before anything is recorded: tenants never read the gateway's address.
      info = redactOutcome(await transports.get(gatewayUrl).sendMail({ envelope: { from: message.envelopeFrom, to: unsent }, raw: tracked.stream, signal: deadline }), gatewayUrl);
    } catch (error) {
      ctx.log.warn('SMTP attempt failed', { emailId, error: String(error) });
      const failure = classifySmtpError(redactOutcome(error, gatewayUrl), tracked.dataPhaseSent());
      await recordFailure(record, email, attemptId, failure);
      throw ApplicationFailure.create({
        type: FAILURE_TYPE_OF[failure.kind],
        message: failure.smtpResponse ?? failure.message,
        nonRetryable: !isRetryable(failure.kind),
        details: [{ errorCode: failure.errorCode ?? null, smtpCode: failure.smtpCode ?? null }],
      });
    } finally {
      clearInterval(heartbeat);
    }

    const replies = recipientRepliesOf(info.rejectedErrors as never);
    const acceptedNow = (info.accepted ?? []).map((a) => String(a).toLowerCase());
    const smtpCode = codeOf(info.response);
    const updates: RecipientUpdate[] = [
      ...acceptedNow.map((address) => ({ address, status: 'accepted' as const, smtpCode, smtpResponse: info.response })),
      ...replies.map((r) => ({ ...r, status: r.permanent ? ('rejected' as const) : ('deferred' as const) })),
    ];
    const recipients = applyUpdates(email.recipients, updates);
    const deferred = replies.filter((r) => !r.permanent);
    await record(email, {
      attemptId,
      status: statusOfRecipients(recipients.map((r) => r.status)),
      recipients: updates,
      result: { outcome: replies.length > 0 ? 'partial' : 'sent', smtpCode, smtpResponse: info.response, accepted: acceptedNow, rejected: replies.map((r) => r.address) },
      lastError: deferred.length > 0 ? deferred.map((d) => `${d.address}: ${d.smtpResponse}`).join('; ') : undefined,
    });
    if (deferred.length > 0) {
      throw ApplicationFailure.create({
        type: SMTP_RECIPIENTS_DEFERRED,
        message: `${deferred.length} recipient(s) deferred: ${deferred.map((d) => d.smtpResponse).join('; ')}`,
      });
    }
    return outcomeOf(recipients, false);
  };
}

function codeOf(response: string | undefined): number | undefined {
  const match = response?.match(/^(\d{3})/);
  return match ? Number(match[1]) : undefined;
}

/** Records a failed attempt; a permanent refusal of the whole message refuses every unsent recipient. */
async function recordFailure(record: (email: SendableEmail, args: AttemptRecord) => Promise<void>, email: SendableEmail, attemptId: string, failure: SmtpFailure): Promise<void> {
  const permanent = !isRetryable(failure.kind);
  const updates: RecipientUpdate[] = failure.recipientReplies.map((r) => ({ ...r, status: r.permanent ? 'rejected' : 'deferred' }));
  if (permanent) {
    const answered = new Set(updates.map((u) => u.address));
    for (const r of email.recipients.filter((x) => isUnsent(x.status) && !answered.has(x.address))) {
      updates.push({ address: r.address, status: 'rejected', smtpCode: failure.smtpCode, smtpResponse: failure.smtpResponse });
    }
  }
  const outcomes = applyUpdates(email.recipients, updates).map((r) => (permanent ? outcomeWhenEnded(r.status) : r.status));
  await record(email, {
    attemptId,
    status: statusOfRecipients(outcomes),
    recipients: updates,
    result: {
      outcome: failure.kind,
      smtpCode: failure.smtpCode,
      smtpResponse: failure.smtpResponse,
      errorCode: failure.errorCode,
      errorMessage: failure.message,
      accepted: [],
      rejected: failure.recipientReplies.map((r) => r.address),
    },
    lastError: failure.smtpResponse ?? failure.message,
  });
}
