import type { FailureKind } from './delivery-rules';

// Error type names carried by ApplicationFailure. They are string constants, not class names,
// so that renaming a class never changes which failures Temporal retries.

/** The gateway answered 5yz (or 5.x.x): retrying will not help. */
export const SMTP_PERMANENT_FAILURE = 'SmtpPermanentFailure';
/** 4yz reply about this message or its recipients: tried again through the same gateway. */
export const SMTP_TRANSIENT_FAILURE = 'SmtpTransientFailure';
/**
 * The gateway is unusable (connection refused or cut before the data, TLS, timeouts, 421, a
 * refused login, an open circuit): the next attempt goes to the next gateway (src/shared/gateways.ts).
 */
export const SMTP_GATEWAY_UNAVAILABLE = 'SmtpGatewayUnavailable';
/** The connection broke after the message data was sent: the gateway may hold a copy (RFC 1047). */
export const SMTP_UNCERTAIN_FAILURE = 'SmtpUncertainFailure';
/** Some recipients were deferred (4yz) while others were accepted: only those are retried. */
export const SMTP_RECIPIENTS_DEFERRED = 'SmtpRecipientsDeferred';
/** The From domain's DKIM key could not sign (the operator's key is broken): retried until fixed. */
export const DKIM_SIGNING_FAILED = 'DkimSigningFailed';
/** The email row is missing or cannot be sent (bad data): never retried. */
export const EMAIL_NOT_SENDABLE = 'EmailNotSendable';
/**
 * PostgreSQL refused a status write for its data (SQLSTATE class 22, 23 or 54): retrying the
 * same write cannot succeed, so it is not retried and the delivery ends visibly.
 */
export const STATUS_WRITE_REFUSED = 'StatusWriteRefused';
/** The workflow's own terminal failure once delivery has failed for good. */
export const DELIVERY_FAILED = 'DeliveryFailed';
/** The retry window closed before an attempt succeeded. */
export const GAVE_UP = 'GaveUp';

// Refusals of a control (an update's validator), answered to the caller.
export const DELIVERY_FINISHED = 'DeliveryFinished';
export const ALREADY_SENDING = 'AlreadySending';
export const INVALID_SEND_AT = 'InvalidSendAt';
/** A control's reason or actor that PostgreSQL could not store, or that is too long. */
export const INVALID_CONTROL_REQUEST = 'InvalidControlRequest';

export const NON_RETRYABLE_ERROR_TYPES = [SMTP_PERMANENT_FAILURE, EMAIL_NOT_SENDABLE];

export const FAILURE_TYPE_OF: Record<FailureKind, string> = {
  transient: SMTP_TRANSIENT_FAILURE,
  permanent: SMTP_PERMANENT_FAILURE,
  uncertain: SMTP_UNCERTAIN_FAILURE,
};

/** The failure type of a failed attempt: a transient failure of the gateway itself fails over. */
export function failureTypeOf(kind: FailureKind, gatewayFailure: boolean): string {
  return kind === 'transient' && gatewayFailure ? SMTP_GATEWAY_UNAVAILABLE : FAILURE_TYPE_OF[kind];
}
