// The transactional outbox: events appended inside the transaction they announce, read in order
// by the relay, marked sent after the broker confirmed them, and pruned after the retention.
import type { Db, Sql } from "../db/pool.ts";

/** An event to append: its routing key and its JSON body (without `sequence` and `cursor`). */
export interface NewEvent {
  routingKey: string;
  body: Record<string, unknown>;
}

/** An outbox row as the relay publishes it. */
export interface OutboxRow {
  id: string;
  messageId: string;
  tenantId: string;
  connectionId: string;
  sequence: string;
  routingKey: string;
  /** The JSON body, as stored (UTF-8). */
  body: Uint8Array;
  /** The oldest transaction in flight when the event was written (xid8 as text). */
  horizon: string;
  traceparent: string | null;
  createdAt: Date;
}

/**
 * Appends `events` of one connection inside `tx`, numbered after the connection's last event.
 * Call it last in the transaction. The rows go in first, unnumbered; then `numberEvents` takes
 * the connection's head row, which stays locked until the transaction ends, and numbers them: the
 * connection's events are numbered in commit order and without a gap (a later writer waits there
 * for this one to commit or roll back), while the bodies of concurrent writers are written side
 * by side, outside that lock.
 */
export async function appendEvents(
  tx: Db,
  owner: { tenantId: string; connectionId: string },
  events: NewEvent[],
  traceparent?: string,
): Promise<void> {
  if (!events.length) return;
  const rows = events.map((e, i) => ({ n: i, key: e.routingKey, body: JSON.stringify(e.body) }));
  await tx`
    insert into event_outbox (tenant_id, connection_id, routing_key, body, traceparent)
    select ${owner.tenantId}, ${owner.connectionId}, e.key, e.body, ${traceparent ?? null}
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as e(n int, key text, body text)
    order by e.n`;
  await numberEvents(tx, owner.connectionId);
}

/**
 * Writes the `transactions.changed` event of the connection's rows this transaction changed (a
 * page store's upserts and deletions), if it changed any, unnumbered (`numberEvents`, last in
 * the transaction, numbers it); answers whether it did. Postgres writes the body from the
 * rows themselves, each change as the feed shows it (`transaction_change`, migration 0010), in
 * feed order: `eventType`, `tenantId`, `connectionId`, `vendor`, `pullId`, `changeCount`,
 * `changes`, `timestamp`. Call it before taking row locks that other page stores wait for: the
 * body is the costly part.
 */
export async function writeChangesEvent(
  tx: Db,
  owner: { tenantId: string; connectionId: string; vendor: string; pullId: string },
  routingKey: string,
  now: Date,
): Promise<boolean> {
  const written = await tx`
    insert into event_outbox (tenant_id, connection_id, routing_key, body)
    select ${owner.tenantId}, ${owner.connectionId}, ${routingKey}, concat(
      '{"eventType":', to_json(${routingKey}::text),
      ',"tenantId":"', ${owner.tenantId}::uuid, '","connectionId":"', ${owner.connectionId}::uuid,
      '","vendor":', to_json(${owner.vendor}::text), ',"pullId":"', ${owner.pullId}::uuid,
      '","changeCount":', count(*),
      ',"changes":[', string_agg(transaction_change(t), ',' order by t.change_xid, t.change_seq),
      '],"timestamp":"', ${now.toISOString()}::text, '"}')
    from transactions t
    where t.tenant_id = ${owner.tenantId} and t.connection_id = ${owner.connectionId}
      and t.change_xid = pg_current_xact_id()
    having count(*) > 0`;
  return written.count > 0;
}

/**
 * Numbers this transaction's new events of one connection (its rows with no number yet: every
 * committed row has one), in insert order, after the connection's last one, and gives them one
 * position (the relay's order). Call it last in the transaction: the connection's head row stays
 * locked until the transaction ends.
 */
export async function numberEvents(tx: Db, connectionId: string): Promise<void> {
  await tx`
    with fresh as (
      select id, row_number() over (order by id) as n, count(*) over () as total
      from event_outbox where connection_id = ${connectionId} and sequence is null),
    head as (
      insert into event_outbox_heads as h (connection_id, last_sequence)
      select ${connectionId}, count(*) from fresh having count(*) > 0
      on conflict (connection_id) do update
        set last_sequence = h.last_sequence + excluded.last_sequence
      returning last_sequence),
    at as (select nextval('event_outbox_position') as position)
    update event_outbox o
    set sequence = head.last_sequence - fresh.total + fresh.n, position = at.position
    from head, at, fresh
    where o.id = fresh.id`;
}

/**
 * The oldest unsent events, in the order they were written (per connection: commit order). Read as
 * raw bytes: a page's body goes to the broker as Postgres stored it, never decoded to a string.
 */
export async function unsentEvents(db: Db, limit: number): Promise<OutboxRow[]> {
  const rows = await db`
    select id::text, message_id, tenant_id, connection_id, sequence::text, routing_key,
      horizon::text, traceparent, extract(epoch from created_at)::float8::text, body
    from event_outbox where sent_at is null
    order by position, sequence
    limit ${limit}`.raw();
  return rows.map((
    [id, messageId, tenantId, connectionId, sequence, key, horizon, trace, at, body],
  ) => ({
    id: id!.toString(),
    messageId: messageId!.toString(),
    tenantId: tenantId!.toString(),
    connectionId: connectionId!.toString(),
    sequence: sequence!.toString(),
    routingKey: key!.toString(),
    horizon: horizon!.toString(),
    traceparent: trace?.toString() ?? null,
    createdAt: new Date(Number(at!.toString()) * 1000),
    body: body!,
  }));
}

/** Marks events sent (the broker confirmed them). */
export async function markSent(db: Db, ids: string[], at: Date): Promise<void> {
  if (!ids.length) return;
  await db`update event_outbox set sent_at = ${at} where id = any(${ids}::bigint[])`;
}

/** Unsent events and the age of the oldest, for the metrics. */
export async function outboxBacklog(
  sql: Sql,
  now: Date,
): Promise<{ pending: number; oldestAgeSeconds: number }> {
  const [r] = await sql`
    select count(*)::int as pending,
      coalesce(extract(epoch from (${now}::timestamptz - min(created_at))), 0)::float8 as age
    from event_outbox where sent_at is null`;
  return { pending: r.pending, oldestAgeSeconds: Math.max(0, r.age) };
}

/** Rows one statement deletes, so a first prune of a large backlog never holds long locks. */
const BATCH = 5_000;
const MAX_BATCHES = 20;

/** Deletes events sent before `before`, a batch at a time; unsent ones are never deleted. */
export async function pruneSentEvents(sql: Sql, before: Date): Promise<number> {
  let pruned = 0;
  for (let i = 0; i < MAX_BATCHES; i++) {
    const result = await sql`
      delete from event_outbox where id in (
        select id from event_outbox where sent_at < ${before} limit ${BATCH})`;
    pruned += result.count;
    if (result.count < BATCH) break;
  }
  return pruned;
}
