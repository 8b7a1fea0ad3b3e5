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
  body: string;
  /** The oldest transaction in flight when the event was written (xid8 as text). */
  horizon: string;
  traceparent: string | null;
  createdAt: Date;
}

/**
 * Appends `events` of one connection inside `tx`, numbered after the connection's last event.
 * Call it last in the transaction. The rows go in first, unnumbered; then one small statement
 * takes the connection's head row, which stays locked until the transaction ends, and numbers
 * them: the connection's events are numbered in commit order and without a gap (a later writer
 * waits there for this one to commit or roll back), while the large bodies of concurrent page
 * stores are written side by side, outside that lock.
 */
export async function appendEvents(
  tx: Db,
  owner: { tenantId: string; connectionId: string },
  events: NewEvent[],
  traceparent?: string,
): Promise<void> {
  if (!events.length) return;
  const ids = events.length === 1
    ? await tx`
      insert into event_outbox (tenant_id, connection_id, routing_key, body, traceparent)
      values (${owner.tenantId}, ${owner.connectionId}, ${events[0].routingKey},
        ${JSON.stringify(events[0].body)}, ${traceparent ?? null})
      returning id`
    : await tx`
      insert into event_outbox (tenant_id, connection_id, routing_key, body, traceparent)
      select ${owner.tenantId}, ${owner.connectionId}, e.key, e.body, ${traceparent ?? null}
      from jsonb_to_recordset(${
      JSON.stringify(
        events.map((e, i) => ({ n: i, key: e.routingKey, body: JSON.stringify(e.body) })),
      )
    }::text::jsonb) as e(n int, key text, body text)
      order by e.n
      returning id`;
  // One position for the transaction's events (the relay's order), numbered in insert order.
  await tx`
    with head as (
      insert into event_outbox_heads as h (connection_id, last_sequence)
      values (${owner.connectionId}, ${events.length})
      on conflict (connection_id) do update
        set last_sequence = h.last_sequence + excluded.last_sequence
      returning last_sequence),
    at as (select nextval('event_outbox_position') as position),
    numbered as (
      select id, row_number() over (order by id) as n from event_outbox
      where id = any(${ids.map((r) => r.id)}::bigint[]))
    update event_outbox o
    set sequence = head.last_sequence - ${events.length} + numbered.n, position = at.position
    from head, at, numbered
    where o.id = numbered.id`;
}

/** The oldest unsent events, in the order they were written (per connection: commit order). */
export async function unsentEvents(db: Db, limit: number): Promise<OutboxRow[]> {
  const rows = await db`
    select id::text, message_id, tenant_id, connection_id, sequence::text, routing_key, body,
      horizon::text, traceparent, created_at
    from event_outbox where sent_at is null
    order by position, sequence
    limit ${limit}`;
  return rows.map((r) => ({
    id: r.id,
    messageId: r.message_id,
    tenantId: r.tenant_id,
    connectionId: r.connection_id,
    sequence: r.sequence,
    routingKey: r.routing_key,
    body: r.body,
    horizon: r.horizon,
    traceparent: r.traceparent,
    createdAt: r.created_at,
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
