import { isGatewayFailure, isPermanentReply, retryDelayFromReply, type FailureKind } from '../shared';

// Turns a nodemailer error into what Herald does next. RFC 5321 4.2.1: 4yz is transient,
// 5yz permanent; RFC 3463 enhanced codes agree (4.x.x / 5.x.x). nodemailer's EENVELOPE covers
// both, so the reply code decides, never the error code alone.

export interface SmtpFailure {
  kind: FailureKind;
  /** The failure says nothing about the message: the gateway is unusable (src/shared/gateways.ts). */
  gateway: boolean;
  /** The delay a "try again later" reply asked for, in ms. */
  retryAfterMs?: number;
  errorCode?: string;
  smtpCode?: number;
  smtpResponse?: string;
  message: string;
  /** Per-recipient replies when the gateway rejected recipients one by one. */
  recipientReplies: RecipientReply[];
}

export interface RecipientReply {
  address: string;
  smtpCode?: number;
  smtpResponse?: string;
  permanent: boolean;
}

interface NodemailerError {
  message?: string;
  code?: string;
  responseCode?: number;
  response?: string;
  rejectedErrors?: Array<{ recipient?: string; responseCode?: number; response?: string }>;
}

/**
 * What a failure without a reply says, in words a tenant may read: nodemailer's own messages
 * name the gateway's address (connect ECONNREFUSED 10.0.0.5:587), which stays in the worker.
 */
const CONNECTION_FAILURES: Record<string, string> = {
  ECONNECTION: 'the connection to the gateway failed or was lost',
  ETIMEDOUT: 'the gateway did not answer in time',
  ESOCKET: 'the connection to the gateway failed',
  EDNS: "the gateway's name could not be resolved",
  ETLS: 'TLS with the gateway failed',
  EAUTH: "the gateway refused Herald's login",
  ECONNREFUSED: 'the gateway refused the connection',
};

// Errors that say the message (or the configuration) is wrong: retrying sends the same thing.
const PERMANENT_ERROR_CODES = new Set(['EMESSAGE_BUILD', 'EENVELOPE_NO_RECIPIENTS']);

export function recipientRepliesOf(rejectedErrors: NodemailerError['rejectedErrors']): RecipientReply[] {
  return (rejectedErrors ?? [])
    .filter((e) => e.recipient)
    .map((e) => ({
      address: String(e.recipient).toLowerCase(),
      smtpCode: e.responseCode,
      smtpResponse: e.response,
      permanent: isPermanentReply(e.responseCode),
    }));
}

/**
 * @param dataSent whether the whole message had been handed to the socket when the error came:
 *   a connection lost after that may have left a copy at the gateway (RFC 1047).
 */
export function classifySmtpError(error: unknown, dataSent: boolean): SmtpFailure {
  const err = (error ?? {}) as NodemailerError;
  const recipientReplies = recipientRepliesOf(err.rejectedErrors);
  const gateway =
    !PERMANENT_ERROR_CODES.has(err.code ?? '') && isGatewayFailure({ smtpCode: err.responseCode, errorCode: err.code, dataSent });
  const base = {
    gateway,
    retryAfterMs:
      retryDelayFromReply(err.responseCode, err.response) ??
      recipientReplies.map((r) => retryDelayFromReply(r.smtpCode, r.smtpResponse)).find((d) => d !== undefined),
    errorCode: err.code,
    smtpCode: err.responseCode,
    smtpResponse: err.response,
    message: err.responseCode
      ? (err.response ?? `reply ${err.responseCode}`)
      : (CONNECTION_FAILURES[err.code ?? ''] ?? 'the attempt failed before the gateway replied'),
    recipientReplies,
  };
  // A gateway that closes the session (421) or refused Herald's login: transient, whatever its
  // code's class; another gateway (or this one, later) may take the message.
  if (gateway) return { ...base, kind: 'transient' };
  if (err.responseCode) {
    // A reply was read: the gateway told us what it thinks. With per-recipient replies, the
    // whole failure is permanent only when every recipient was refused permanently.
    const permanent = recipientReplies.length > 0 ? recipientReplies.every((r) => r.permanent) : isPermanentReply(err.responseCode);
    return { ...base, kind: permanent ? 'permanent' : 'transient' };
  }
  if (err.code && PERMANENT_ERROR_CODES.has(err.code)) return { ...base, kind: 'permanent' };
  // No reply after the data went out: uncertain (a failure without a reply before it is a
  // gateway failure, above).
  return { ...base, kind: dataSent ? 'uncertain' : 'transient' };
}
