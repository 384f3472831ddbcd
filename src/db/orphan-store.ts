import type { Sql } from './sql';

export interface OrphanCandidate {
  id: string;
  tenantId: string;
  workflowId: string;
  hasIdempotencyKey: boolean;
  tags: string[];
  domains: string[];
}

/**
 * Emails that should have started by now but show no attempt: queued (or scheduled for a time
 * already past) for longer than `graceMs`. Almost always their workflow exists and is only
 * late (a worker outage); the sweep checks that before touching anything.
 */
export function createOrphanStore(sql: Sql) {
  return {
    async candidates(graceMs: number, limit: number): Promise<OrphanCandidate[]> {
      const rows = await sql<Array<{ id: string; tenant_id: string; workflow_id: string; has_key: boolean; tags: string[]; domains: string[] }>>`
        select e.id, e.tenant_id, e.workflow_id, e.idempotency_key is not null as has_key, e.tags,
          array(select distinct r.domain from email_recipients r where r.email_id = e.id order by 1) as domains
        from emails e
        where e.status in ('queued', 'scheduled')
          and e.created_at < now() - ${graceMs} * interval '1 millisecond'
          and (e.send_at is null or e.send_at < now() - ${graceMs} * interval '1 millisecond')
          and not exists (select 1 from delivery_attempts a where a.email_id = e.id)
        order by e.created_at
        limit ${limit}`;
      return rows.map((r) => ({
        id: r.id,
        tenantId: r.tenant_id,
        workflowId: r.workflow_id,
        hasIdempotencyKey: r.has_key,
        tags: r.tags,
        domains: r.domains,
      }));
    },

    async recordRecovered(id: string): Promise<void> {
      await sql`insert into email_events (email_id, type, actor, data)
        values (${id}, 'email.recovered', 'herald', ${sql.json({ reason: 'its workflow had not been started; started by the orphan sweep' })})`;
    },
  };
}
