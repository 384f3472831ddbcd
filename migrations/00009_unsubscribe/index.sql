-- A recipient who unsubscribed through a campaign email's one-click link (RFC 8058) is on the
-- suppression list with a source of its own, so the tenant can tell a choice from a bounce.
alter table suppressions drop constraint suppressions_source_check;
alter table suppressions add constraint suppressions_source_check
  check (source in ('bounce', 'manual', 'unsubscribe'));
