-- The audit trail: one row per change a tenant made through the API (and per live test it ran),
-- inserted in the transaction of the change it records. Append-only: the service only inserts and
-- reads, and the triggers below refuse UPDATE, DELETE and TRUNCATE to everyone but a table owner
-- who disables them on purpose (the README's "Archiving the audit trail").
create table audit_events (
  -- UUID v7 from the same millisecond as occurred_at, so that id order is time order.
  id            uuid primary key,
  tenant_id     uuid not null,
  action        text not null check (action in (
                  'connection.created', 'connection.updated', 'connection.deleted',
                  'connection.tested', 'webhook_token.minted', 'webhook_token.revoked',
                  'pull.requested', 'pull.retried')),
  target_type   text not null check (target_type in ('connection', 'webhook_token', 'pull')),
  target_id     uuid not null,
  connection_id uuid not null,
  -- The JWT's `sub` and `iss`; null when the token had none.
  actor_subject text,
  actor_issuer  text,
  request_id    text not null,
  occurred_at   timestamptz not null,
  -- What the change was, never a value that is secret: field names, flags, outcomes, ids.
  details       jsonb not null default '{}'
);

-- The listing (newest first) and its two filters, each within the tenant.
create index audit_events_by_time on audit_events (tenant_id, occurred_at desc, id desc);
create index audit_events_by_target
  on audit_events (tenant_id, target_id, occurred_at desc, id desc);
create index audit_events_by_action
  on audit_events (tenant_id, action, occurred_at desc, id desc);

create function audit_events_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'audit_events is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege',
          hint = 'archive as the README says: copy the rows out, then delete them with the trigger disabled';
end
$$;

create trigger audit_events_no_update_or_delete
  before update or delete on audit_events
  for each row execute function audit_events_append_only();

create trigger audit_events_no_truncate
  before truncate on audit_events
  for each statement execute function audit_events_append_only();
