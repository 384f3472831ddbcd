-- SMTP submission: where each email came in, and the message of an email submitted whole (kept as
-- submitted, sent as these very bytes at every attempt).

alter table emails add column source text not null default 'api' check (source in ('api', 'smtp'));
create index emails_tenant_source_created_idx on emails (tenant_id, source, created_at desc, id desc);

-- A submitted message keeps its own Message-ID, which its client chose: unique per email would let
-- one tenant block another's message by using its Message-ID first. Herald's own ids
-- (<email id@MESSAGE_ID_DOMAIN>) stay unique by construction.
alter table emails drop constraint emails_message_id_key;

create table email_raw_messages (
  email_id uuid primary key references emails (id) on delete cascade,
  -- the envelope sender (MAIL FROM); emails.from_address is the From header's
  mail_from text not null,
  message bytea not null
);
