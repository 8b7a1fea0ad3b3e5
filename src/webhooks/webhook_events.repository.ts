// Recording a webhook: the event and the pull it queues, together in one database transaction.
import type postgres from "postgres";
import type { components } from "../../generated/types.ts";
import type { Sql } from "../db/pool.ts";
import { lockLiveConnection } from "../connections/connections.repository.ts";
import { enqueuePull } from "../pulls/pulls.repository.ts";
import type { Vendor } from "../vendors/vendors.ts";
import type { WebhookEvent } from "./vendor_events.ts";

export type WebhookReceipt = components["schemas"]["WebhookReceipt"];

/**
 * Stores the event once per connection and vendor event id and, when it asks for a pull, queues
 * one (or merges it into the queued one), all in one transaction: a 202 means both are durable.
 * `read` turns the body into an event once the connection's account reference is known. Answers
 * undefined, having written nothing, when the connection is not live.
 */
export function recordWebhook(
  sql: Sql,
  delivery: {
    tenantId: string;
    connectionId: string;
    vendor: Vendor;
    payload: Record<string, unknown>;
    read: (accountRef: string) => WebhookEvent;
    now: Date;
  },
): Promise<WebhookReceipt | undefined> {
  return sql.begin(async (tx: postgres.TransactionSql) => {
    // A delete of the connection waits until this event and its pull are in.
    const connection = await lockLiveConnection(tx, delivery.tenantId, delivery.connectionId);
    if (!connection) return undefined;
    const event = delivery.read(connection.accountRef);
    const [inserted] = await tx`
      insert into webhook_events (id, tenant_id, connection_id, vendor, event_key, event_type,
                                  outcome, payload, received_at)
      values (${crypto.randomUUID()}, ${delivery.tenantId}, ${delivery.connectionId},
              ${delivery.vendor}, ${event.key}, ${event.type},
              ${event.work ? "accepted" : "ignored"},
              ${tx.json(delivery.payload as postgres.JSONValue)}, ${delivery.now})
      on conflict (connection_id, event_key) do nothing
      returning id`;
    if (!inserted) {
      const [first] = await tx`
        select pull_id from webhook_events
        where connection_id = ${delivery.connectionId} and event_key = ${event.key}`;
      return { status: "duplicate", pullId: first?.pull_id ?? null };
    }
    if (!event.work) return { status: "ignored", pullId: null };
    const pullId = await enqueuePull(tx, {
      tenantId: delivery.tenantId,
      connectionId: delivery.connectionId,
      trigger: "webhook",
      work: event.work,
      now: delivery.now,
    });
    await tx`update webhook_events set pull_id = ${pullId} where id = ${inserted.id}`;
    return { status: "accepted", pullId };
  });
}
