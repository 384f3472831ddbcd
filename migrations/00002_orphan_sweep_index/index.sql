-- The orphan sweep (src/activities/reconcile.ts) looks for emails that wait without a workflow;
-- waiting emails are few at any time, so a partial index keeps that scan small.
create index emails_waiting_idx on emails (created_at) where status in ('queued', 'scheduled');
