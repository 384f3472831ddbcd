import type { Sql } from './sql';
import { toStorable, truncate } from '../shared';

// Orphans: emails stored by an API that stopped before starting their workflow.

export interface OrphanCandidate {
  id: string;
  tenantId: string;
  workflowId: string;
  hasIdempotencyKey: boolean;
  /** Handed over by a campaign (whose paging starts it again). */
  campaignId: string | null;
  /** Stored by a batch, whose starter (workflow batch-<id>) owns its start. */
  batchId: string | null;
  sendAt: Date | null;
  tags: string[];
  domains: string[];
}

/** How long a row the sweep could not settle is left alone before the sweep tries it again. */
export const RECOVERY_RETRY_MS = 60 * 60_000;

export function createOrphanStore(sql: Sql) {
  return {
    /**
     * Emails that should have started by now but show no attempt: queued (or scheduled for a
     * time already past) for longer than `graceMs`. Almost always their workflow exists and is
     * only late (a worker outage); the sweep checks that before touching anything.
     */
    async candidates(graceMs: number, limit: number): Promise<OrphanCandidate[]> {
      return sql<OrphanCandidate[]>`
        select e.id, e.tenant_id, e.workflow_id, e.idempotency_key is not null as has_idempotency_key, e.campaign_id, e.batch_id, e.send_at, e.tags,
          array(select distinct r.domain from email_recipients r where r.email_id = e.id order by 1) as domains
        from emails e
        where e.status in ('queued', 'scheduled')
          and e.created_at < now() - ${graceMs} * interval '1 millisecond'
          and (e.send_at is null or e.send_at < now() - ${graceMs} * interval '1 millisecond')
          and not exists (select 1 from delivery_attempts a where a.email_id = e.id)
          -- a row the sweep could not settle waits an hour before it is tried again
          and not exists (select 1 from email_events ev where ev.email_id = e.id and ev.type = 'email.recovery_failed'
            and ev.at > now() - ${RECOVERY_RETRY_MS} * interval '1 millisecond')
        order by e.created_at
        limit ${limit}`;
    },

    /** Records why the sweep could not settle a row (in its timeline); the sweep skips it for a while. */
    async recordRecoveryFailure(id: string, error: string): Promise<void> {
      await sql`insert into email_events (email_id, type, actor, data)
        values (${id}, 'email.recovery_failed', 'herald', ${sql.json({ error: toStorable(truncate(error, 1000)) })})`;
    },

    async recordRecovered(id: string): Promise<void> {
      await sql`insert into email_events (email_id, type, actor, data)
        values (${id}, 'email.recovered', 'herald', ${sql.json({ reason: 'its workflow had not been started; started by the orphan sweep' })})`;
    },
  };
}

export type OrphanStore = ReturnType<typeof createOrphanStore>;
