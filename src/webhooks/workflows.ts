import type { Client } from '@temporalio/client';
import { WEBHOOK_DISPATCH_WORKFLOW, WEBHOOK_WORK_SIGNAL, webhookWorkflowId, type WebhookPolicy } from '../shared';
import type { EndpointRef } from '../db/webhooks';

/** Wakes an endpoint's dispatcher workflow, starting it when none runs (signal-with-start). */
export type DispatchWebhooks = (endpoint: EndpointRef) => Promise<void>;

/**
 * The dispatchers run on a task queue of their own (`<TEMPORAL_TASK_QUEUE>-webhooks`), served by
 * a worker of their own: a receiver that hangs holds webhook activity slots, never email ones.
 */
export function webhookTaskQueue(emailTaskQueue: string): string {
  return `${emailTaskQueue}-webhooks`;
}

export function createWebhookDispatch(client: Client, taskQueue: string, policy: WebhookPolicy): DispatchWebhooks {
  return async ({ endpointId, tenantId }) => {
    await client.workflow.signalWithStart(WEBHOOK_DISPATCH_WORKFLOW, {
      workflowId: webhookWorkflowId(endpointId),
      taskQueue,
      args: [{ endpointId, tenantId, policy }],
      signal: WEBHOOK_WORK_SIGNAL,
      signalArgs: [],
      staticSummary: `Webhook deliveries to endpoint ${endpointId} of tenant ${tenantId}`,
      priority: { fairnessKey: tenantId },
    });
  };
}
