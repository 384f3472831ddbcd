import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  attemptAbortAfterMs,
  DKIM_SIGNING_FAILED,
  EMAIL_NOT_SENDABLE,
  SMTP_GATEWAY_UNAVAILABLE,
  SMTP_RECIPIENTS_DEFERRED,
  failureTypeOf,
  isRetryable,
  isUnsent,
  outcomeWhenEnded,
  retryDelayFromReply,
  statusOfRecipients,
  suppressesRecipient,
  type EmailMessage,
  type RecipientOutcome,
  type SendOutcome,
  type SendTarget,
} from '../shared';
import type { AttemptStore, NewBounceSuppression, RecipientUpdate, SendableEmail } from '../db/attempts';
import type { LifecycleStore } from '../db/lifecycle';
import type { Metrics } from '../metrics';
import type { TransportRegistry } from '../smtp/transports';
import type { Breakers } from '../smtp/breaker';
import { classifySmtpError, recipientRepliesOf, type RecipientReply, type SmtpFailure } from '../smtp/classify';
import { messageFor, signMessage, trackedMessageStream } from '../smtp/message';
import { redactOutcome } from '../smtp/redact';

export interface SendDeps {
  attempts: AttemptStore;
  /** The message as sent: a campaign's email rendered for its recipient (src/campaigns/render.ts), any other as it is. */
  personalize: (email: SendableEmail) => Promise<EmailMessage>;
  lifecycle: Pick<LifecycleStore, 'closeWithKnownOutcome'>;
  transports: TransportRegistry;
  breakers: Breakers;
  metrics: Metrics;
}

type Recipients = SendableEmail['recipients'];
type AttemptRecord = Omit<Parameters<AttemptStore['recordAttempt']>[0], 'emailId'>;

/** The recipients with this attempt's outcomes applied. */
function applyUpdates(recipients: Recipients, updates: Array<{ address: string; status: RecipientOutcome }>): Recipients {
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

/** Recipients refused at RCPT as unknown mailboxes: suppressed, with the reply as the reason. */
function bouncesToSuppress(replies: RecipientReply[]): NewBounceSuppression[] {
  return replies
    .filter((r) => r.permanent && suppressesRecipient(r))
    .map((r) => ({ address: r.address, reason: r.smtpResponse ?? `reply ${r.smtpCode}`, smtpCode: r.smtpCode }));
}

/**
 * One delivery attempt of one email through one gateway. Temporal calls it again, with backoff,
 * when it throws a retryable failure; it throws non-retryable ones for 5yz replies. It only ever
 * sends to the recipients that the gateway has not accepted or refused for good in an earlier
 * attempt, which is the duplicate guard: the outcome is recorded first thing after the gateway
 * answers. Recipients on the tenant's suppression list are recorded `suppressed`, never sent to.
 *
 * @param target the gateway, by name (the workflow knows no URL); absent: the first configured one
 */
export function createSendEmail({ attempts, personalize, lifecycle, transports, breakers, metrics }: SendDeps) {
  type Ended = { tenantId: string; status: 'sent' | 'failed' | 'cancelled'; dueAt: Date };
  const onEnded = (gateway: string) => (e: Ended) => metrics.emailEnded(e.tenantId, gateway, e.status, e.dueAt);
  /** Records an attempt; counts it, and the email when the attempt ended it. */
  async function record(gateway: string, email: SendableEmail, args: AttemptRecord): Promise<void> {
    const applied = await attempts.recordAttempt({ emailId: email.id, ...args });
    const { outcome, smtpCode } = args.result;
    metrics.smtpAttempt(gateway, outcome, smtpCode);
    Context.current().log.info('SMTP attempt', { gateway, outcome, smtpCode: smtpCode ?? null, status: args.status, late: !applied });
    if (applied && (args.status === 'sent' || args.status === 'failed'))
      onEnded(gateway)({ tenantId: email.tenantId, status: args.status, dueAt: email.dueAt });
  }

  /**
   * Tells Temporal this worker is alive for the whole attempt: while it waits for PostgreSQL (a
   * restart queues its queries for seconds), for a pooled connection or for a slow gateway. A dead
   * worker is noticed within the heartbeat timeout; a live one waiting is never given up on and
   * retried beside itself (the abandoned attempt could still send).
   */
  return async function sendEmail(emailId: string, target?: SendTarget): Promise<SendOutcome> {
    const ctx = Context.current();
    const heartbeat = ctx.info.heartbeatTimeoutMs ? setInterval(() => ctx.heartbeat(), ctx.info.heartbeatTimeoutMs / 3) : undefined;
    try {
      return await attempt(emailId, target);
    } finally {
      clearInterval(heartbeat);
    }
  };

  async function attempt(emailId: string, target?: SendTarget): Promise<SendOutcome> {
    const gateway = transports.gateway(target?.gateway ?? transports.gateways[0].name);
    if (!gateway)
      throw ApplicationFailure.create({
        type: SMTP_GATEWAY_UNAVAILABLE,
        message: `no gateway named ${target?.gateway} is configured in this worker`,
      });
    const ended = onEnded(gateway.name);
    const loaded = await attempts.loadForSend(emailId);
    if (!loaded) throw notSendable(`email ${emailId} not found`);
    if (loaded.status === 'cancelled') throw notSendable(`email ${emailId} is cancelled`);
    let email = loaded;

    const suppressed = email.recipients.filter((r) => isUnsent(r.status) && r.suppressedBecause !== undefined);
    if (suppressed.length > 0) {
      const recipients = applyUpdates(
        email.recipients,
        suppressed.map((r) => ({ address: r.address, status: 'suppressed' as const })),
      );
      const outcome = outcomeOf(recipients, false);
      const final = recipients.some((r) => isUnsent(r.status)) ? undefined : outcome.status;
      const reason = `${suppressed.length === email.recipients.length ? 'every recipient is' : `${suppressed.length} recipient(s)`} on the suppression list: ${suppressed.map((r) => `${r.address} (${r.suppressedBecause})`).join('; ')}`;
      await attempts.recordSuppressed({
        emailId,
        recipients: suppressed.map((r) => ({ address: r.address, reason: r.suppressedBecause! })),
        finalStatus: final,
        reason,
      });
      if (final) {
        ended({ tenantId: email.tenantId, status: final, dueAt: email.dueAt });
        return outcome;
      }
      email = { ...email, recipients };
    }

    const unsent = email.recipients.filter((r) => isUnsent(r.status)).map((r) => r.address);
    if (unsent.length === 0) {
      // The duplicate guard: nothing left to send. Make sure the status says so.
      const outcome = outcomeOf(email.recipients, true);
      if (email.status !== 'sent') await lifecycle.closeWithKnownOutcome(emailId, outcome.status, ended);
      return outcome;
    }

    // As submitted (SMTP) or composed (API); signed with the From domain's key when it has one.
    const message = await messageFor(await personalize(email));
    const tracked = trackedMessageStream(email.dkim ? await sign(message.raw, email.dkim) : message.raw);

    // The gateway's circuit: open, this attempt goes to the email's next gateway without trying.
    const breaker = breakers.of(gateway.name);
    const admission = breaker.admit(!(target?.mayFailOver ?? false));
    if (!admission.allowed) {
      throw ApplicationFailure.create({
        type: SMTP_GATEWAY_UNAVAILABLE,
        message: `gateway ${gateway.name} skipped: its circuit is open after repeated connection failures (${Math.ceil(admission.openForMs / 1000)} s left)`,
        details: [{ gateway: gateway.name, circuitOpen: true }],
      });
    }
    if (!email.attempted) metrics.firstAttempt(gateway.name, email.dueAt);
    let attemptId: string;
    try {
      attemptId = await attempts.beginAttempt(emailId, gateway.name);
    } catch (err) {
      breaker.released(admission.probe);
      throw err;
    }
    const ctx = Context.current();
    // Never send once Temporal has given up on this attempt: at its deadline the pool drops a
    // message still waiting for a connection (and cuts one under way).
    const abortAfterMs = attemptAbortAfterMs({ nowMs: Date.now(), ...ctx.info });
    const deadline = abortAfterMs === undefined ? undefined : AbortSignal.timeout(abortAfterMs);
    let info: { accepted?: unknown[]; rejectedErrors?: unknown[]; response?: string };
    try {
      // Replies are redacted before anything is recorded: tenants never read the gateway's address.
      info = redactOutcome(
        await transports
          .get(gateway.name)
          .sendMail({ envelope: { from: message.envelopeFrom, to: unsent }, raw: tracked.stream, signal: deadline }),
        gateway.url,
      );
    } catch (error) {
      // The gateway's own message names no address once redacted; the log carries its name only.
      const failure = classifySmtpError(redactOutcome(error, gateway.url), tracked.dataPhaseSent());
      if (failure.gateway || failure.kind === 'uncertain') breaker.failed(admission.probe);
      else breaker.succeeded(admission.probe);
      ctx.log.warn('SMTP attempt failed', {
        emailId,
        gateway: gateway.name,
        kind: failure.kind,
        errorCode: failure.errorCode,
        smtpCode: failure.smtpCode,
        message: failure.message,
      });
      await recordFailure((args) => record(gateway.name, email, args), email, attemptId, failure);
      throw ApplicationFailure.create({
        type: failureTypeOf(failure.kind, failure.gateway),
        message: failure.smtpResponse ?? failure.message,
        nonRetryable: !isRetryable(failure.kind),
        // A "try again in N minutes" reply sets the next retry's delay (bounded by the give-up time).
        nextRetryDelay: failure.retryAfterMs,
        details: [
          {
            gateway: gateway.name,
            errorCode: failure.errorCode ?? null,
            smtpCode: failure.smtpCode ?? null,
            retryAfterMs: failure.retryAfterMs ?? null,
          },
        ],
      });
    }
    breaker.succeeded(admission.probe);

    const replies = recipientRepliesOf(info.rejectedErrors as never);
    const acceptedNow = (info.accepted ?? []).map((a) => String(a).toLowerCase());
    const smtpCode = codeOf(info.response);
    const updates: RecipientUpdate[] = [
      ...acceptedNow.map((address) => ({ address, status: 'accepted' as const, smtpCode, smtpResponse: info.response })),
      ...replies.map((r) => ({ ...r, status: r.permanent ? ('rejected' as const) : ('deferred' as const) })),
    ];
    const recipients = applyUpdates(email.recipients, updates);
    const deferred = replies.filter((r) => !r.permanent);
    await record(gateway.name, email, {
      attemptId,
      status: statusOfRecipients(recipients.map((r) => r.status)),
      recipients: updates,
      result: {
        outcome: replies.length > 0 ? 'partial' : 'sent',
        smtpCode,
        smtpResponse: info.response,
        accepted: acceptedNow,
        rejected: replies.map((r) => r.address),
      },
      lastError: deferred.length > 0 ? deferred.map((d) => `${d.address}: ${d.smtpResponse}`).join('; ') : undefined,
      suppress: { tenantId: email.tenantId, addresses: bouncesToSuppress(replies) },
    });
    if (deferred.length > 0) {
      const retryAfterMs = deferred.map((d) => retryDelayFromReply(d.smtpCode, d.smtpResponse)).find((d) => d !== undefined);
      throw ApplicationFailure.create({
        type: SMTP_RECIPIENTS_DEFERRED,
        message: `${deferred.length} recipient(s) deferred: ${deferred.map((d) => d.smtpResponse).join('; ')}`,
        nextRetryDelay: retryAfterMs,
        details: [{ gateway: gateway.name, errorCode: null, smtpCode: deferred[0].smtpCode ?? null, retryAfterMs: retryAfterMs ?? null }],
      });
    }
    return outcomeOf(recipients, false);
  }
}

/** Signs with the From domain's key; a key that cannot sign says so without showing itself. */
async function sign(raw: Buffer, key: NonNullable<SendableEmail['dkim']>): Promise<Buffer> {
  try {
    return await signMessage(raw, key);
  } catch (err) {
    throw ApplicationFailure.create({
      type: DKIM_SIGNING_FAILED,
      message: `DKIM signing with the key of ${key.domainName} (selector ${key.keySelector}) failed: ${(err as Error).message?.slice(0, 200)}; set a valid key with herald dkim set`,
    });
  }
}

function codeOf(response: string | undefined): number | undefined {
  const match = response?.match(/^(\d{3})/);
  return match ? Number(match[1]) : undefined;
}

/** Records a failed attempt; a permanent refusal of the whole message refuses every unsent recipient. */
async function recordFailure(
  record: (args: AttemptRecord) => Promise<void>,
  email: SendableEmail,
  attemptId: string,
  failure: SmtpFailure,
): Promise<void> {
  const permanent = !isRetryable(failure.kind);
  const updates: RecipientUpdate[] = failure.recipientReplies.map((r) => ({ ...r, status: r.permanent ? 'rejected' : 'deferred' }));
  if (permanent) {
    const answered = new Set(updates.map((u) => u.address));
    for (const r of email.recipients.filter((x) => isUnsent(x.status) && !answered.has(x.address))) {
      updates.push({ address: r.address, status: 'rejected', smtpCode: failure.smtpCode, smtpResponse: failure.smtpResponse });
    }
  }
  const outcomes = applyUpdates(email.recipients, updates).map((r) => (permanent ? outcomeWhenEnded(r.status) : r.status));
  await record({
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
    suppress: { tenantId: email.tenantId, addresses: bouncesToSuppress(failure.recipientReplies) },
  });
}
