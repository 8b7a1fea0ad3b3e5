// Recording webhooks: a batch of events and the pulls they queue, in one statement (record_webhooks).
import type { components } from "../../generated/types.ts";
import type { Sql } from "../db/pool.ts";
import { storableJsonText } from "../db/storable_json.ts";
import type { ItemResult } from "../lib/group_commit.ts";
import { splitWork } from "../pulls/work.ts";
import type { Vendor } from "../vendors/vendors.ts";
import type { WebhookEvent } from "./vendor_events.ts";

export type WebhookReceipt = components["schemas"]["WebhookReceipt"];

export interface WebhookDelivery {
  tenantId: string;
  connectionId: string;
  vendor: Vendor;
  payload: Record<string, unknown>;
  /** The body read as that vendor's event. */
  event: WebhookEvent;
  now: Date;
}

/** A delivery's answer: its receipt, or undefined when its connection is not live. */
export type Recorded = WebhookReceipt | undefined;

export interface RecordOptions {
  /** How long after the first of them the pull the events queue comes due. */
  pullDelayMs: number;
  /** How long after the connection's last pull started that pull comes due at the soonest. */
  pullMinIntervalMs: number;
  /** Ids to fetch again that one account of a queued pull may hold before it is walked whole. */
  idsPerAccount: number;
}

/**
 * Stores each event once per connection and vendor event id and, when it asks for a pull, queues
 * one per connection (or merges into the queued one), all in one statement: once it returns,
 * every delivery's event and pull are durable. What an event asks is decided there, against the
 * connection's account reference as the statement reads it.
 */
export async function recordWebhooks(
  sql: Sql,
  deliveries: WebhookDelivery[],
  options: RecordOptions,
): Promise<ItemResult<Recorded>[]> {
  const batch = deliveries.map(({ tenantId, connectionId, vendor, event, now }, idx) => {
    const { work, items } = event.work ? splitWork(event.work) : { work: null, items: null };
    return {
      idx,
      id: crypto.randomUUID(),
      tenant_id: tenantId,
      connection_id: connectionId,
      vendor,
      event_key: event.key,
      event_type: event.type,
      subject: event.subject,
      work,
      items,
      received_at: now.toISOString(),
    };
  });
  const payloads = deliveries.map((d) => d.payload);
  const rows = await sql<{ idx: number; status: string; pull_id: string | null }[]>`
    select idx, status, pull_id from record_webhooks(
      ${storableJsonText(batch)}::text::jsonb, ${storableJsonText(payloads)}::text::jsonb,
      make_interval(secs => ${options.pullDelayMs / 1000}), ${options.idsPerAccount},
      make_interval(secs => ${options.pullMinIntervalMs / 1000}))`;
  const results: ItemResult<Recorded>[] = deliveries.map(() => ({ value: undefined }));
  for (const { idx, status, pull_id: pullId } of rows) {
    if (status === "gone") continue;
    results[idx] = { value: { status: status as WebhookReceipt["status"], pullId } };
  }
  return results;
}
