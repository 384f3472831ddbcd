import type { Sql } from '../db/sql';
import { createSuppressionStore, type SuppressionCursor, type SuppressionFilter, type SuppressionRow } from '../db/suppressions';
import { DeliveryError } from '../deliveries/errors';

// A tenant's suppression list as the API steers it: list, add, show, remove, always within the
// caller's tenant (another tenant's entries are absent, never visible), and the recipients of a
// campaign email whose one-click unsubscribe link was used. The worker adds the gateway's
// refusals itself (src/activities/send-email.ts).

const notFound = () => new DeliveryError('not-found', 'This address is not on the suppression list');

export function createSuppressionService({ sql }: { sql: Sql }) {
  const store = createSuppressionStore(sql);
  return {
    list(tenantId: string, filter: SuppressionFilter, limit: number, cursor?: SuppressionCursor): Promise<SuppressionRow[]> {
      return store.list(tenantId, filter, limit, cursor);
    },

    async get(tenantId: string, address: string): Promise<SuppressionRow> {
      const row = await store.get(tenantId, address);
      if (!row) throw notFound();
      return row;
    },

    /** Adds an address by hand; one already on the list keeps its entry (and says so). */
    add(tenantId: string, entry: { address: string; reason?: string }): Promise<{ row: SuppressionRow; created: boolean }> {
      return store.add(tenantId, { address: entry.address, reason: entry.reason ?? 'added through the API' });
    },

    /**
     * A recipient used the one-click unsubscribe link of an email (a token the API checked): its
     * `to` recipients go on its tenant's list. Unknown emails (deleted since) are not found.
     */
    async unsubscribe(emailId: string): Promise<void> {
      if (!(await store.unsubscribe(emailId, 'the recipient unsubscribed (one-click link)')))
        throw new DeliveryError('not-found', 'No such unsubscribe link');
    },

    async remove(tenantId: string, address: string): Promise<void> {
      if (!(await store.remove(tenantId, address))) throw notFound();
    },
  };
}

export type SuppressionService = ReturnType<typeof createSuppressionService>;
