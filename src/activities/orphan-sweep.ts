import type { OrphanStore } from '../db/orphans';
import type { DeliveryService } from '../deliveries/service';

export interface OrphanSweepDeps {
  orphans: Pick<OrphanStore, 'candidates'>;
  deliveries: Pick<DeliveryService, 'settleOrphan'>;
}

export interface OrphanSweepResult {
  checked: number;
  started: number;
  cancelled: number;
}

/**
 * The API stores an email, then starts its workflow, then answers 202. If it dies between the
 * first two steps, the row waits with no workflow; this activity, run by a Temporal Schedule,
 * finds such rows and lets the delivery service settle each one.
 */
export function createOrphanSweepActivities({ orphans, deliveries }: OrphanSweepDeps) {
  return {
    async sweepOrphans(options: { graceMs: number; limit: number }): Promise<OrphanSweepResult> {
      const result: OrphanSweepResult = { checked: 0, started: 0, cancelled: 0 };
      for (const candidate of await orphans.candidates(options.graceMs, options.limit)) {
        result.checked++;
        const settled = await deliveries.settleOrphan(candidate);
        if (settled !== 'running') result[settled]++;
      }
      return result;
    },
  };
}

export type OrphanSweepActivities = ReturnType<typeof createOrphanSweepActivities>;
