-- The change feed's position on every transaction row, and the transactional outbox of events.

-- Every real change of a transaction row (first stored, stored again with other values, deleted)
-- sets its position: the writing transaction's id and a number drawn in that transaction. The
-- feed lists rows by position, and only those whose writer is below the oldest transaction still
-- in flight, so that a reader never passes a position a later commit could still fill. Rows stored
-- before this migration get a position now, in its one transaction.
create sequence transaction_change_seq;
alter table transactions
  add column change_xid xid8 not null default pg_current_xact_id(),
  add column change_seq bigint not null default nextval('transaction_change_seq');

-- The feed of a tenant, and of one of its connections, in position order.
create index transactions_changes on transactions (tenant_id, change_xid, change_seq);
create index transactions_changes_by_connection
  on transactions (tenant_id, connection_id, change_xid, change_seq);

-- Events to publish on Matcher's exchange, written in the transaction whose data they announce
-- (only when MATCHER_AMQP_URL is set). `sequence` numbers a connection's events in commit order
-- with no gap: it comes from the connection's head row, taken last in the writing transaction
-- and held until it commits; `position` (one per writing transaction, drawn at the same moment)
-- orders every connection's events that way for the relay. Both are set before the writing
-- transaction commits. `horizon` is the oldest transaction in flight when the event was written:
-- every event of the connection committed later only holds changes at or after it.
create sequence event_outbox_position;
create table event_outbox (
  id            bigint generated always as identity primary key,
  message_id    uuid not null default gen_random_uuid(),
  tenant_id     uuid not null,
  connection_id uuid not null,
  sequence      bigint,
  position      bigint,
  routing_key   text not null,
  body          text not null,
  horizon       xid8 not null default pg_snapshot_xmin(pg_current_snapshot()),
  traceparent   text,
  created_at    timestamptz not null default clock_timestamp(),
  sent_at       timestamptz,
  constraint event_outbox_once unique (connection_id, sequence)
);

-- A page's event is a few hundred kilobytes of JSON, written once and read once or twice before
-- the sweep deletes it: compressing it would cost every page store more CPU than it saves.
alter table event_outbox alter column body set storage external;

-- The relay reads unsent events in the order they were written; the sweep prunes sent ones.
create index event_outbox_unsent on event_outbox (position, sequence) where sent_at is null;
create index event_outbox_sent on event_outbox (sent_at) where sent_at is not null;

-- The last event number of each connection.
create table event_outbox_heads (
  connection_id uuid primary key,
  last_sequence bigint not null
);
