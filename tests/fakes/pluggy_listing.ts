// Pluggy's two transaction listings: page-based GET /transactions and cursor-based GET /v2/transactions.
import type { PluggyAccountState } from "./pluggy_data.ts";
import type { PluggyTransaction } from "./pluggy_transaction.ts";
import { compareEntries, indexAfter, type LedgerEntry } from "./random.ts";

/** Everything a listing needs: the query and the fake's indexes. */
export interface TransactionQuery {
  params: URLSearchParams;
  accountsById: Map<string, PluggyAccountState>;
  byTxId: Map<string, { entry: LedgerEntry; account: PluggyAccountState }>;
  render(account: PluggyAccountState, entry: LedgerEntry): PluggyTransaction;
}

/** A listing's JSON body, or the 4xx it answers instead. */
export type Listing = { body: unknown } | { error: { status: number; message: string } };

const MAX_PAGE_SIZE = 500;
const MAX_IDS = 500;
const DAY_MS = 86_400_000;
const BRT_OFFSET_MS = 3 * 3_600_000;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const ISO_LIKE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/;

type Bound = number | undefined | Error;

/** A booking-date bound: a plain day covers that whole Brasília day; a timestamp is exact. */
function dateBound(value: string | null, name: string, end: boolean): Bound {
  if (value === null || value === "") return undefined;
  if (!ISO_LIKE.test(value) || Number.isNaN(Date.parse(value))) {
    return new Error(`${name} must be an ISO date`);
  }
  if (!DATE_ONLY.test(value)) return Date.parse(value);
  const dayStart = Date.parse(value) + BRT_OFFSET_MS;
  return end ? dayStart + DAY_MS - 1 : dayStart;
}

function instant(value: string | null, name: string): Bound {
  if (value === null || value === "") return undefined;
  if (!ISO_LIKE.test(value) || Number.isNaN(Date.parse(value))) {
    return new Error(`${name} must be an ISO date`);
  }
  return Date.parse(value);
}

interface Filters {
  accountId: string | null;
  ids: Set<string> | null;
  match(entry: LedgerEntry): boolean;
}

function parseFilters(params: URLSearchParams, fromName: string, toName: string): Filters | Error {
  const from = dateBound(params.get(fromName), fromName, false);
  const to = dateBound(params.get(toName), toName, true);
  const createdFrom = instant(params.get("createdAtFrom"), "createdAtFrom");
  for (const b of [from, to, createdFrom]) if (b instanceof Error) return b;
  const rawIds = params.get("ids");
  const ids = rawIds ? new Set(rawIds.split(",").map((s) => s.trim()).filter(Boolean)) : null;
  if (ids && ids.size > MAX_IDS) return new Error(`ids must contain at most ${MAX_IDS} elements`);
  return {
    accountId: params.get("accountId") || null,
    ids,
    match: (e) =>
      (from === undefined || e.dateMs >= (from as number)) &&
      (to === undefined || e.dateMs <= (to as number)) &&
      (createdFrom === undefined || e.createdAtMs >= (createdFrom as number)) &&
      (ids === null || ids.has(e.id)),
  };
}

/** The entries to scan, in API order, with the account each belongs to. */
function source(
  q: TransactionQuery,
  f: Filters,
): Array<[PluggyAccountState, LedgerEntry]> | Listing {
  if (f.accountId !== null) {
    const account = q.accountsById.get(f.accountId);
    if (!account) return { error: { status: 404, message: "Account not found" } };
    return account.entries.map((e) => [account, e]);
  }
  const found = [...f.ids!].flatMap((id) => {
    const hit = q.byTxId.get(id);
    return hit ? [[hit.account, hit.entry] as [PluggyAccountState, LedgerEntry]] : [];
  });
  return found.sort((a, b) => compareEntries(a[1], b[1]));
}

function positiveInt(value: string | null, fallback: number): number | undefined {
  if (value === null || value === "") return fallback;
  return /^\d+$/.test(value) && Number(value) >= 1 ? Number(value) : undefined;
}

const bad = (message: string): Listing => ({ error: { status: 400, message } });

/** GET /transactions: `{total, totalPages, page, results}`, pageSize default 20, at most 500. */
export function listPage(q: TransactionQuery): Listing {
  const filters = parseFilters(q.params, "from", "to");
  if (filters instanceof Error) return bad(filters.message);
  if (filters.accountId === null && filters.ids === null) return bad("accountId is required");
  const page = positiveInt(q.params.get("page"), 1);
  if (page === undefined) return bad("page must be a positive integer");
  const pageSize = positiveInt(q.params.get("pageSize"), 20);
  if (pageSize === undefined || pageSize > MAX_PAGE_SIZE) {
    return bad(`pageSize must be an integer between 1 and ${MAX_PAGE_SIZE}`);
  }
  const all = source(q, filters);
  if (!Array.isArray(all)) return all;
  const matching = all.filter(([, e]) => filters.match(e));
  const results = matching.slice((page - 1) * pageSize, page * pageSize).map(([a, e]) =>
    q.render(a, e)
  );
  return {
    body: {
      total: matching.length,
      totalPages: Math.ceil(matching.length / pageSize),
      page,
      results,
    },
  };
}

function encodeCursor(e: LedgerEntry): string {
  return btoa(JSON.stringify([e.createdAtMs, e.id])).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

function decodeCursor(value: string): [number, string] | undefined {
  try {
    const padded = value.replaceAll("-", "+").replaceAll("_", "/");
    const parsed = JSON.parse(atob(padded + "=".repeat((4 - padded.length % 4) % 4)));
    if (Array.isArray(parsed) && typeof parsed[0] === "number" && typeof parsed[1] === "string") {
      return [parsed[0], parsed[1]];
    }
  } catch {
    // falls through to undefined
  }
  return undefined;
}

/**
 * GET /v2/transactions: `{results, next}` in createdAt-then-id order. `next` is an absolute URL on
 * `base` carrying the request's filters and `after=<opaque cursor>`, or null when nothing follows.
 */
export function listCursorPage(q: TransactionQuery, pageSize: number, base: URL): Listing {
  const filters = parseFilters(q.params, "dateFrom", "dateTo");
  if (filters instanceof Error) return bad(filters.message);
  if (filters.accountId === null) return bad("accountId is required");
  if (q.params.get("dateFrom") && q.params.get("createdAtFrom")) {
    return bad("dateFrom and createdAtFrom cannot be used together");
  }
  const account = q.accountsById.get(filters.accountId);
  if (!account) return { error: { status: 404, message: "Account not found" } };
  const entries = account.entries;
  let start = 0;
  const after = q.params.get("after");
  if (after) {
    const cursor = decodeCursor(after);
    if (!cursor) return bad("after is not a valid cursor");
    start = indexAfter(entries, cursor[0], cursor[1]);
  }
  const page: LedgerEntry[] = [];
  let i = start;
  for (; i < entries.length && page.length < pageSize; i++) {
    if (filters.match(entries[i])) page.push(entries[i]);
  }
  let more = false;
  for (; i < entries.length && !more; i++) more = filters.match(entries[i]);
  let next: string | null = null;
  if (more) {
    const url = new URL(base);
    for (const [k, v] of q.params) if (k !== "after") url.searchParams.append(k, v);
    url.searchParams.set("after", encodeCursor(page[page.length - 1]));
    next = url.href;
  }
  return { body: { results: page.map((e) => q.render(account, e)), next } };
}
