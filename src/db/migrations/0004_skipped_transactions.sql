-- Vendor transactions a pull could not store (a date, timestamp or amount the database would
-- refuse, or a row of the wrong shape): how many, and the first few as {id, accountId, reason},
-- never their values. Both defaults are constants, so adding them rewrites no row.
alter table pull_jobs
  add column transactions_skipped integer not null default 0,
  add column skipped_transactions jsonb not null default '[]';
