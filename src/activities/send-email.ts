import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  EMAIL_NOT_SENDABLE,
  SMTP_PERMANENT_FAILURE,
  SMTP_RECIPIENTS_DEFERRED,
  SMTP_TRANSIENT_FAILURE,
  SMTP_UNCERTAIN_FAILURE,
  type EmailStatus,
  type SendOutcome,
} from '../shared';
import type { DeliveryStore, RecipientUpdate, SendableEmail } from '../db/delivery-store';
import type { TransportRegistry } from '../smtp/transports';
import { classifySmtpError, recipientRepliesOf, type SmtpFailure } from '../smtp/classify';
import { buildRawMessage, trackedMessageStream } from '../smtp/message';

export interface SendDeps {
  store: DeliveryStore;
  transports: TransportRegistry;
  gatewayUrl: string;
}

const UNSENT = new Set(['pending', 'deferred']);

function outcomeOf(email: SendableEmail, alreadySent: boolean): SendOutcome {
  const accepted = email.recipients.filter((r) => r.status === 'accepted').map((r) => r.address);
  const rejected = email.recipients.filter((r) => r.status === 'rejected').map((r) => r.address);
  return { status: accepted.length > 0 ? 'sent' : 'failed', accepted, rejected, alreadySent };
}

/**
 * One delivery attempt of one email. Temporal calls it again, with backoff, when it throws a
 * retryable failure; it throws non-retryable ones for 5yz replies. It only ever sends to the
 * recipients that the gateway has not accepted or refused for good in an earlier attempt, which
 * is the duplicate guard: the outcome is recorded first thing after the gateway answers.
 */
export function createSendEmail({ store, transports, gatewayUrl }: SendDeps) {
  return async function sendEmail(emailId: string): Promise<SendOutcome> {
    const email = await store.loadForSend(emailId);
    if (!email) {
      throw ApplicationFailure.create({ type: EMAIL_NOT_SENDABLE, message: `email ${emailId} not found`, nonRetryable: true });
    }
    if (email.status === 'cancelled') {
      throw ApplicationFailure.create({ type: EMAIL_NOT_SENDABLE, message: `email ${emailId} is cancelled`, nonRetryable: true });
    }
    const pending = email.recipients.filter((r) => UNSENT.has(r.status)).map((r) => r.address);
    if (email.status === 'sent' || pending.length === 0) {
      // The duplicate guard: nothing left to send. Make sure the status says so.
      const outcome = outcomeOf(email, true);
      if (email.status !== 'sent') await store.settle(emailId, outcome.status);
      return outcome;
    }

    const { attemptId } = await store.beginAttempt(emailId);
    const raw = await buildRawMessage(email);
    const tracked = trackedMessageStream(raw);

    const ctx = Context.current();
    // Tells Temporal this worker is alive while the message waits for a pooled connection or
    // a slow gateway; a dead worker is then noticed within the heartbeat timeout.
    const heartbeat = ctx.info.heartbeatTimeoutMs ? setInterval(() => ctx.heartbeat(), ctx.info.heartbeatTimeoutMs / 3) : undefined;
    // Never send once Temporal has given up on this attempt: at its deadline the pool drops a
    // message still waiting for a connection (and cuts one under way).
    const deadline = ctx.info.startToCloseTimeoutMs ? AbortSignal.timeout(Math.max(1_000, ctx.info.startToCloseTimeoutMs - 2_000)) : undefined;
    let info: { accepted?: unknown[]; rejected?: unknown[]; rejectedErrors?: unknown[]; response?: string };
    try {
      info = await transports.get(gatewayUrl).sendMail({
        envelope: { from: email.from.address, to: pending },
        raw: tracked.stream,
        signal: deadline,
      });
    } catch (error) {
      const failure = classifySmtpError(error, tracked.fullyRead());
      await recordFailure(store, email, attemptId, failure);
      throw toApplicationFailure(failure);
    } finally {
      clearInterval(heartbeat);
    }

    const replies = recipientRepliesOf(info.rejectedErrors as never);
    const acceptedNow = (info.accepted ?? []).map((a) => String(a).toLowerCase());
    const updates: RecipientUpdate[] = [
      ...acceptedNow.map((address) => ({ address, status: 'accepted' as const, smtpCode: codeOf(info.response), smtpResponse: info.response })),
      ...replies.map((r) => ({ address: r.address, status: r.permanent ? ('rejected' as const) : ('deferred' as const), smtpCode: r.smtpCode, smtpResponse: r.smtpResponse })),
    ];
    const deferred = replies.filter((r) => !r.permanent);
    const acceptedEver = email.recipients.some((r) => r.status === 'accepted') || acceptedNow.length > 0;
    const status: EmailStatus = deferred.length > 0 ? 'retrying' : acceptedEver ? 'sent' : 'failed';
    await store.recordAttempt({
      emailId,
      attemptId,
      status,
      recipients: updates,
      result: {
        outcome: replies.length > 0 ? 'partial' : 'sent',
        smtpCode: codeOf(info.response),
        smtpResponse: info.response,
        accepted: acceptedNow,
        rejected: replies.map((r) => r.address),
      },
      lastError: deferred.length > 0 ? deferred.map((d) => `${d.address}: ${d.smtpResponse}`).join('; ') : undefined,
    });
    if (deferred.length > 0) {
      throw ApplicationFailure.create({
        type: SMTP_RECIPIENTS_DEFERRED,
        message: `${deferred.length} recipient(s) deferred: ${deferred.map((d) => d.smtpResponse).join('; ')}`,
      });
    }
    const final = { ...email, recipients: email.recipients.map((r) => updates.find((u) => u.address === r.address) ?? r) };
    return outcomeOf(final, false);
  };
}

function codeOf(response: string | undefined): number | undefined {
  const match = response?.match(/^(\d{3})/);
  return match ? Number(match[1]) : undefined;
}

async function recordFailure(store: DeliveryStore, email: SendableEmail, attemptId: string, failure: SmtpFailure) {
  const recipients: RecipientUpdate[] = failure.recipientReplies.map((r) => ({
    address: r.address,
    status: r.permanent ? 'rejected' : 'deferred',
    smtpCode: r.smtpCode,
    smtpResponse: r.smtpResponse,
  }));
  if (failure.kind === 'permanent' && recipients.length === 0) {
    // The whole message was refused (MAIL FROM or DATA): every unsent recipient is refused with it.
    for (const r of email.recipients.filter((x) => UNSENT.has(x.status))) {
      recipients.push({ address: r.address, status: 'rejected', smtpCode: failure.smtpCode, smtpResponse: failure.smtpResponse });
    }
  }
  const accepted = email.recipients.some((r) => r.status === 'accepted');
  const status: EmailStatus = failure.kind === 'permanent' ? (accepted ? 'sent' : 'failed') : 'retrying';
  await store.recordAttempt({
    emailId: email.id,
    attemptId,
    status,
    recipients,
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

function toApplicationFailure(failure: SmtpFailure): ApplicationFailure {
  const type =
    failure.kind === 'permanent' ? SMTP_PERMANENT_FAILURE : failure.kind === 'uncertain' ? SMTP_UNCERTAIN_FAILURE : SMTP_TRANSIENT_FAILURE;
  return ApplicationFailure.create({
    type,
    message: failure.smtpResponse ?? failure.message,
    nonRetryable: failure.kind === 'permanent',
    details: [{ errorCode: failure.errorCode ?? null, smtpCode: failure.smtpCode ?? null }],
  });
}
