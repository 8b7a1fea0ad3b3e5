// The Belvo client: HTTP Basic on every call, links, accounts and transactions by page links.
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
import { PageWalk } from "./page_walk.ts";
import { bookingDate, isAmount, isInstant, type SkippedTransaction } from "./transaction_rules.ts";
import { sortRows } from "./transaction_rows.ts";
import { followNext, requestJson, sameOriginNext } from "./vendor_json.ts";

/** Belvo's largest page; larger values are clamped by Belvo itself. */
export const BELVO_PAGE_SIZE = 1000;
/** Transactions fetched one by one are handed out in pages of this many. */
const BY_ID_PAGE = 100;

const Link = z.object({ id: z.string() });
const Account = z.looseObject({
  id: z.string(),
  name: z.string().nullish(),
  category: z.string().nullish(),
  currency: z.string().nullish(),
});
/** A finite amount: a JSON number, or decimal text of a size money can have. */
const Amount = z.union([z.number(), z.string()]).refine(isAmount);
/** The fields read from a transaction (the rest are kept in its raw object, as received). */
const Transaction = z.object({
  id: z.string(),
  account: z.object({ id: z.string() }).nullish(),
  value_date: z.string().refine((date) => bookingDate(date) !== undefined),
  amount: Amount,
  type: z.string().nullish(),
  currency: z.string().nullish(),
  description: z.string().nullish(),
  status: z.string().nullish(),
  created_at: z.string().refine(isInstant).nullish(),
});
/** Which field's failure skips a transaction for which reason; any other field: invalid_shape. */
const SKIP_REASONS = {
  value_date: "invalid_date",
  created_at: "invalid_created_at",
  amount: "invalid_amount",
} as const;
const Page = <T extends z.ZodType>(item: T) =>
  z.object({ results: z.array(item), next: z.string().nullish() });

function toTransaction(
  t: z.infer<typeof Transaction>,
  raw: Record<string, unknown>,
  accountId: string,
): VendorTransaction {
  // Belvo amounts are always positive; the direction is `type`.
  const direction = t.type === "OUTFLOW" ? "debit" : "credit";
  return {
    id: t.id,
    accountId: t.account?.id ?? accountId,
    date: bookingDate(t.value_date)!,
    amount: signedAmount(t.amount, direction),
    direction,
    currency: t.currency ?? null,
    description: t.description ?? null,
    status: t.status === "PENDING" ? "pending" : "posted",
    createdAt: t.created_at ?? null,
    raw,
  };
}

/** A page's raw rows as transactions to store and rows to skip, under account `accountId`. */
function sorted(rows: unknown[], accountId: string) {
  return sortRows(
    rows,
    Transaction,
    SKIP_REASONS,
    accountId || null,
    (t, raw) => toTransaction(t, raw, accountId),
  );
}

export function createBelvoClient(ctx: ClientContext): AggregatorClient {
  const { http, now, credential } = ctx;
  const base = new URL(ctx.baseUrl);
  const authorization = "Basic " +
    (new TextEncoder().encode(`${credential.clientId}:${credential.secret}`)).toBase64();
  const headers = { authorization, accept: "application/json" };

  const getWithText = <T>(url: URL, operation: string, schema: z.ZodType<T>) =>
    requestJson(http, "belvo", { method: "GET", url, headers, operation }, schema, now);
  const get = async <T>(url: URL, operation: string, schema: z.ZodType<T>) =>
    (await getWithText(url, operation, schema)).value;

  /** Every page of a list, from `first` through each `next` link, `pagesBefore` already read. */
  async function* pages<T>(
    first: URL,
    item: z.ZodType<T>,
    operation: string,
    pagesBefore = 0,
  ): AsyncGenerator<{ results: T[]; next: URL | null; body: string }> {
    const walk = new PageWalk(operation, ctx.maxPagesPerWalk, pagesBefore);
    let url: URL | null = first;
    while (url) {
      walk.fetching(url);
      const { value: answer, text } = await getWithText(url, operation, Page(item));
      url = followNext(answer.next, base, operation);
      yield { results: answer.results, next: url, body: text };
    }
  }

  return {
    vendor: "belvo",

    async check(linkId) {
      await get(
        urlUnder(ctx.baseUrl, `/api/links/${encodeURIComponent(linkId)}/`),
        "belvo GET /api/links/{id}/",
        Link,
      );
    },

    async listAccounts(linkId) {
      const accounts: VendorAccount[] = [];
      const first = urlUnder(ctx.baseUrl, "/api/accounts/", {
        link: linkId,
        page_size: String(BELVO_PAGE_SIZE),
      });
      for await (const page of pages(first, Account, "belvo GET /api/accounts/")) {
        for (const a of page.results) {
          accounts.push({
            id: a.id,
            name: a.name ?? null,
            type: a.category ?? null,
            currency: a.currency ?? null,
          });
        }
      }
      return accounts;
    },

    async *transactions(query): AsyncGenerator<TransactionPage> {
      const operation = "belvo GET /api/transactions/";
      const first = query.resumeFrom
        ? sameOriginNext(query.resumeFrom, base, operation)
        : urlUnder(ctx.baseUrl, "/api/transactions/", {
          link: query.accountRef,
          account: query.accountId,
          page_size: String(BELVO_PAGE_SIZE),
          // Belvo documents a date here; whole days overlap, and storing is idempotent.
          created_at__gte: query.createdFrom?.slice(0, 10),
        });
      // Transactions are checked one by one, so that one bad row does not fail its page.
      for await (const page of pages(first, z.unknown(), operation, query.pagesBefore)) {
        yield {
          ...sorted(page.results, query.accountId),
          next: page.next?.href ?? null,
          body: page.body,
        };
      }
    },

    async *transactionsByIds(query): AsyncGenerator<TransactionPage> {
      const operation = "belvo GET /api/transactions/{id}/";
      let batch: VendorTransaction[] = [];
      let skipped: SkippedTransaction[] = [];
      for (const id of query.ids) {
        const url = urlUnder(ctx.baseUrl, `/api/transactions/${encodeURIComponent(id)}/`);
        try {
          const one = sorted([await get(url, operation, z.unknown())], query.accountId ?? "");
          batch.push(...one.transactions);
          skipped.push(...one.skipped);
        } catch (err) {
          if (!(err instanceof VendorError && err.kind === "not_found")) throw err;
        }
        if (batch.length + skipped.length === BY_ID_PAGE) {
          yield { transactions: batch, skipped, next: null };
          batch = [];
          skipped = [];
        }
      }
      if (batch.length + skipped.length) yield { transactions: batch, skipped, next: null };
    },
  };
}
