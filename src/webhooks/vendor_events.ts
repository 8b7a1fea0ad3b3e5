// What each vendor's webhook asks for: its de-duplication key, its type, and the pull it needs.
import { z } from "zod";
import { AppError } from "../lib/app_error.ts";
import type { PullWork } from "../pulls/work.ts";
import type { Vendor } from "../vendors/vendors.ts";

/**
 * A webhook read. `work` is what it asks of the connection whose account reference is `subject`
 * (the Pluggy item or Belvo link it is about); null when it asks for no pull. A vendor sends all of
 * an application's events to each URL, so an event whose subject is not the connection's account
 * reference is recorded but asks for nothing: that is decided where the connection is read, in
 * the same statement that records the event.
 */
export interface WebhookEvent {
  /** Pluggy `eventId`, Belvo `webhook_id`. */
  key: string;
  /** Pluggy `event`; Belvo `webhook_type/webhook_code`. */
  type: string;
  subject: string | null;
  work: PullWork | null;
}

const Text = z.string().trim().min(1).max(200);
const Ids = z.array(Text).min(1).max(10_000);
const Timestamp = z.string().refine((s) => !Number.isNaN(Date.parse(s)), "is not a timestamp");

const PluggyEnvelope = z.looseObject({ event: Text, eventId: Text, itemId: Text.optional() });
const PluggyCreated = z.looseObject({
  itemId: Text,
  accountId: Text,
  transactionsCreatedAtFrom: Timestamp,
});
const PluggyChanged = z.looseObject({ itemId: Text, accountId: Text, transactionIds: Ids });

const BelvoEnvelope = z.looseObject({
  webhook_id: Text,
  webhook_type: Text,
  webhook_code: Text,
  link_id: Text,
  data: z.unknown().optional(),
});
/** `transactions_deleted` data is not documented; when it lists ids, they are hidden at once. */
const BelvoDeletedData = z.looseObject({ transactions: z.array(z.unknown()) });
const BELVO_PULLS = new Set([
  "historical_update",
  "new_transactions_available",
  "transactions_updated",
  "transactions_deleted",
]);

function notVendorPayload(vendor: Vendor, error: z.ZodError): AppError {
  const fields = error.issues.map((i) => ({
    field: i.path.join(".") || "body",
    message: i.message,
  }));
  const text = fields.map((f) => `${f.field}: ${f.message}`).join("; ");
  return new AppError("invalid_webhook", `Not a ${vendor} webhook (${text}).`, {
    fields,
  });
}

function parse<T extends z.ZodType>(vendor: Vendor, schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (!result.success) throw notVendorPayload(vendor, result.error);
  return result.data;
}

/** Reads a webhook body of `vendor`; throws a 400 when it is not that vendor's payload. */
export function readWebhook(vendor: Vendor, body: unknown): WebhookEvent {
  return vendor === "pluggy" ? readPluggy(body) : readBelvo(body);
}

function readPluggy(body: unknown): WebhookEvent {
  const envelope = parse("pluggy", PluggyEnvelope, body);
  const event = { key: envelope.eventId, type: envelope.event, subject: envelope.itemId ?? null };
  switch (envelope.event) {
    case "transactions/created": {
      const e = parse("pluggy", PluggyCreated, body);
      const from = new Date(e.transactionsCreatedAtFrom).toISOString();
      return { ...event, subject: e.itemId, work: { createdFrom: { [e.accountId]: from } } };
    }
    case "transactions/updated": {
      const e = parse("pluggy", PluggyChanged, body);
      const ids = { [e.accountId]: [...new Set(e.transactionIds)] };
      return { ...event, subject: e.itemId, work: { ids } };
    }
    case "transactions/deleted": {
      const e = parse("pluggy", PluggyChanged, body);
      return { ...event, subject: e.itemId, work: { deleted: [...new Set(e.transactionIds)] } };
    }
    case "item/updated":
      return { ...event, work: { sync: true } };
    default:
      return { ...event, work: null };
  }
}

function readBelvo(body: unknown): WebhookEvent {
  const e = parse("belvo", BelvoEnvelope, body);
  const event = {
    key: e.webhook_id,
    type: `${e.webhook_type}/${e.webhook_code}`,
    subject: e.link_id,
  };
  if (e.webhook_type !== "TRANSACTIONS" || !BELVO_PULLS.has(e.webhook_code)) {
    return { ...event, work: null };
  }
  const work: PullWork = { sync: true };
  const data = BelvoDeletedData.safeParse(e.data);
  if (e.webhook_code === "transactions_deleted" && data.success) {
    const ids = data.data.transactions.filter((id): id is string => typeof id === "string");
    if (ids.length) work.deleted = [...new Set(ids)];
  }
  return { ...event, work };
}
