-- Herald's read model and audit trail. Temporal holds the workflow state; PostgreSQL holds
-- what people list, filter and audit, so nothing needs to replay a workflow history.

create table tenants (
  id text primary key,
  name text not null,
  created_at timestamptz not null default now()
);
insert into tenants (id, name) values ('default', 'Default tenant');

create table email_status_transitions (
  from_status text not null,
  to_status text not null,
  primary key (from_status, to_status)
);
-- Kept equal to ALLOWED_TRANSITIONS in src/shared/status.ts (a unit test compares them).
insert into email_status_transitions (from_status, to_status) values
  ('queued', 'scheduled'), ('queued', 'sending'), ('queued', 'paused'), ('queued', 'cancelled'), ('queued', 'failed'),
  ('scheduled', 'queued'), ('scheduled', 'sending'), ('scheduled', 'paused'), ('scheduled', 'cancelled'), ('scheduled', 'failed'),
  ('sending', 'sending'), ('sending', 'retrying'), ('sending', 'sent'), ('sending', 'failed'), ('sending', 'cancelled'), ('sending', 'paused'),
  ('retrying', 'sending'), ('retrying', 'retrying'), ('retrying', 'sent'), ('retrying', 'failed'), ('retrying', 'cancelled'), ('retrying', 'paused'),
  ('paused', 'queued'), ('paused', 'scheduled'), ('paused', 'sending'), ('paused', 'retrying'), ('paused', 'cancelled'), ('paused', 'failed'),
  ('failed', 'queued');

create table emails (
  id uuid primary key,
  tenant_id text not null default 'default' references tenants (id),
  status text not null check (status in ('queued', 'scheduled', 'sending', 'retrying', 'paused', 'sent', 'failed', 'cancelled')),
  workflow_id text not null unique,
  message_id text not null unique,
  idempotency_key text,
  request_hash text,
  from_address text not null,
  subject text not null,
  -- addresses, bodies, custom headers: everything needed to build the message again
  content jsonb not null,
  metadata jsonb not null default '{}',
  tags text[] not null default '{}',
  send_at timestamptz,
  last_error text,
  status_reason text,
  status_changed_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  sent_at timestamptz,
  -- Idempotency outlives Temporal's retention: the key is unique per tenant forever.
  unique (tenant_id, idempotency_key)
);
create index emails_tenant_created_idx on emails (tenant_id, created_at desc, id desc);
create index emails_tenant_status_created_idx on emails (tenant_id, status, created_at desc, id desc);
create index emails_tags_idx on emails using gin (tags);

create function enforce_email_status_transition() returns trigger language plpgsql as $$
begin
  if new.status is distinct from old.status and not exists (
    select 1 from email_status_transitions t where t.from_status = old.status and t.to_status = new.status
  ) then
    raise exception 'email %: status transition % -> % is not allowed', old.id, old.status, new.status
      using errcode = 'check_violation', constraint = 'email_status_transition';
  end if;
  new.updated_at := now();
  return new;
end $$;

create trigger emails_status_transition before update on emails
  for each row execute function enforce_email_status_transition();

create table email_recipients (
  email_id uuid not null references emails (id) on delete cascade,
  address text not null,
  kind text not null check (kind in ('to', 'cc', 'bcc')),
  domain text not null,
  status text not null default 'pending' check (status in ('pending', 'accepted', 'rejected', 'deferred')),
  smtp_code integer,
  smtp_response text,
  updated_at timestamptz not null default now(),
  primary key (email_id, address)
);
create index email_recipients_address_idx on email_recipients (address);
create index email_recipients_domain_idx on email_recipients (domain);

create table email_attachments (
  email_id uuid not null references emails (id) on delete cascade,
  position integer not null,
  filename text not null,
  content_type text not null,
  content bytea not null,
  primary key (email_id, position)
);

create table delivery_attempts (
  id bigserial primary key,
  email_id uuid not null references emails (id) on delete cascade,
  -- Temporal's attempt number within the workflow run
  attempt integer not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  outcome text check (outcome in ('sent', 'partial', 'transient', 'permanent', 'uncertain', 'skipped')),
  smtp_code integer,
  smtp_response text,
  error_code text,
  error_message text,
  accepted text[] not null default '{}',
  rejected text[] not null default '{}'
);
create index delivery_attempts_email_idx on delivery_attempts (email_id, id);

create table email_events (
  id bigserial primary key,
  email_id uuid not null references emails (id) on delete cascade,
  type text not null,
  at timestamptz not null default now(),
  actor text,
  data jsonb not null default '{}'
);
create index email_events_email_idx on email_events (email_id, id);
