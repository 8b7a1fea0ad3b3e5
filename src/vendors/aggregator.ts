// The one small interface the rest of the service uses to talk to an aggregator, and its shapes.
import type { SkippedTransaction } from "./transaction_rules.ts";
import type { Vendor } from "./vendors.ts";

/** The aggregator API credential a client calls with, as the connection's sealed blob holds it. */
export type Credential = { clientId: string; secret: string };

/** An account under a connection's accountRef (a Pluggy item or a Belvo link). */
export interface VendorAccount {
  id: string;
  name: string | null;
  type: string | null;
  currency: string | null;
}

/** A transaction in the service's own terms, whatever the vendor. */
export interface VendorTransaction {
  /** The vendor's transaction id, unique per connection. */
  id: string;
  accountId: string;
  /** The booking date, `YYYY-MM-DD`. */
  date: string;
  /** Signed decimal text: negative when money left the account. */
  amount: string;
  direction: "credit" | "debit";
  currency: string | null;
  description: string | null;
  status: "posted" | "pending";
  /** When the vendor first recorded it (ISO 8601), the order pulls advance in. */
  createdAt: string | null;
  /** The vendor's object as received (unknown fields included), for reconciliation. */
  raw: Record<string, unknown>;
  /** Where `raw` is in its page's `results`, when the page keeps its `body`. */
  rawAt?: number;
}

/**
 * One page of transactions; `next` is where the following page is fetched from, or null. The rows
 * of the page that cannot be stored (a date, timestamp or amount the database would refuse) are
 * in `skipped`, so that they are counted rather than failing the page or vanishing.
 */
export interface TransactionPage {
  transactions: VendorTransaction[];
  skipped?: SkippedTransaction[];
  next: string | null;
  /**
   * The page as the vendor sent it, JSON with its rows in `results`: the transactions' raw
   * objects are stored from it as they came (each at its `rawAt`), rather than serialized again.
   */
  body?: string;
}

export interface TransactionQuery {
  /** The connection's accountRef: Pluggy itemId or Belvo link id. */
  accountRef: string;
  accountId: string;
  /** Only transactions the vendor recorded at or after this instant (ISO 8601). */
  createdFrom?: string;
  /** A page's `next` from an earlier run, to resume exactly where it stopped. */
  resumeFrom?: string;
  /** Pages of this walk that earlier runs read, counted against the cap on pages per walk. */
  pagesBefore?: number;
}

export interface AggregatorClient {
  readonly vendor: Vendor;
  /**
   * Proves, live, that the credential works (never from a cached session) and that the account
   * reference exists; throws a VendorError if not.
   */
  check(accountRef: string): Promise<void>;
  listAccounts(accountRef: string): Promise<VendorAccount[]>;
  /**
   * Pages of an account's transactions in the vendor's order, following its `next` links; a link
   * back to a page already read, or more pages than the cap, fails with a PageWalkError.
   */
  transactions(query: TransactionQuery): AsyncGenerator<TransactionPage>;
  /** The given transactions that still exist (at most 500 ids a call to the vendor). */
  transactionsByIds(
    query: { accountRef: string; accountId?: string; ids: string[] },
  ): AsyncGenerator<TransactionPage>;
}
