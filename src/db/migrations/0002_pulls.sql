-- Webhook events, pull jobs, per-account watermarks and the normalized transactions they store.

-- Every webhook delivery that named a live connection, once per vendor event id.
create table webhook_events (
  id            uuid primary key,
  tenant_id     uuid not null,
  connection_id uuid not null references connections (id),
  vendor        text not null,
  event_key     text not null,             -- Pluggy eventId, Belvo webhook_id
  event_type    text not null,             -- Pluggy event, Belvo webhook_type/webhook_code
  outcome       text not null check (outcome in ('accepted', 'ignored')),
  pull_id       uuid,
  payload       jsonb not null,
  received_at   timestamptz not null default clock_timestamp(),
  constraint webhook_events_once unique (connection_id, event_key)
);

-- Pull jobs. `work` says what to fetch; `checkpoint` how far the current attempt got.
create table pull_jobs (
  id                    uuid primary key,
  tenant_id             uuid not null,
  connection_id         uuid not null references connections (id),
  trigger               text not null check (trigger in ('webhook', 'manual')),
  status                text not null
    check (status in ('queued', 'running', 'retrying', 'succeeded', 'failed', 'dead')),
  work                  jsonb not null,
  checkpoint            jsonb not null default '{"done": []}',
  attempts              integer not null default 0,
  next_attempt_at       timestamptz,
  lease_owner           text,
  lease_expires_at      timestamptz,
  last_error            jsonb,
  pages_fetched         integer not null default 0,
  transactions_upserted integer not null default 0,
  created_at            timestamptz not null,
  started_at            timestamptz,
  finished_at           timestamptz
);

-- At most one queued job per connection (later triggers merge into it) and one running job.
create unique index pull_jobs_one_queued on pull_jobs (connection_id) where status = 'queued';
create unique index pull_jobs_one_running on pull_jobs (connection_id) where status = 'running';
-- Claims: due jobs in order of when they are due.
create index pull_jobs_due on pull_jobs (next_attempt_at) where status in ('queued', 'retrying');
-- The sweep: running jobs whose lease ran out.
create index pull_jobs_leases on pull_jobs (lease_expires_at) where status = 'running';
-- A connection's pulls, newest first.
create index pull_jobs_by_connection on pull_jobs (tenant_id, connection_id, created_at desc, id desc);

-- The point up to which every transaction of an account is known to be stored.
create table account_watermarks (
  connection_id uuid not null references connections (id),
  account_id    text not null,
  created_up_to timestamptz not null,
  primary key (connection_id, account_id)
);

create table transactions (
  id                uuid primary key default gen_random_uuid(),
  tenant_id         uuid not null,
  connection_id     uuid not null references connections (id),
  vendor            text not null,
  external_id       text not null,
  account_id        text not null,
  amount            numeric not null,
  currency          text,
  direction         text not null check (direction in ('credit', 'debit')),
  status            text not null check (status in ('posted', 'pending')),
  booking_date      date not null,
  description       text,
  vendor_created_at timestamptz,
  raw               jsonb not null,
  created_at        timestamptz not null default date_trunc('milliseconds', clock_timestamp()),
  updated_at        timestamptz not null default date_trunc('milliseconds', clock_timestamp()),
  deleted_at        timestamptz,
  constraint transactions_once unique (connection_id, vendor, external_id)
);

-- Keyset pagination of live rows, most recently stored first.
create index transactions_live_by_created
  on transactions (tenant_id, connection_id, created_at desc, id desc) where deleted_at is null;
