-- Tenants with sending domains and limits, API keys, and the counters behind the limits. The
-- limits are kept here, in the one store every API instance shares.

alter table tenants
  add column sending_domains text[] not null default '{}',
  -- Only the development tenant starts with this: it sends from any domain until the operator
  -- gives it domains (herald tenant update default --domain ...).
  add column any_sending_domain boolean not null default false,
  add column rate_per_second double precision not null default 50 check (rate_per_second > 0),
  add column burst integer not null default 100 check (burst >= 1),
  add column daily_quota integer not null default 100000 check (daily_quota >= 0),
  add column updated_at timestamptz not null default now();
update tenants set any_sending_domain = true where id = 'default';

create table api_keys (
  id text primary key,
  tenant_id text not null references tenants (id),
  name text,
  -- sha256 of the whole key: the key itself is shown once and never stored.
  key_hash text not null unique,
  scopes text[] not null check (scopes <@ array['send', 'read', 'operate', 'webhooks']::text[] and cardinality(scopes) > 0),
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_tenant_idx on api_keys (tenant_id, created_at);

-- One token bucket per tenant (requests per second, bursts up to `burst`), shared by every API
-- instance, kept as GCRA's theoretical arrival time: one timestamp, one atomic update a request.
create table tenant_rate_buckets (
  tenant_id text primary key references tenants (id) on delete cascade,
  tat timestamptz not null default now()
);
insert into tenant_rate_buckets (tenant_id) select id from tenants;

-- Emails accepted per tenant and UTC day, against the daily quota.
create table tenant_daily_usage (
  tenant_id text not null references tenants (id) on delete cascade,
  day date not null,
  emails integer not null default 0,
  primary key (tenant_id, day)
);
