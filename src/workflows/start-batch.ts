import { proxyActivities } from '@temporalio/workflow';
import type { StarterActivities } from '../activities/start-deliveries';

const { startStoredDeliveries } = proxyActivities<StarterActivities>({
  startToCloseTimeout: '5 minutes',
  // Until the Temporal frontend answers again: every start is idempotent.
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * The durable starter of one batch of emails (POST /v1/emails/batch): the API stores the batch
 * in one transaction, starts this workflow and answers; the activity then starts each email's
 * deliverEmail workflow (workflow id email-<id>, idempotent). It carries ids only.
 */
export async function startBatch(input: { emailIds: string[] }): Promise<{ started: number }> {
  return { started: await startStoredDeliveries(input.emailIds) };
}
