-- Rules nothing consults: the trigger ignores a status written again (sending -> sending), and no
-- attempt is ever recorded 'skipped'. The table now equals ALLOWED_TRANSITIONS in
-- src/shared/status.ts (a test compares them).
delete from email_status_transitions where from_status = to_status;

-- An attempt that a pause could not stop (one Temporal had already timed out, still running)
-- may deliver after the pause was recorded: the truth is sent.
insert into email_status_transitions (from_status, to_status) values ('paused', 'sent');

alter table delivery_attempts drop constraint delivery_attempts_outcome_check;
alter table delivery_attempts add constraint delivery_attempts_outcome_check
  check (outcome in ('sent', 'partial', 'transient', 'permanent', 'uncertain'));
