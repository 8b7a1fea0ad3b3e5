-- Connections of every kind; this service's surface shows only kind = 'aggregator'.
create table connections (
  id                uuid primary key,
  tenant_id         uuid not null,
  kind              text not null check (kind in ('aggregator', 'database', 'rest')),
  connector_type    text not null,
  config_name       text not null,
  base_url          text,
  account_ref       text,
  sealed_credential bytea,
  created_at        timestamptz not null default date_trunc('milliseconds', clock_timestamp()),
  updated_at        timestamptz not null default date_trunc('milliseconds', clock_timestamp()),
  deleted_at        timestamptz,
  constraint aggregator_has_credential check (
    kind <> 'aggregator' or (sealed_credential is not null and base_url is not null and account_ref is not null)
  )
);

-- A config name is unique per tenant and kind among live rows, so a soft delete frees it and an
-- aggregator create never reveals a non-aggregator row of the same name.
create unique index connections_live_config_name
  on connections (tenant_id, kind, config_name) where deleted_at is null;

-- Keyset pagination, newest first.
create index connections_live_by_created
  on connections (tenant_id, kind, created_at desc, id desc) where deleted_at is null;
