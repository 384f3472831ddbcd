import { proxyActivities } from '@temporalio/workflow';
import type { ReconcileActivities } from '../activities/reconcile';
import type { ReconcileResult } from '../activities/reconcile';

const { reconcileOrphans: sweep } = proxyActivities<ReconcileActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
});

/** Run by the `herald-orphan-sweep` Temporal Schedule (src/temporal/orphan-sweep-schedule.ts). */
export async function reconcileOrphans(options = { graceMs: 5 * 60_000, limit: 500 }): Promise<ReconcileResult> {
  return sweep(options);
}
