// Recording webhooks: a batch of events and the pulls they queue, together in one database transaction.
import type postgres from "postgres";
import type { components } from "../../generated/types.ts";
import { lockLiveConnections } from "../connections/connections.repository.ts";
import type { Sql } from "../db/pool.ts";
import { enqueuePulls, type PullRequest } from "../pulls/pull_queue.repository.ts";
import { mergeWork } from "../pulls/work.ts";
import type { Vendor } from "../vendors/vendors.ts";
import type { ItemResult } from "../lib/group_commit.ts";
import type { WebhookEvent } from "./vendor_events.ts";

export type WebhookReceipt = components["schemas"]["WebhookReceipt"];

export interface WebhookDelivery {
  tenantId: string;
  connectionId: string;
  vendor: Vendor;
  payload: Record<string, unknown>;
  /** Turns the body into an event once the connection's account reference is known; may throw. */
  read: (accountRef: string) => WebhookEvent;
  now: Date;
}

/** A delivery's answer: its receipt, or undefined when its connection is not live. */
export type Recorded = WebhookReceipt | undefined;

/** A delivery whose event is new to this batch and is to be inserted. */
type Fresh = { index: number; id: string; delivery: WebhookDelivery; event: WebhookEvent };

/**
 * Stores each event once per connection and vendor event id and, when it asks for a pull, queues
 * one per connection (or merges into the queued one), all in one transaction: once it commits,
 * every delivery's event and pull are durable. A delivery whose body is not a valid event of its
 * vendor gets its own error and leaves the others alone.
 */
export function recordWebhooks(
  sql: Sql,
  deliveries: WebhookDelivery[],
  options: { pullDelayMs: number },
): Promise<ItemResult<Recorded>[]> {
  return sql.begin(async (tx: postgres.TransactionSql) => {
    const results: ItemResult<Recorded>[] = deliveries.map(() => ({ value: undefined }));
    // A delete of one of these connections waits until this batch is in.
    const accountRefs = await lockLiveConnections(tx, deliveries.map((d) => d.connectionId));

    // Read each body; the first delivery of an event in this batch is the one inserted.
    const fresh: Fresh[] = [];
    const firstOf = new Map<string, Fresh>();
    const repeats: { index: number; of: Fresh }[] = [];
    deliveries.forEach((delivery, index) => {
      const accountRef = accountRefs.get(`${delivery.tenantId}/${delivery.connectionId}`);
      if (accountRef === undefined) return; // not live: undefined, nothing written
      let event: WebhookEvent;
      try {
        event = delivery.read(accountRef);
      } catch (error) {
        results[index] = { error };
        return;
      }
      const key = eventKey({ delivery, event });
      const first = firstOf.get(key);
      if (first) return repeats.push({ index, of: first });
      const item = { index, id: crypto.randomUUID(), delivery, event };
      firstOf.set(key, item);
      fresh.push(item);
    });

    const inserted = await insertEvents(tx, fresh);
    const accepted = fresh.filter((f) => inserted.has(f.id) && f.event.work);
    const pullIds = await queuePulls(tx, accepted, options.pullDelayMs);
    const earlier = await earlierPullIds(tx, fresh.filter((f) => !inserted.has(f.id)));

    const receiptOf = (f: Fresh): WebhookReceipt => {
      if (!inserted.has(f.id)) {
        return { status: "duplicate", pullId: earlier.get(eventKey(f)) ?? null };
      }
      const pullId = pullIds.get(f.delivery.connectionId) ?? null;
      return f.event.work ? { status: "accepted", pullId } : { status: "ignored", pullId: null };
    };
    for (const f of fresh) results[f.index] = { value: receiptOf(f) };
    for (const { index, of } of repeats) {
      results[index] = { value: { status: "duplicate", pullId: receiptOf(of).pullId } };
    }
    return results;
  });
}

/** An event's identity: its connection and the vendor's event id. */
function eventKey(f: Pick<Fresh, "delivery" | "event">): string {
  return `${f.delivery.connectionId}/${f.event.key}`;
}

/** Inserts the events in one statement; answers the ids of those that were new. */
async function insertEvents(tx: postgres.TransactionSql, fresh: Fresh[]): Promise<Set<string>> {
  if (fresh.length === 0) return new Set();
  const rows = fresh.map(({ id, delivery: d, event }) => ({
    id,
    tenant_id: d.tenantId,
    connection_id: d.connectionId,
    vendor: d.vendor,
    event_key: event.key,
    event_type: event.type,
    outcome: event.work ? "accepted" : "ignored",
    payload: d.payload,
    received_at: d.now.toISOString(),
  }));
  const inserted = await tx`
    insert into webhook_events (id, tenant_id, connection_id, vendor, event_key, event_type,
                                outcome, payload, received_at)
    select id, tenant_id, connection_id, vendor, event_key, event_type, outcome, payload,
           received_at
    from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(
      id uuid, tenant_id uuid, connection_id uuid, vendor text, event_key text, event_type text,
      outcome text, payload jsonb, received_at timestamptz)
    on conflict (connection_id, event_key) do nothing
    returning id`;
  return new Set(inserted.map((r) => r.id));
}

/**
 * Queues one pull per connection with the merged work of its new events, due `delayMs` after the
 * first of them (a vendor sends several events for one sync: they become one pull), and links
 * each event to it. Answers the pull id of each connection.
 */
async function queuePulls(tx: postgres.TransactionSql, accepted: Fresh[], delayMs: number) {
  const byConnection = new Map<string, PullRequest>();
  for (const { delivery: d, event } of accepted) {
    const earlier = byConnection.get(d.connectionId);
    const now = earlier && earlier.now < d.now ? earlier.now : d.now;
    byConnection.set(d.connectionId, {
      tenantId: d.tenantId,
      connectionId: d.connectionId,
      trigger: "webhook",
      work: earlier ? mergeWork(earlier.work, event.work!) : event.work!,
      now,
      dueAt: new Date(now.getTime() + delayMs),
    });
  }
  const pullIds = await enqueuePulls(tx, [...byConnection.values()]);
  if (accepted.length > 0) {
    const eventIds = accepted.map((f) => f.id);
    const eventPulls = accepted.map((f) => pullIds.get(f.delivery.connectionId)!);
    await tx`
      update webhook_events e set pull_id = v.pull_id
      from unnest(${eventIds}::uuid[], ${eventPulls}::uuid[]) as v(id, pull_id)
      where e.id = v.id`;
  }
  return pullIds;
}

/** The pull each already-recorded event queued, keyed as `eventKey` does. */
async function earlierPullIds(tx: postgres.TransactionSql, duplicates: Fresh[]) {
  const found = new Map<string, string | null>();
  if (duplicates.length === 0) return found;
  const rows = await tx`
    select e.event_key, e.connection_id, e.pull_id from webhook_events e
    join unnest(${duplicates.map((f) => f.delivery.connectionId)}::uuid[],
                ${duplicates.map((f) => f.event.key)}::text[]) as d(connection_id, event_key)
      on e.connection_id = d.connection_id and e.event_key = d.event_key`;
  for (const r of rows) found.set(`${r.connection_id}/${r.event_key}`, r.pull_id);
  return found;
}
