import { DeliveryError, type DeliveryErrorCode } from '../deliveries/errors';
import { IDEMPOTENCY_HEADER } from './message';

// What the submission listener answers, with its enhanced status code (RFC 3463): 2yz done, 4yz
// try again (the client keeps the message), 5yz never send this again. Every refusal of the
// delivery service is turned into a reply by ONE table here, as src/api/problem.ts turns them
// into HTTP answers.

export interface SmtpReply {
  code: number;
  /** Enhanced status code, e.g. 5.7.1. */
  status: string;
  text: string;
}

/** An enhanced status code at the start of a reply text: the listener sends such a text as it is. */
export const OWN_STATUS = /^[245]\.\d{1,3}\.\d{1,3} /;

const reply = (code: number, status: string, text: string): SmtpReply => ({ code, status, text });

/** The error an smtp-server callback takes to answer this reply. */
export function smtpError(r: SmtpReply): Error & { responseCode: number } {
  return Object.assign(new Error(`${r.status} ${r.text}`), { responseCode: r.code });
}

export const REPLIES = {
  accepted: (id: string, replayed: boolean) => reply(250, '2.6.0', `${replayed ? 'Already queued' : 'Queued'} as ${id}`),
  authRequired: reply(530, '5.7.0', 'Authentication required: AUTH PLAIN or LOGIN with an API key as the password'),
  encryptionRequired: reply(538, '5.7.11', 'Encryption required: STARTTLS (or the implicit TLS port) before AUTH'),
  badCredentials: reply(535, '5.7.8', 'Authentication credentials invalid: the password must be a Herald API key'),
  missingScope: reply(535, '5.7.8', 'This API key does not have the send scope'),
  keyNoLongerValid: reply(550, '5.7.8', 'The API key of this session is no longer valid'),
  authUnavailable: reply(454, '4.7.0', 'Temporary authentication failure, try again'),
  authRateLimited: (retryAfterS: number) => reply(454, '4.7.0', `Too many requests for this tenant, try again in ${retryAfterS} s`),
  rateLimited: (retryAfterS: number) => reply(451, '4.7.0', `Too many requests for this tenant, try again in ${retryAfterS} s`),
  tooManyConnections: (max: number) => reply(421, '4.7.0', `Too many connections for this tenant (at most ${max}), try again later`),
  badSender: reply(553, '5.1.7', 'Bad sender address syntax'),
  badRecipient: reply(553, '5.1.3', 'Bad recipient address syntax'),
  messageTooLarge: (max: number) => reply(552, '5.3.4', `Message exceeds fixed maximum message size ${max}`),
  badMessage: (why: string) => reply(550, '5.6.0', `Message refused: ${why}`),
  dataTimeout: reply(421, '4.4.2', 'The message did not arrive in time, closing'),
  tryAgain: reply(451, '4.3.0', 'Temporary failure, try again'),
};

/** The service's refusals (DeliveryError), as an SMTP client must hear them. */
const DELIVERY_ERROR_REPLY: Record<DeliveryErrorCode, (err: DeliveryError) => SmtpReply> = {
  'sender-not-allowed': (err) => reply(550, '5.7.1', err.message),
  'quota-exceeded': (err) => reply(451, '4.7.0', `${err.message}, try again in ${err.details.retryAfterS ?? 3600} s`),
  'idempotency-key-reused': () => reply(550, '5.7.0', `This ${IDEMPOTENCY_HEADER} was used with another envelope`),
  'temporal-unavailable': () => REPLIES.tryAgain,
  // Not answers to a submission; a 4xx keeps the message with its client should one ever appear.
  'not-found': () => REPLIES.tryAgain,
  'email-finished': () => REPLIES.tryAgain,
  'not-applicable': () => REPLIES.tryAgain,
  'not-failed': () => REPLIES.tryAgain,
  'still-running': () => REPLIES.tryAgain,
  'webhook-target-refused': () => REPLIES.tryAgain,
  'webhook-limit-reached': () => REPLIES.tryAgain,
  'campaign-finished': () => REPLIES.tryAgain,
  'campaign-not-draft': () => REPLIES.tryAgain,
  'no-recipients': () => REPLIES.tryAgain,
  'too-many-recipients': () => REPLIES.tryAgain,
  'upload-too-large': () => REPLIES.tryAgain,
  'invalid-upload': () => REPLIES.tryAgain,
};

/** The reply to anything that stopped a submission: a refusal of the service, or 451 4.3.0. */
export function replyFor(err: unknown): SmtpReply {
  return err instanceof DeliveryError ? DELIVERY_ERROR_REPLY[err.code](err) : REPLIES.tryAgain;
}
