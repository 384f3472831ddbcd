import type { Sql } from './sql';
import type { ClaimedDelivery, WebhookClaim } from '../shared';
import type { EmailSnapshot, EmailWebhookHistory, TimelineEntry } from '../webhooks/events';

// Webhook endpoints, the outbox the email timeline fills (migrations/00007_webhooks), the messages
// built from it and their deliveries, one per endpoint.

export interface EndpointRow {
  id: string;
  tenantId: string;
  url: string;
  events: string[];
  description: string | null;
  failingSince: Date | null;
  lastError: string | null;
  disabledAt: Date | null;
  disabledReason: string | null;
  previousSecretExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface DeliveryRow {
  id: string;
  messageId: string;
  type: string;
  emailId: string | null;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastAttemptAt: Date | null;
  responseStatus: number | null;
  responseBody: string | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/** One delivery as its activity needs it. */
export interface DeliveryJob {
  id: string;
  status: DeliveryRow['status'];
  attempts: number;
  endpoint: { id: string; tenantId: string; url: string; secrets: string[]; disabledAt: Date | null };
  message: { id: string; type: string; body: string; emailId: string | null };
}

export interface EndpointRef {
  endpointId: string;
  tenantId: string;
}

/** What one fan-out reads: the timeline entries taken from the outbox, with their emails and endpoints. */
export interface OutboxBatch {
  entries: Array<TimelineEntry & { emailId: string }>;
  emails: Map<string, EmailSnapshot>;
  histories: Map<string, EmailWebhookHistory>;
  endpoints: Array<{ id: string; tenantId: string; events: string[] }>;
}

export interface NewMessage {
  id: string;
  tenantId: string;
  emailId: string | null;
  eventId: string | null;
  type: string;
  recipient: string | null;
  body: string;
  occurredAt: Date;
}

export interface FanOutPlan {
  messages: NewMessage[];
  /** In delivery order: an email's deliveries keep the order of its events. */
  deliveries: Array<{ endpointId: string; messageId: string; emailId: string | null }>;
}

const ENDPOINT_COLUMNS = [
  'id',
  'tenant_id',
  'url',
  'events',
  'description',
  'failing_since',
  'last_error',
  'disabled_at',
  'disabled_reason',
  'previous_secret_expires_at',
  'created_at',
  'updated_at',
];
// Only one fan-out at a time across worker processes, so deliveries are numbered in event order.
const FAN_OUT_LOCK_ID = 4_242_007;
const MAX_ERROR = 1000;

export function createWebhookStore(sql: Sql) {
  return {
    /** Creates an endpoint unless the tenant has `maxPerTenant` already (then undefined). */
    async createEndpoint(e: {
      id: string;
      tenantId: string;
      url: string;
      events: string[];
      description?: string;
      secret: string;
      maxPerTenant: number;
    }): Promise<EndpointRow | undefined> {
      return sql.begin(async (tx) => {
        // One creation at a time per tenant, so the limit holds.
        await tx`select id from tenants where id = ${e.tenantId} for update`;
        const [{ count }] = await tx<
          Array<{ count: number }>
        >`select count(*)::int as count from webhook_endpoints where tenant_id = ${e.tenantId}`;
        if (count >= e.maxPerTenant) return undefined;
        const [row] = await tx<EndpointRow[]>`
          insert into webhook_endpoints (id, tenant_id, url, events, description, secret)
          values (${e.id}, ${e.tenantId}, ${e.url}, ${e.events}, ${e.description ?? null}, ${e.secret})
          returning ${tx(ENDPOINT_COLUMNS)}`;
        return row;
      }) as Promise<EndpointRow | undefined>;
    },

    async listEndpoints(tenantId: string): Promise<EndpointRow[]> {
      return sql<
        EndpointRow[]
      >`select ${sql(ENDPOINT_COLUMNS)} from webhook_endpoints where tenant_id = ${tenantId} order by created_at, id`;
    },

    async getEndpoint(tenantId: string, id: string): Promise<EndpointRow | undefined> {
      const [row] = await sql<
        EndpointRow[]
      >`select ${sql(ENDPOINT_COLUMNS)} from webhook_endpoints where tenant_id = ${tenantId} and id = ${id}`;
      return row;
    },

    /** Deletes an endpoint with its deliveries; its dispatcher stops at its next step. */
    async deleteEndpoint(tenantId: string, id: string): Promise<boolean> {
      const rows = await sql`delete from webhook_endpoints where tenant_id = ${tenantId} and id = ${id} returning id`;
      return rows.length > 0;
    },

    /** A new secret; the previous one keeps signing (beside it) for `overlapMs`. */
    async rotateSecret(tenantId: string, id: string, secret: string, overlapMs: number): Promise<EndpointRow | undefined> {
      const [row] = await sql<EndpointRow[]>`
        update webhook_endpoints set previous_secret = secret, secret = ${secret},
          previous_secret_expires_at = now() + ${overlapMs} * interval '1 millisecond', updated_at = now()
        where tenant_id = ${tenantId} and id = ${id}
        returning ${sql(ENDPOINT_COLUMNS)}`;
      return row;
    },

    /** Enables a disabled endpoint again; its pending deliveries go out. */
    async enableEndpoint(tenantId: string, id: string): Promise<EndpointRow | undefined> {
      const [row] = await sql<EndpointRow[]>`
        update webhook_endpoints set disabled_at = null, disabled_reason = null, failing_since = null, updated_at = now()
        where tenant_id = ${tenantId} and id = ${id}
        returning ${sql(ENDPOINT_COLUMNS)}`;
      return row;
    },

    /** A message for one endpoint alone (a test event, or an event that is not an email's); returns the delivery id. */
    async addDirectDelivery(endpointId: string, message: NewMessage): Promise<string> {
      return sql.begin(async (tx) => {
        await tx`insert into webhook_messages ${tx([message], 'id', 'tenantId', 'emailId', 'eventId', 'type', 'recipient', 'body', 'occurredAt')}`;
        const [row] = await tx<Array<{ id: string }>>`
          insert into webhook_deliveries (endpoint_id, message_id) values (${endpointId}, ${message.id}) returning id::text as id`;
        return row.id;
      }) as Promise<string>;
    },

    /** Newest first, keyset-paginated on the delivery id. */
    async listDeliveries(
      endpointId: string,
      options: { status?: DeliveryRow['status']; limit: number; before?: string },
    ): Promise<DeliveryRow[]> {
      return sql<DeliveryRow[]>`
        select d.id::text as id, d.message_id, m.type, d.email_id, d.status, d.attempts, d.last_attempt_at, d.response_status,
          d.response_body, d.last_error, d.delivered_at, d.created_at
        from webhook_deliveries d join webhook_messages m on m.id = d.message_id
        where d.endpoint_id = ${endpointId}
          ${options.status ? sql`and d.status = ${options.status}` : sql``}
          ${options.before ? sql`and d.id < ${options.before}::bigint` : sql``}
        order by d.id desc
        limit ${options.limit}`;
    },

    /** Puts a delivery back in line (same message, same webhook-id). False when there is no such delivery. */
    async resend(endpointId: string, deliveryId: string): Promise<boolean> {
      const rows = await sql`
        update webhook_deliveries set status = 'pending', last_error = null, delivered_at = null
        where endpoint_id = ${endpointId} and id = ${deliveryId}::bigint returning id`;
      return rows.length > 0;
    },

    /**
     * Takes up to `limit` entries from the outbox and, in the same transaction, stores the messages
     * and deliveries that `plan` builds from them: an entry leaves the outbox exactly when its
     * webhook events are stored. Returns the endpoints that got deliveries.
     */
    async fanOut(
      limit: number,
      plan: (batch: OutboxBatch) => FanOutPlan,
      onlyTenants?: string[],
    ): Promise<{ taken: number; endpoints: EndpointRef[] }> {
      return sql.begin(async (tx) => {
        // Pumps that serve disjoint tenants (test files sharing a database) need not wait for each
        // other: a busy one would starve the rest. One pump per tenant set, as in production.
        const [{ locked }] = await tx<Array<{ locked: boolean }>>`select ${
          onlyTenants
            ? tx`pg_try_advisory_xact_lock(${FAN_OUT_LOCK_ID}, hashtext(${[...onlyTenants].sort().join(',')}))`
            : tx`pg_try_advisory_xact_lock(${FAN_OUT_LOCK_ID})`
        } as locked`;
        if (!locked) return { taken: 0, endpoints: [] };
        const taken = await tx<Array<{ eventId: string; tenantId: string; emailId: string }>>`
          delete from webhook_outbox where event_id in (
            select event_id from webhook_outbox ${onlyTenants ? tx`where tenant_id = any(${onlyTenants})` : tx``} order by event_id limit ${limit})
          returning event_id::text as event_id, tenant_id, email_id`;
        if (taken.length === 0) return { taken: 0, endpoints: [] };
        const eventIds = taken.map((t) => t.eventId);
        const emailIds = [...new Set(taken.map((t) => t.emailId))];
        const tenantIds = [...new Set(taken.map((t) => t.tenantId))];
        const [entries, emails, recipients, histories, endpoints] = await Promise.all([
          tx<Array<TimelineEntry & { emailId: string }>>`
            select id::text as id, email_id, type, at, actor, data from email_events where id = any(${eventIds}::bigint[]) order by id`,
          tx<Array<Omit<EmailSnapshot, 'recipients'>>>`
            select id, tenant_id, status, workflow_id, message_id, from_address, subject, metadata, tags, last_error, created_at, send_at, sent_at
            from emails where id = any(${emailIds}::uuid[])`,
          tx<Array<EmailSnapshot['recipients'][number] & { emailId: string }>>`
            select email_id, address, kind, status, smtp_code, smtp_response from email_recipients
            where email_id = any(${emailIds}::uuid[]) order by array_position(array['to', 'cc', 'bcc'], kind), address`,
          tx<Array<{ emailId: string; lastDelayedAt: Date | null; announced: string[] | null }>>`
            select email_id, max(occurred_at) filter (where type = 'email.delivery_delayed') as last_delayed_at,
              array_agg(recipient) filter (where recipient is not null) as announced
            from webhook_messages where email_id = any(${emailIds}::uuid[]) group by email_id`,
          tx<Array<{ id: string; tenantId: string; events: string[] }>>`
            select id, tenant_id, events from webhook_endpoints where tenant_id = any(${tenantIds}) and disabled_at is null order by id`,
        ]);
        const snapshots = new Map(emails.map((e) => [e.id, { ...e, recipients: [] as EmailSnapshot['recipients'] }]));
        for (const { emailId, ...r } of recipients) snapshots.get(emailId)?.recipients.push(r);
        const batch: OutboxBatch = {
          entries: [...entries],
          emails: snapshots,
          histories: new Map(
            histories.map((h) => [h.emailId, { lastDelayedAt: h.lastDelayedAt ?? undefined, announced: new Set(h.announced ?? []) }]),
          ),
          endpoints: [...endpoints],
        };
        const { messages, deliveries } = plan(batch);
        if (messages.length > 0) {
          await tx`insert into webhook_messages ${tx(messages, 'id', 'tenantId', 'emailId', 'eventId', 'type', 'recipient', 'body', 'occurredAt')}`;
        }
        if (deliveries.length > 0) {
          // One statement, in the plan's order: the ids (and so the dispatch order) follow it.
          await tx`
            insert into webhook_deliveries (endpoint_id, message_id, email_id)
            select endpoint_id, message_id, email_id::uuid from unnest(
              ${deliveries.map((d) => d.endpointId)}::text[], ${deliveries.map((d) => d.messageId)}::text[], ${deliveries.map((d) => d.emailId)}::text[]
            ) with ordinality as d (endpoint_id, message_id, email_id, n) order by n`;
        }
        const touched = new Map<string, EndpointRef>();
        for (const d of deliveries) {
          const endpoint = endpoints.find((e) => e.id === d.endpointId)!;
          touched.set(d.endpointId, { endpointId: d.endpointId, tenantId: endpoint.tenantId });
        }
        return { taken: taken.length, endpoints: [...touched.values()] };
      }) as Promise<{ taken: number; endpoints: EndpointRef[] }>;
    },

    /**
     * Endpoints whose dispatcher may have missed its signal: pending deliveries never tried a minute
     * after they were stored, or not tried for longer than the retry policy ever waits.
     */
    async endpointsToDispatch(staleAfterMs: number, onlyTenants?: string[]): Promise<EndpointRef[]> {
      return sql<EndpointRef[]>`
        select distinct d.endpoint_id, w.tenant_id from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id
        where d.status = 'pending' and w.disabled_at is null ${onlyTenants ? sql`and w.tenant_id = any(${onlyTenants})` : sql``}
          and ((d.attempts = 0 and d.created_at < now() - interval '1 minute')
            or d.last_attempt_at < now() - ${staleAfterMs} * interval '1 millisecond')`;
    },

    /** The next pending deliveries of an endpoint, oldest first, leaving out those the dispatcher holds. */
    async claim(endpointId: string, holding: string[], limit: number): Promise<WebhookClaim> {
      const [endpoint] = await sql<Array<{ disabledAt: Date | null }>>`select disabled_at from webhook_endpoints where id = ${endpointId}`;
      if (!endpoint) return { endpoint: 'gone', deliveries: [], more: false };
      if (endpoint.disabledAt) return { endpoint: 'disabled', deliveries: [], more: false };
      const rows = await sql<ClaimedDelivery[]>`
        select id::text as id, coalesce(email_id::text, message_id) as lane from webhook_deliveries
        where endpoint_id = ${endpointId} and status = 'pending' and id <> all(${holding}::bigint[])
        order by id limit ${limit + 1}`;
      return { endpoint: 'enabled', deliveries: rows.slice(0, limit), more: rows.length > limit };
    },

    async loadDelivery(id: string): Promise<DeliveryJob | undefined> {
      const [row] = await sql<
        Array<{
          id: string;
          status: DeliveryRow['status'];
          attempts: number;
          endpointId: string;
          tenantId: string;
          url: string;
          secret: string;
          previousSecret: string | null;
          previousSecretValid: boolean;
          disabledAt: Date | null;
          messageId: string;
          type: string;
          body: string;
          emailId: string | null;
        }>
      >`
        select d.id::text as id, d.status, d.attempts, w.id as endpoint_id, w.tenant_id, w.url, w.secret, w.previous_secret,
          coalesce(w.previous_secret_expires_at > now(), false) as previous_secret_valid, w.disabled_at,
          m.id as message_id, m.type, m.body, m.email_id
        from webhook_deliveries d join webhook_endpoints w on w.id = d.endpoint_id join webhook_messages m on m.id = d.message_id
        where d.id = ${id}::bigint`;
      if (!row) return undefined;
      const secrets = row.previousSecret && row.previousSecretValid ? [row.secret, row.previousSecret] : [row.secret];
      return {
        id: row.id,
        status: row.status,
        attempts: row.attempts,
        endpoint: { id: row.endpointId, tenantId: row.tenantId, url: row.url, secrets, disabledAt: row.disabledAt },
        message: { id: row.messageId, type: row.type, body: row.body, emailId: row.emailId },
      };
    },

    /** A 2xx: the delivery is done and the endpoint is healthy again. */
    async recordDelivered(job: DeliveryJob, response: { status?: number; body?: string }): Promise<void> {
      await sql.begin(async (tx) => {
        await tx`update webhook_deliveries set status = 'delivered', attempts = attempts + 1, last_attempt_at = now(), delivered_at = now(),
            response_status = ${response.status ?? null}, response_body = ${response.body ?? null}, last_error = null
          where id = ${job.id}::bigint`;
        await tx`update webhook_endpoints set failing_since = null where id = ${job.endpoint.id} and failing_since is not null`;
      });
    },

    /**
     * A failed attempt, on the delivery and on its endpoint. An endpoint that has failed since
     * longer than `disableAfterMs` (with no success between) is disabled, with the reason; returns
     * that reason then.
     */
    async recordFailedAttempt(
      job: DeliveryJob,
      response: { status?: number; body?: string; error: string },
      disableAfterMs: number,
    ): Promise<{ disabledReason?: string }> {
      const error = response.error.slice(0, MAX_ERROR);
      return sql.begin(async (tx) => {
        await tx`update webhook_deliveries set attempts = attempts + 1, last_attempt_at = now(),
            response_status = ${response.status ?? null}, response_body = ${response.body ?? null}, last_error = ${error}
          where id = ${job.id}::bigint`;
        const [endpoint] = await tx<Array<{ disabledReason: string | null }>>`
          update webhook_endpoints set
            failing_since = coalesce(failing_since, now()),
            last_error = ${error},
            disabled_at = case when failing_since < now() - ${disableAfterMs} * interval '1 millisecond' then now() else disabled_at end,
            disabled_reason = case when failing_since < now() - ${disableAfterMs} * interval '1 millisecond'
              then 'disabled after failing since ' || to_char(failing_since at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '; last error: ' || ${error}
              else disabled_reason end
          where id = ${job.endpoint.id}
          returning disabled_reason`;
        return { disabledReason: endpoint?.disabledReason ?? undefined };
      }) as Promise<{ disabledReason?: string }>;
    },

    /** The retry window closed: the delivery failed (it can still be sent again by hand). */
    async markFailed(id: string, reason: string): Promise<void> {
      await sql`update webhook_deliveries set status = 'failed', last_error = ${reason.slice(0, MAX_ERROR)} where id = ${id}::bigint and status = 'pending'`;
    },
  };
}

export type WebhookStore = ReturnType<typeof createWebhookStore>;
