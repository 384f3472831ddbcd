-- Rules nothing consults: the trigger ignores a status written again (sending -> sending), and no
-- attempt is ever recorded 'skipped'. The table now equals ALLOWED_TRANSITIONS in
-- src/shared/status.ts (a test compares them).
delete from email_status_transitions where from_status = to_status;

alter table delivery_attempts drop constraint delivery_attempts_outcome_check;
alter table delivery_attempts add constraint delivery_attempts_outcome_check
  check (outcome in ('sent', 'partial', 'transient', 'permanent', 'uncertain'));
