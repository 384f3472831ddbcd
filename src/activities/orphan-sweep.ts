import type { OrphanStore } from '../db/orphans';
import type { DeliveryService } from '../deliveries/service';
import { isTemporalOutage } from '../deliveries/workflows';

export interface OrphanSweepDeps {
  orphans: Pick<OrphanStore, 'candidates' | 'recordRecoveryFailure'>;
  deliveries: Pick<DeliveryService, 'settleOrphan'>;
}

export interface OrphanSweepResult {
  checked: number;
  started: number;
  cancelled: number;
  /** Rows that could not be settled: recorded in their timeline (email.recovery_failed) and left for a later sweep. */
  skipped: number;
}

/**
 * The API stores an email, then starts its workflow, then answers 202. If it dies between the
 * first two steps, the row waits with no workflow; this activity, run by a Temporal Schedule,
 * finds such rows and lets the delivery service settle each one. A row that cannot be settled
 * is skipped and recorded, never allowed to stop the sweep for the rows behind it; only an
 * outage of Temporal stops the sweep (every row would fail alike; the next run tries again).
 */
export function createOrphanSweepActivities({ orphans, deliveries }: OrphanSweepDeps) {
  return {
    async sweepOrphans(options: { graceMs: number; limit: number }): Promise<OrphanSweepResult> {
      const result: OrphanSweepResult = { checked: 0, started: 0, cancelled: 0, skipped: 0 };
      for (const candidate of await orphans.candidates(options.graceMs, options.limit)) {
        result.checked++;
        try {
          const settled = await deliveries.settleOrphan(candidate);
          if (settled !== 'running') result[settled]++;
        } catch (err) {
          if (isTemporalOutage(err)) throw err;
          result.skipped++;
          await orphans.recordRecoveryFailure(candidate.id, err instanceof Error ? err.message : String(err));
        }
      }
      return result;
    },
  };
}

export type OrphanSweepActivities = ReturnType<typeof createOrphanSweepActivities>;
