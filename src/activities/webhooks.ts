import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WebhookStore } from '../db/webhooks';
import type { Metrics } from '../metrics';
import { WEBHOOK_DELIVERY_FAILED, WEBHOOK_ENDPOINT_DISABLED, workflowIdFor, type WebhookClaim } from '../shared';
import { signatureHeaders } from '../webhooks/signing';
import type { WebhookPoster } from '../webhooks/http';

export interface WebhookActivityDeps {
  store: WebhookStore;
  poster: WebhookPoster;
  metrics: Metrics;
  timeoutMs: number;
  /** An endpoint failing (no success in between) for this long is disabled. */
  disableAfterMs: number;
  /** The longest a receiver's Retry-After may push the next attempt. */
  maxRetryAfterMs: number;
}

/** The side effects of webhook delivery, for the dispatcher workflows (src/workflows/deliver-webhooks.ts). */
export function createWebhookActivities({ store, poster, metrics, timeoutMs, disableAfterMs, maxRetryAfterMs }: WebhookActivityDeps) {
  return {
    async claimWebhookDeliveries(endpointId: string, holding: string[], limit: number): Promise<WebhookClaim> {
      return store.claim(endpointId, holding, limit);
    },

    /**
     * One attempt of one delivery: signed (Standard Webhooks) at the time of the attempt, under the
     * message's stable webhook-id. Throws a retryable failure when no 2xx comes back, and a
     * non-retryable one when the endpoint is (or has just been) disabled.
     */
    async deliverWebhook(deliveryId: string): Promise<'delivered' | 'not-pending'> {
      const job = await store.loadDelivery(deliveryId);
      if (!job || job.status !== 'pending') return 'not-pending'; // deleted, or delivered by a re-send meanwhile
      const { emailId } = job.message;
      // workflowId (in every activity line) is the dispatcher's; the email's own is named beside it.
      const context = {
        emailId,
        emailWorkflowId: emailId ? workflowIdFor(emailId) : null,
        tenantId: job.endpoint.tenantId,
        endpointId: job.endpoint.id,
        webhookId: job.message.id,
        event: job.message.type,
      };
      if (job.endpoint.disabledAt) {
        throw ApplicationFailure.create({
          type: WEBHOOK_ENDPOINT_DISABLED,
          message: `endpoint ${job.endpoint.id} is disabled`,
          nonRetryable: true,
        });
      }
      const log = Context.current().log;
      const response = await poster.post({
        url: job.endpoint.url,
        body: job.message.body,
        headers: signatureHeaders(job.message.id, job.message.body, job.endpoint.secrets, new Date()),
        timeoutMs,
      });
      if (response.ok) {
        await store.recordDelivered(job, response);
        metrics.webhookDelivery('delivered', response.durationMs);
        log.info('webhook delivered', {
          ...context,
          httpStatus: response.status,
          attempt: job.attempts + 1,
          durationMs: response.durationMs,
        });
        return 'delivered';
      }
      const error = response.error ?? 'failed';
      const { disabledReason } = await store.recordFailedAttempt(job, { ...response, error }, disableAfterMs);
      metrics.webhookDelivery(disabledReason ? 'disabled' : 'failed_attempt', response.durationMs);
      log.warn('webhook attempt failed', {
        ...context,
        httpStatus: response.status ?? null,
        error,
        attempt: job.attempts + 1,
        disabled: Boolean(disabledReason),
      });
      if (disabledReason) {
        throw ApplicationFailure.create({ type: WEBHOOK_ENDPOINT_DISABLED, message: disabledReason, nonRetryable: true });
      }
      const retryAfter = response.retryAfterMs !== undefined ? Math.min(response.retryAfterMs, maxRetryAfterMs) : undefined;
      throw ApplicationFailure.create({ type: WEBHOOK_DELIVERY_FAILED, message: error, nextRetryDelay: retryAfter });
    },

    /** The retry window closed: the delivery is failed, and can be sent again by hand. */
    async webhookGaveUp(deliveryId: string, reason: string): Promise<void> {
      await store.markFailed(deliveryId, `gave up: ${reason}`);
      metrics.webhookDelivery('gave_up');
    },
  };
}

export type WebhookActivities = ReturnType<typeof createWebhookActivities>;
