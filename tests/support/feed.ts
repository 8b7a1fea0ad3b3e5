// A change feed consumer for tests: reads pages after a cursor and applies them to a local copy.
import assert from "node:assert/strict";
import type { components } from "../../generated/types.ts";
import type { VendorTransaction } from "../../src/vendors/aggregator.ts";
import type { Harness } from "./harness.ts";

type Change = components["schemas"]["TransactionChange"];
type Transaction = components["schemas"]["Transaction"];

/** What a consumer holds: each transaction's last state, by id; deleted ones are absent. */
export class FeedCopy {
  readonly live = new Map<string, Transaction>();
  cursor: string | undefined;
  applied = 0;

  constructor(from?: FeedCopy) {
    if (from) {
      for (const [id, t] of from.live) this.live.set(id, t);
      this.cursor = from.cursor;
    }
  }

  apply(items: Change[]): void {
    for (const item of items) {
      if (item.change === "deleted") {
        assert.equal(item.transaction, null);
        this.live.delete(item.id);
      } else {
        assert.ok(item.transaction, "an upserted change carries its transaction");
        assert.equal(item.transaction.id, item.id);
        this.live.set(item.id, item.transaction);
      }
      this.cursor = item.cursor;
      this.applied++;
    }
  }
}

/** GET of a feed page as some tenant: answers status and parsed body. */
export type FeedGet = (query: string) => Promise<{ status: number; body: Record<string, unknown> }>;

/**
 * Reads pages after the copy's cursor until one is empty or says there is no more, applying each;
 * answers the items read.
 */
export async function catchUp(
  get: FeedGet,
  copy: FeedCopy,
  options: { limit?: number; connectionId?: string; maxPages?: number } = {},
): Promise<Change[]> {
  const read: Change[] = [];
  for (let page = 0; page < (options.maxPages ?? 100_000); page++) {
    const query = new URLSearchParams({ limit: String(options.limit ?? 200) });
    if (copy.cursor) query.set("after", copy.cursor);
    if (options.connectionId) query.set("connectionId", options.connectionId);
    const { status, body } = await get(query.toString());
    assert.equal(status, 200, JSON.stringify(body));
    const items = body.items as Change[];
    copy.apply(items);
    read.push(...items);
    if (items.length) assert.equal(body.nextCursor, items[items.length - 1].cursor);
    else assert.equal(body.nextCursor, null);
    if (!body.hasMore) break;
  }
  return read;
}

/**
 * `catchUp` until `done(copy)`: the feed lags (never skips) while a transaction elsewhere on the
 * database server began before the changes and is still open, which other suites may cause.
 * Answers every item read meanwhile.
 */
export async function catchUpUntil(
  get: FeedGet,
  copy: FeedCopy,
  done: (copy: FeedCopy) => boolean,
  options: { limit?: number; connectionId?: string; timeoutMs?: number } = {},
): Promise<Change[]> {
  const read: Change[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    read.push(...await catchUp(get, copy, options));
    if (done(copy)) return read;
    if (Date.now() > deadline) throw new Error("timed out following the feed");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A normalized vendor transaction for repository-level writers. */
export function vendorTransaction(
  id: string,
  amount: string,
  overrides: Partial<VendorTransaction> = {},
): VendorTransaction {
  return {
    id,
    accountId: "acc-1",
    date: "2026-01-15",
    amount,
    direction: amount.startsWith("-") ? "debit" : "credit",
    currency: "BRL",
    description: `txn ${id}`,
    status: "posted",
    createdAt: "2026-01-15T10:00:00.000Z",
    raw: { id, amount },
    ...overrides,
  };
}

/** A Pluggy connection of `tenant` (never called: the tests write its rows themselves). */
export async function createConnection(h: Harness, tenant: string, configName: string) {
  const res = await h.request("/v1/discovery/aggregator-connections", {
    method: "POST",
    tenant,
    json: {
      vendor: "pluggy",
      configName,
      baseUrl: "https://api.pluggy.ai",
      accountRef: crypto.randomUUID(),
      clientId: "client-id",
      secret: "client-secret",
    },
  });
  assert.equal(res.status, 201);
  return (await res.json()).id as string;
}

/** A new Pluggy connection of `tenant` as the owner a page store takes. */
export async function pluggyOwner(h: Harness, tenant: string, configName: string) {
  return {
    tenantId: tenant,
    connectionId: await createConnection(h, tenant, configName),
    vendor: "pluggy" as const,
  };
}

export function feedGet(h: Harness, tenant: string): FeedGet {
  return async (query) => {
    const res = await h.request(`/v1/discovery/transactions/changes?${query}`, { tenant });
    return { status: res.status, body: await res.json() };
  };
}
