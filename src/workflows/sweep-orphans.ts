import { proxyActivities } from '@temporalio/workflow';
import type { OrphanSweepActivities, OrphanSweepResult } from '../activities/orphan-sweep';

const { sweepOrphans: sweep } = proxyActivities<OrphanSweepActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3 },
});

/** Run by the `herald-orphan-sweep` Temporal Schedule (src/deliveries/orphan-sweep-schedule.ts). */
export async function sweepOrphans(options = { graceMs: 5 * 60_000, limit: 500 }): Promise<OrphanSweepResult> {
  return sweep(options);
}
