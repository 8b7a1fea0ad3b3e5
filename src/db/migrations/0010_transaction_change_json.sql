-- One change of the feed as JSON text, built in Postgres: the change feed's items and the
-- transactions.changed events' changes both come from this one function, so they cannot differ,
-- and a page's event is built from the rows just written without sending them to the service
-- and back.

-- The spec's TransactionChange for a stored row: `deleted` rows carry their ids only. The cursor
-- is base64url (unpadded) of {"x":"<change_xid>","s":"<change_seq>"} (src/changes/feed_cursor.ts
-- reads it); times are UTC with milliseconds, as JavaScript's toISOString writes them. Written as
-- one concat() of one SELECT so that the planner inlines it (no call per row), and with no
-- json_build_object, whose per-argument type lookups cost several times as much.
create function transaction_change(t transactions) returns text
language sql stable parallel safe as $$
  select concat('{"change":"', case when t.deleted_at is null then 'upserted' else 'deleted' end,
    '","cursor":"', rtrim(replace(replace(encode(convert_to(
      concat('{"x":"', t.change_xid, '","s":"', t.change_seq, '"}'), 'UTF8'), 'base64'),
      '+', '-'), '/', '_'), '='),
    '","id":"', t.id, '","connectionId":"', t.connection_id,
    '","vendor":', to_json(t.vendor), ',"externalId":', to_json(t.external_id),
    ',"changedAt":"', to_char(t.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
    '","transaction":', case when t.deleted_at is not null then 'null' else concat(
      '{"id":"', t.id, '","connectionId":"', t.connection_id,
      '","vendor":', to_json(t.vendor), ',"externalId":', to_json(t.external_id),
      ',"accountId":', to_json(t.account_id), ',"amount":"', t.amount,
      '","currency":', coalesce(to_json(t.currency), 'null'),
      ',"direction":"', t.direction, '","status":"', t.status,
      '","date":"', to_char(t.booking_date::timestamp, 'YYYY-MM-DD'),
      '","description":', coalesce(to_json(t.description), 'null'),
      ',"vendorCreatedAt":', coalesce('"' || to_char(t.vendor_created_at at time zone 'UTC',
        'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') || '"', 'null'),
      ',"updatedAt":"', to_char(t.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
      '"}') end,
    '}')
$$;

-- A page's event body compressed with lz4 (where this Postgres has it; pglz otherwise): a fifth of
-- the TOAST rows and WAL to write, for a compression that costs less than writing them.
alter table event_outbox alter column body set storage extended;
do $$
begin
  alter table event_outbox alter column body set compression lz4;
exception when feature_not_supported then null;
end $$;
