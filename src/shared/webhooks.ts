// What a webhook dispatcher workflow is given. One dispatcher per endpoint delivers that endpoint's
// pending deliveries (stored in PostgreSQL) as activities; it carries ids only.

/** Retries of one delivery: Temporal's RetryPolicy, for `giveUpAfterMs` (72 h by default). */
export interface WebhookPolicy {
  initialIntervalMs: number;
  backoffCoefficient: number;
  maximumIntervalMs: number;
  giveUpAfterMs: number;
  /** One HTTP request, connection to last byte. */
  timeoutMs: number;
  /** Deliveries in flight at once per endpoint (one per email at most, so an email's events stay in order). */
  concurrency: number;
}

export interface WebhookDispatchInput {
  endpointId: string;
  tenantId: string;
  policy: WebhookPolicy;
}

/** A pending delivery as the dispatcher queues it: lane is the email id (or the message id of a test event). */
export interface ClaimedDelivery {
  id: string;
  lane: string;
}

export interface WebhookClaim {
  /** `gone` (deleted) and `disabled` end the dispatcher. */
  endpoint: 'enabled' | 'disabled' | 'gone';
  deliveries: ClaimedDelivery[];
  /** More pending deliveries were left than the dispatcher had room for. */
  more: boolean;
}

export function webhookWorkflowId(endpointId: string): string {
  return `webhooks-${endpointId}`;
}

export const WEBHOOK_DISPATCH_WORKFLOW = 'deliverWebhooks';
/** Sent with signal-with-start whenever an endpoint has new deliveries. */
export const WEBHOOK_WORK_SIGNAL = 'webhookWork';

/** The endpoint was disabled or deleted: the dispatcher stops. */
export const WEBHOOK_ENDPOINT_DISABLED = 'WebhookEndpointDisabled';
/** One attempt failed (no 2xx, timeout, refused target): retried under the policy. */
export const WEBHOOK_DELIVERY_FAILED = 'WebhookDeliveryFailed';
