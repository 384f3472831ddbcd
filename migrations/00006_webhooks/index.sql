-- Webhooks: each tenant's endpoints, and an outbox that the email timeline fills in the same
-- transaction as the change it records, so a webhook event is never lost and never built twice.
--
-- email_events ──trigger──▶ webhook_outbox ──pump (src/webhooks/pump.ts)──▶ webhook_messages
--                                                                       └─▶ webhook_deliveries (one per endpoint)
-- The trigger only notes the event, and only for a tenant that has an enabled endpoint: an email of a
-- tenant without webhooks costs one index probe here and nothing in Temporal.

create table webhook_endpoints (
  id text primary key,
  tenant_id text not null references tenants (id) on delete cascade,
  url text not null,
  events text[] not null check (cardinality(events) > 0),
  description text,
  -- Standard Webhooks secret (whsec_<base64>). After a rotation the previous one signs too, for a while.
  secret text not null,
  previous_secret text,
  previous_secret_expires_at timestamptz,
  -- Set at the first failed attempt since the last success; an endpoint failing for too long is disabled.
  failing_since timestamptz,
  last_error text,
  disabled_at timestamptz,
  disabled_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_endpoints_tenant_idx on webhook_endpoints (tenant_id, created_at);
create index webhook_endpoints_enabled_idx on webhook_endpoints (tenant_id) where disabled_at is null;

create table webhook_outbox (
  event_id bigint primary key references email_events (id) on delete cascade,
  tenant_id text not null,
  email_id uuid not null
);

create function email_events_to_webhook_outbox() returns trigger language plpgsql as $$
begin
  -- Most installations, and most tenants, have no endpoint: the first probe ends it.
  if exists (select 1 from webhook_endpoints where disabled_at is null) then
    insert into webhook_outbox (event_id, tenant_id, email_id)
    select new.id, e.tenant_id, e.id from emails e
    where e.id = new.email_id
      and exists (select 1 from webhook_endpoints w where w.tenant_id = e.tenant_id and w.disabled_at is null);
  end if;
  return null;
end $$;

create trigger email_events_webhook_outbox after insert on email_events
  for each row execute function email_events_to_webhook_outbox();

-- One webhook event: its body is kept byte for byte, so that every attempt signs the same bytes
-- under the same webhook-id (the receiver's de-duplication key).
create table webhook_messages (
  id text primary key,
  tenant_id text not null references tenants (id) on delete cascade,
  email_id uuid references emails (id) on delete cascade,
  event_id bigint,
  type text not null,
  -- The recipient of a recipient.* event (each is announced once per email).
  recipient text,
  body text not null,
  -- When the timeline entry it comes from happened.
  occurred_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index webhook_messages_email_idx on webhook_messages (email_id, type, occurred_at desc);

create table webhook_deliveries (
  id bigserial primary key,
  endpoint_id text not null references webhook_endpoints (id) on delete cascade,
  message_id text not null references webhook_messages (id) on delete cascade,
  -- Deliveries of one email go out one after the other (the dispatcher's lane); null for test events.
  email_id uuid,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  last_attempt_at timestamptz,
  response_status integer,
  response_body text,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  unique (endpoint_id, message_id)
);
create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id desc);
create index webhook_deliveries_pending_idx on webhook_deliveries (endpoint_id, id) where status = 'pending';
