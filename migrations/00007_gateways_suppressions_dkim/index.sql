-- Gateways, the suppression list and DKIM keys.

-- A recipient on the tenant's suppression list is recorded `suppressed` and never sent to.
alter table email_recipients drop constraint email_recipients_status_check;
alter table email_recipients add constraint email_recipients_status_check
  check (status in ('pending', 'accepted', 'rejected', 'deferred', 'suppressed'));

-- The gateway each attempt went through (its name: URLs and credentials stay in the worker).
alter table delivery_attempts add column gateway text;

-- A tenant's own gateways, by name, in the order to try them; empty: every configured gateway
-- by priority (herald tenant update <id> --gateways a,b).
alter table tenants add column gateways text[] not null default '{}';

-- Per tenant: addresses not sent to. `bounce` rows are added by the worker when a gateway
-- refuses a recipient with a permanent mailbox failure (src/shared/suppression.ts), with the
-- reply and the email that caused it; `manual` rows through the API.
create table suppressions (
  tenant_id text not null references tenants (id) on delete cascade,
  address text not null check (address = lower(address)),
  domain text not null generated always as (substring(address from '[^@]*$')) stored,
  source text not null check (source in ('bounce', 'manual')),
  reason text not null,
  smtp_code integer,
  email_id uuid references emails (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (tenant_id, address)
);
-- Newest first, keyset-paginated on (created_at, address); the domain filter has its own.
create index suppressions_tenant_created_idx on suppressions (tenant_id, created_at desc, address desc);
create index suppressions_tenant_domain_idx on suppressions (tenant_id, domain, created_at desc);

-- DKIM signing keys of a tenant's sending domains, set by the operator (herald dkim set). The
-- private key is read by the worker only, right before it signs; it never enters workflow
-- input, history, logs or API answers. Protect it as the database is protected (README, DKIM).
create table dkim_keys (
  tenant_id text not null references tenants (id) on delete cascade,
  domain text not null check (domain = lower(domain)),
  selector text not null,
  private_key text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, domain)
);
