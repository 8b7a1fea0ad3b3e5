// Builders of Belvo TRANSACTIONS webhook payloads for the fake to deliver.
import { cryptoHex32 } from "./random.ts";

/** What the builders need to know about the fake that sends them. */
export interface BelvoWebhookContext {
  externalId(linkId: string): string | null;
  /** `historical_update` data for the link as it stands. */
  history(linkId: string): Record<string, unknown>;
}

interface Common {
  linkId: string;
  /** The de-duplication key; a fresh 32-hex id when absent. */
  webhookId?: string;
  /** Replaces the default `data`. */
  data?: Record<string, unknown>;
}

/** Payload builders in Belvo's shape: `{webhook_id, webhook_type, process_type, webhook_code, ...}`. */
export interface BelvoWebhookBuilders {
  /** `historical_update`; data counts the link's transactions and their date range. */
  historicalUpdate(args: Common): Record<string, unknown>;
  /** `new_transactions_available`; data `{new_transactions: count}` (*unverified* shape). */
  newTransactionsAvailable(args: Common & { count: number }): Record<string, unknown>;
  /** `transactions_updated`; data `{transactions: ids}` (*unverified* shape). */
  transactionsUpdated(args: Common & { transactionIds: string[] }): Record<string, unknown>;
  /** `transactions_deleted`; data `{transactions: ids}` (*unverified* shape). */
  transactionsDeleted(args: Common & { transactionIds: string[] }): Record<string, unknown>;
}

/** Builders bound to one fake Belvo. */
export function belvoWebhooks(ctx: BelvoWebhookContext): BelvoWebhookBuilders {
  function payload(code: string, args: Common, data: Record<string, unknown>) {
    return {
      webhook_id: args.webhookId ?? cryptoHex32(),
      webhook_type: "TRANSACTIONS",
      process_type: code === "historical_update" ? "historical_update" : "recurrent_update",
      webhook_code: code,
      link_id: args.linkId,
      request_id: crypto.randomUUID(),
      external_id: ctx.externalId(args.linkId),
      data: args.data ?? data,
    };
  }
  return {
    historicalUpdate: (args) => payload("historical_update", args, ctx.history(args.linkId)),
    newTransactionsAvailable: (args) =>
      payload("new_transactions_available", args, { new_transactions: args.count }),
    transactionsUpdated: (args) =>
      payload("transactions_updated", args, { transactions: args.transactionIds }),
    transactionsDeleted: (args) =>
      payload("transactions_deleted", args, { transactions: args.transactionIds }),
  };
}
