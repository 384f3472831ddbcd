import { domainOf, type EmailStatus, type Tenant } from '../shared';

// Why the service refuses a request. The API turns each into a problem+json answer (and the
// SMTP listener into a reply code); the service itself knows nothing of HTTP.

export type DeliveryErrorCode =
  | 'not-found' // no such email for this tenant (or not an email id at all)
  | 'email-finished' // already sent, failed or cancelled: cannot be changed
  | 'not-applicable' // the control does not apply in the delivery's current phase
  | 'not-failed' // only a failed email can be re-driven
  | 'still-running' // the previous run of a re-driven email has not closed yet
  | 'idempotency-key-reused' // the key was used with another request body
  | 'sender-not-allowed' // the from address is not of one of the tenant's sending domains
  | 'quota-exceeded' // the tenant's daily quota is used up
  | 'temporal-unavailable' // the workflow could not be started
  | 'campaign-finished' // the campaign is cancelled or completed: cannot be changed
  | 'campaign-not-draft' // recipients can only be added before the campaign starts
  | 'no-recipients' // a campaign without recipients cannot start
  | 'too-many-recipients' // the upload would take the campaign past its bound
  | 'upload-too-large' // the upload exceeds its byte bound
  | 'invalid-upload' // the upload cannot be read (no usable CSV header, unreadable CSV)
  | 'webhook-target-refused' // the webhook URL (or what its host resolves to) is not allowed
  | 'webhook-limit-reached'; // the tenant has as many webhook endpoints as it may

export class DeliveryError extends Error {
  constructor(
    readonly code: DeliveryErrorCode,
    message: string,
    readonly details: { detail?: string; emailStatus?: EmailStatus; domain?: string; retryAfterS?: number; quota?: number } = {},
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export const emailFinished = (status: EmailStatus) =>
  new DeliveryError('email-finished', `The email is already ${status}`, {
    detail: 'only an email that has not reached sent, failed or cancelled can be changed',
    emailStatus: status,
  });

/** A sender (the API's from, SMTP's MAIL FROM or From field) not of the tenant's sending domains. */
export function senderNotAllowed(tenant: Pick<Tenant, 'sendingDomains'>, address: string): DeliveryError {
  const domain = domainOf(address);
  return new DeliveryError('sender-not-allowed', `This tenant may not send from ${domain}`, {
    detail: `the from address must be of one of the tenant's sending domains: ${tenant.sendingDomains.join(', ') || '(none)'}`,
    domain,
  });
}
