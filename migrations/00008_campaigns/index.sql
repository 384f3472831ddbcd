-- Campaigns: one message to many recipients. The recipients are uploaded into
-- campaign_recipients (streamed, in batches); the campaign workflow hands them over page by page
-- to the ordinary delivery path: each becomes an email of the tenant (emails.campaign_id) with its
-- own deliverEmail workflow. Its subject, text and html are rendered from the campaign's templates
-- and the recipient's variables when it is sent: no email row copies a body.

create table campaigns (
  id uuid primary key,
  tenant_id text not null references tenants (id),
  status text not null default 'draft' check (status in ('draft', 'running', 'paused', 'cancelled', 'completed')),
  workflow_id text not null unique,
  from_address text not null,
  from_name text,
  -- Templates ({{name}} variables); html escapes what it inserts.
  subject text not null,
  text_body text,
  html_body text,
  -- The variables the templates use: every recipient must give each of them.
  variables text[] not null default '{}',
  tags text[] not null default '{}',
  send_at timestamptz,
  rate_per_second double precision check (rate_per_second > 0),
  -- What the uploads brought: stored recipients, repeated addresses, refused rows.
  recipients integer not null default 0,
  duplicates integer not null default 0,
  -- addresses on the tenant's suppression list when uploaded: skipped, never sent to
  suppressed integer not null default 0,
  invalid integer not null default 0,
  status_reason text,
  status_changed_by text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);
create index campaigns_tenant_created_idx on campaigns (tenant_id, created_at desc, id desc);

create table campaign_recipients (
  campaign_id uuid not null references campaigns (id) on delete cascade,
  -- Upload order; the campaign pages through its recipients on (campaign_id, id).
  id bigint generated always as identity,
  address text not null,
  variables jsonb not null default '{}',
  -- The id its email will have: fixed at upload, so the email, its workflow id (email-<id>) and its
  -- Message-ID are the same whenever the page that hands it over runs again.
  email_id uuid not null default gen_random_uuid(),
  primary key (campaign_id, id),
  -- A repeated address is a duplicate, never a second email.
  unique (campaign_id, address)
);

alter table emails
  add column campaign_id uuid,
  add column campaign_recipient_id bigint,
  -- The batch (POST /v1/emails/batch) that stored it: its durable starter is workflow batch-<id>.
  add column batch_id uuid,
  add foreign key (campaign_id) references campaigns (id),
  add foreign key (campaign_id, campaign_recipient_id) references campaign_recipients (campaign_id, id);
-- A campaign's progress: counts by status, and what is still under way (its window).
create index emails_campaign_status_idx on emails (campaign_id, status) where campaign_id is not null;
-- Its current rate: what was sent in the last minute.
create index emails_campaign_sent_idx on emails (campaign_id, sent_at) where campaign_id is not null and sent_at is not null;
