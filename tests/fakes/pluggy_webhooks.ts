// Builders of Pluggy webhook payloads (item and transaction events) for the fake to deliver.

/** What the builders need to know about the fake that sends them. */
export interface PluggyWebhookContext {
  baseUrl: string;
  clientId: string;
  clientUserId(itemId: string): string | null;
  /** How many of the account's transactions were created at or after `fromMs`. */
  createdSince(accountId: string, fromMs: number): number;
}

type Timestamp = string | Date;

/** Payload builders; each gets a fresh `eventId` unless one is given. */
export interface PluggyWebhookBuilders {
  transactionsCreated(args: {
    itemId: string;
    accountId: string;
    transactionsCreatedAtFrom: Timestamp;
    count?: number;
    eventId?: string;
  }): Record<string, unknown>;
  transactionsUpdated(
    args: { itemId: string; accountId: string; transactionIds: string[]; eventId?: string },
  ): Record<string, unknown>;
  transactionsDeleted(
    args: { itemId: string; accountId: string; transactionIds: string[]; eventId?: string },
  ): Record<string, unknown>;
  itemUpdated(
    args: { itemId: string; triggeredBy?: string; eventId?: string },
  ): Record<string, unknown>;
  itemError(args: {
    itemId: string;
    error?: { code: string; message: string };
    triggeredBy?: string;
    eventId?: string;
  }): Record<string, unknown>;
}

/** Builders bound to one fake Pluggy. */
export function pluggyWebhooks(ctx: PluggyWebhookContext): PluggyWebhookBuilders {
  const iso = (t: Timestamp) => (typeof t === "string" ? t : t.toISOString());
  return {
    transactionsCreated({ itemId, accountId, transactionsCreatedAtFrom, count, eventId }) {
      const from = iso(transactionsCreatedAtFrom);
      const link = new URL("/transactions", ctx.baseUrl);
      link.searchParams.set("accountId", accountId);
      link.searchParams.set("createdAtFrom", from);
      return {
        event: "transactions/created",
        eventId: eventId ?? crypto.randomUUID(),
        itemId,
        accountId,
        transactionsCreatedAtFrom: from,
        // Pluggy writes the timestamp unescaped; a URL parser reads it back the same either way.
        createdTransactionsLink: link.href.replaceAll("%3A", ":"),
        transactionsCount: count ?? ctx.createdSince(accountId, Date.parse(from)),
      };
    },
    transactionsUpdated({ itemId, accountId, transactionIds, eventId }) {
      return {
        event: "transactions/updated",
        eventId: eventId ?? crypto.randomUUID(),
        itemId,
        clientId: ctx.clientId,
        accountId,
        transactionIds,
      };
    },
    transactionsDeleted({ itemId, accountId, transactionIds, eventId }) {
      return {
        event: "transactions/deleted",
        eventId: eventId ?? crypto.randomUUID(),
        itemId,
        clientId: ctx.clientId,
        accountId,
        transactionIds,
      };
    },
    itemUpdated({ itemId, triggeredBy, eventId }) {
      return {
        event: "item/updated",
        eventId: eventId ?? crypto.randomUUID(),
        id: itemId,
        itemId,
        triggeredBy: triggeredBy ?? "SYNC",
        clientUserId: ctx.clientUserId(itemId),
      };
    },
    itemError({ itemId, error, triggeredBy, eventId }) {
      return {
        event: "item/error",
        eventId: eventId ?? crypto.randomUUID(),
        id: itemId,
        itemId,
        triggeredBy: triggeredBy ?? "SYNC",
        clientUserId: ctx.clientUserId(itemId),
        error: error ?? { code: "INVALID_CREDENTIALS", message: "Invalid credentials" },
      };
    },
  };
}
