import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Sql } from '../db/sql';
import { createOrphanStore } from '../db/orphan-store';
import { createDeliveryStore } from '../db/delivery-store';
import type { Deliveries } from '../temporal/deliveries';
import type { DeliveryPolicy } from '../shared';

export interface ReconcileDeps {
  sql: Sql;
  client: Client;
  deliveries: Deliveries;
  policy: DeliveryPolicy;
}

export interface ReconcileResult {
  checked: number;
  started: number;
  cancelled: number;
}

export const UNACKNOWLEDGED_REASON = 'not acknowledged: the API stopped between storing the email and starting its delivery';

/**
 * The API stores an email, then starts its workflow, then answers 202. If it dies between the
 * first two steps, the row waits with no workflow. With an Idempotency-Key the caller's retry
 * would resume it, so the sweep starts it; without one the caller never had a 202 and has
 * likely sent it again, so the sweep cancels it rather than risk a duplicate.
 */
export function createReconcileActivities({ sql, client, deliveries, policy }: ReconcileDeps) {
  const orphans = createOrphanStore(sql);
  const store = createDeliveryStore(sql);
  return {
    async reconcileOrphans(options: { graceMs: number; limit: number }): Promise<ReconcileResult> {
      const result: ReconcileResult = { checked: 0, started: 0, cancelled: 0 };
      for (const email of await orphans.candidates(options.graceMs, options.limit)) {
        result.checked++;
        try {
          await client.workflow.getHandle(email.workflowId).describe();
          continue; // it exists: only late
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
        }
        if (email.hasIdempotencyKey) {
          await deliveries.start(
            email.workflowId,
            { emailId: email.id, tenantId: email.tenantId, policy, recipientDomains: email.domains, tags: email.tags },
            `Recovered delivery of email ${email.id}`,
          );
          await orphans.recordRecovered(email.id);
          result.started++;
        } else {
          await store.cancel(email.id, 'herald', UNACKNOWLEDGED_REASON);
          result.cancelled++;
        }
      }
      return result;
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
