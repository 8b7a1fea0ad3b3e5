// The Pluggy client: API-key auth with caching and one re-auth, items, accounts and transactions.
import { z } from "zod";
import type {
  AggregatorClient,
  TransactionPage,
  VendorAccount,
  VendorTransaction,
} from "./aggregator.ts";
import { type ClientContext, urlUnder } from "./client_context.ts";
import { signedAmount } from "./decimal.ts";
import { VendorError } from "./errors.ts";
import { credentialId, type PluggyKeyCache } from "./pluggy_keys.ts";
import { PageWalk } from "./page_walk.ts";
import { bookingDate, isAmount, isInstant } from "./transaction_rules.ts";
import { sortRows } from "./transaction_rows.ts";
import {
  answerOf,
  answerWithText,
  followNext,
  type JsonAnswer,
  sameOriginNext,
} from "./vendor_json.ts";

/** Pluggy's `/transactions?ids=` takes at most this many ids a call. */
export const PLUGGY_MAX_IDS = 500;

const AuthAnswer = z.object({ apiKey: z.string().min(1) });
const Item = z.object({ id: z.string() });
const Account = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  type: z.string().nullish(),
  currencyCode: z.string().nullish(),
});
/** The fields read from a transaction (the rest are kept in its raw object, as received). */
const Transaction = z.object({
  id: z.string(),
  accountId: z.string(),
  date: z.string().refine((date) => bookingDate(date) !== undefined),
  description: z.string().nullish(),
  type: z.string(),
  amount: z.number().refine(isAmount),
  currencyCode: z.string().nullish(),
  status: z.string().nullish(),
  createdAt: z.string().refine(isInstant).nullish(),
});
/** Which field's failure skips a transaction for which reason; any other field: invalid_shape. */
const SKIP_REASONS = {
  date: "invalid_date",
  createdAt: "invalid_created_at",
  amount: "invalid_amount",
} as const;
const NumberedPage = <T extends z.ZodType>(item: T) =>
  z.object({
    results: z.array(item),
    page: z.number().optional(),
    totalPages: z.number().optional(),
  });
/** Transactions are checked one by one (sortRows), so that one bad row does not fail its page. */
const CursorPage = z.object({ results: z.array(z.unknown()), next: z.string().nullish() });

/** A page's raw rows as transactions to store and rows to skip. */
function sorted(rows: unknown[], accountId: string | null) {
  return sortRows(rows, Transaction, SKIP_REASONS, accountId, toTransaction);
}

function toTransaction(
  t: z.infer<typeof Transaction>,
  raw: Record<string, unknown>,
): VendorTransaction {
  // Direction comes from `type`: the sign of `amount` is not documented for every account kind.
  const direction = t.type === "DEBIT"
    ? "debit"
    : t.type === "CREDIT"
    ? "credit"
    : t.amount < 0
    ? "debit"
    : "credit";
  return {
    id: t.id,
    accountId: t.accountId,
    date: bookingDate(t.date)!,
    amount: signedAmount(t.amount, direction),
    direction,
    currency: t.currencyCode ?? null,
    description: t.description ?? null,
    status: t.status === "PENDING" ? "pending" : "posted",
    createdAt: t.createdAt ?? null,
    raw,
  };
}

function toAccount(a: z.infer<typeof Account>): VendorAccount {
  return { id: a.id, name: a.name ?? null, type: a.type ?? null, currency: a.currencyCode ?? null };
}

export function createPluggyClient(ctx: ClientContext, keys: PluggyKeyCache): AggregatorClient {
  const { http, now, credential } = ctx;
  const base = new URL(ctx.baseUrl);
  const cacheId = credentialId(ctx.baseUrl, credential.clientId, credential.secret);

  async function authenticate(id: string): Promise<string> {
    const operation = "pluggy POST /auth";
    const res = await http("pluggy", {
      method: "POST",
      url: urlUnder(ctx.baseUrl, "/auth"),
      headers: { "content-type": "application/json", accept: "application/json" },
      body: JSON.stringify({
        clientId: credential.clientId,
        clientSecret: credential.secret,
        nonExpiring: false,
      }),
      operation,
    });
    if (res.status === 404) {
      // No /auth here: the base URL is not Pluggy's API, which is not the same as a missing item.
      throw new VendorError("permanent", "unexpected_response", `${operation}: answered 404`, {
        status: 404,
      });
    }
    const { apiKey } = answerOf(res, AuthAnswer, operation, now());
    keys.put(id, apiKey, now());
    return apiKey;
  }

  async function apiKey(id: string): Promise<string> {
    const cached = keys.get(id, now());
    if (cached) return cached;
    let pending = keys.pending.get(id);
    if (!pending) {
      pending = authenticate(id).finally(() => keys.pending.delete(id));
      keys.pending.set(id, pending);
    }
    return await pending;
  }

  /** A GET with the API key; a 401 drops the key and authenticates once more before failing. */
  async function get<T>(url: URL, operation: string, schema: z.ZodType<T>): Promise<T> {
    return (await getWithText(url, operation, schema)).value;
  }

  /** `get`, with the answer's text. */
  async function getWithText<T>(
    url: URL,
    operation: string,
    schema: z.ZodType<T>,
  ): Promise<JsonAnswer<T>> {
    const id = await cacheId;
    for (let attempt = 1;; attempt++) {
      const key = await apiKey(id);
      const res = await http("pluggy", {
        method: "GET",
        url,
        headers: { "X-API-KEY": key, accept: "application/json" },
        operation,
      });
      if (res.status === 401 && attempt === 1) {
        keys.forget(id, key);
        continue;
      }
      return answerWithText(res, schema, operation, now());
    }
  }

  /** Every page of a page-numbered list (`page` from 1 to `totalPages`). */
  async function* numberedPages<T>(
    path: string,
    query: Record<string, string | undefined>,
    item: z.ZodType<T>,
    operation: string,
  ): AsyncGenerator<T[]> {
    const walk = new PageWalk(operation, ctx.maxPagesPerWalk);
    for (let page = 1;; page++) {
      const url = urlUnder(ctx.baseUrl, path, { ...query, page: String(page) });
      walk.fetching(url);
      const answer = await get(url, operation, NumberedPage(item));
      yield answer.results;
      if (answer.results.length === 0 || page >= (answer.totalPages ?? 1)) return;
    }
  }

  return {
    vendor: "pluggy",

    async check(itemId) {
      // Always a fresh POST /auth: a cached key would hide credentials revoked since it was issued.
      await authenticate(await cacheId);
      await get(
        urlUnder(ctx.baseUrl, `/items/${encodeURIComponent(itemId)}`),
        "pluggy GET /items/{id}",
        Item,
      );
    },

    async listAccounts(itemId) {
      const accounts: VendorAccount[] = [];
      const pages = numberedPages("/accounts", { itemId }, Account, "pluggy GET /accounts");
      for await (const page of pages) accounts.push(...page.map(toAccount));
      return accounts;
    },

    async *transactions(query): AsyncGenerator<TransactionPage> {
      const operation = "pluggy GET /v2/transactions";
      const filters = { accountId: query.accountId, createdAtFrom: query.createdFrom };
      // Pluggy documents `next` as the query plus `after`, but its own SDK sends its filters again
      // with the `after` of `next`: filters missing from a `next` are put back, so both readings
      // give the same pages.
      const withFilters = (url: URL) => {
        for (const [name, value] of Object.entries(filters)) {
          if (value !== undefined && !url.searchParams.has(name)) {
            url.searchParams.set(name, value);
          }
        }
        return url;
      };
      // Each page is judged as it is requested, with the filters put back.
      const walk = new PageWalk(operation, ctx.maxPagesPerWalk, query.pagesBefore);
      let url: URL | null = query.resumeFrom
        ? withFilters(sameOriginNext(query.resumeFrom, base, operation))
        : urlUnder(ctx.baseUrl, "/v2/transactions", filters);
      while (url) {
        walk.fetching(url);
        const { value: answer, text } = await getWithText(url, operation, CursorPage);
        const next = followNext(answer.next, base, operation);
        url = next && withFilters(next);
        yield { ...sorted(answer.results, query.accountId), next: url?.href ?? null, body: text };
      }
    },

    async *transactionsByIds(query): AsyncGenerator<TransactionPage> {
      for (let i = 0; i < query.ids.length; i += PLUGGY_MAX_IDS) {
        const ids = query.ids.slice(i, i + PLUGGY_MAX_IDS).join(",");
        const pages = numberedPages(
          "/transactions",
          { accountId: query.accountId, ids, pageSize: String(PLUGGY_MAX_IDS) },
          z.unknown(),
          "pluggy GET /transactions",
        );
        for await (const page of pages) {
          yield { ...sorted(page, query.accountId ?? null), next: null };
        }
      }
    },
  };
}
