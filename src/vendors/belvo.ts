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
const Amount = z.union([z.number(), z.string().regex(/^-?\d{1,18}(\.\d{1,12})?$/)]);
const Transaction = z.looseObject({
  id: z.string(),
  account: z.looseObject({ id: z.string() }).nullish(),
  value_date: z.string().min(10),
  amount: Amount,
  type: z.string().nullish(),
  currency: z.string().nullish(),
  description: z.string().nullish(),
  status: z.string().nullish(),
  created_at: z.string().nullish(),
});
const Page = <T extends z.ZodType>(item: T) =>
  z.object({ results: z.array(item), next: z.string().nullish() });

function toTransaction(t: z.infer<typeof Transaction>, accountId: string): VendorTransaction {
  // Belvo amounts are always positive; the direction is `type`.
  const direction = t.type === "OUTFLOW" ? "debit" : "credit";
  return {
    id: t.id,
    accountId: t.account?.id ?? accountId,
    date: t.value_date.slice(0, 10),
    amount: signedAmount(t.amount, direction),
    direction,
    currency: t.currency ?? null,
    description: t.description ?? null,
    status: t.status === "PENDING" ? "pending" : "posted",
    createdAt: t.created_at ?? null,
    raw: t,
  };
}

export function createBelvoClient(ctx: ClientContext): AggregatorClient {
  const { http, now, credential } = ctx;
  const base = new URL(ctx.baseUrl);
  const authorization = "Basic " +
    (new TextEncoder().encode(`${credential.clientId}:${credential.secret}`)).toBase64();
  const headers = { authorization, accept: "application/json" };

  const get = <T>(url: URL, operation: string, schema: z.ZodType<T>) =>
    requestJson(http, "belvo", { method: "GET", url, headers, operation }, schema, now);

  /** Every page of a list, from `first` through each `next` link, `pagesBefore` already read. */
  async function* pages<T>(
    first: URL,
    item: z.ZodType<T>,
    operation: string,
    pagesBefore = 0,
  ): AsyncGenerator<{ results: T[]; next: URL | null }> {
    const walk = new PageWalk(operation, ctx.maxPagesPerWalk, pagesBefore);
    let url: URL | null = first;
    while (url) {
      walk.fetching(url);
      const answer: { results: T[]; next?: string | null } = await get(url, operation, Page(item));
      url = followNext(answer.next, base, operation);
      yield { results: answer.results, next: url };
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
      for await (const page of pages(first, Transaction, operation, query.pagesBefore)) {
        yield {
          transactions: page.results.map((t) => toTransaction(t, query.accountId)),
          next: page.next?.href ?? null,
        };
      }
    },

    async *transactionsByIds(query): AsyncGenerator<TransactionPage> {
      const operation = "belvo GET /api/transactions/{id}/";
      let batch: VendorTransaction[] = [];
      for (const id of query.ids) {
        const url = urlUnder(ctx.baseUrl, `/api/transactions/${encodeURIComponent(id)}/`);
        try {
          batch.push(toTransaction(await get(url, operation, Transaction), query.accountId ?? ""));
        } catch (err) {
          if (!(err instanceof VendorError && err.kind === "not_found")) throw err;
        }
        if (batch.length === BY_ID_PAGE) {
          yield { transactions: batch, next: null };
          batch = [];
        }
      }
      if (batch.length) yield { transactions: batch, next: null };
    },
  };
}
