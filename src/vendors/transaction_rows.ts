// A vendor's raw transaction rows, each checked on its own: stored if it passes, else skipped.
import type { z } from "zod";
import type { VendorTransaction } from "./aggregator.ts";
import { skippedId, type SkippedTransaction, type SkipReason } from "./transaction_rules.ts";

/** A page's rows sorted: the transactions to store, and the rows that cannot be stored. */
export interface SortedRows {
  transactions: VendorTransaction[];
  skipped: SkippedTransaction[];
}

/**
 * Checks each of `rows` against the vendor's transaction `schema` on its own, so that one malformed
 * row is skipped instead of failing its page (and, page after page, the pull). `convert` gets the
 * checked fields and the row itself (its raw object); each transaction's `rawAt` is its index in
 * `rows`. A skipped row keeps only its vendor id, `accountId` and the reason its first failing
 * field gives in `reasons` (`invalid_shape` for any other field): never its values.
 */
export function sortRows<T>(
  rows: readonly unknown[],
  schema: z.ZodType<T>,
  reasons: Readonly<Record<string, SkipReason>>,
  accountId: string | null,
  convert: (fields: T, raw: Record<string, unknown>) => VendorTransaction,
): SortedRows {
  const sorted: SortedRows = { transactions: [], skipped: [] };
  for (const [at, row] of rows.entries()) {
    const parsed = schema.safeParse(row);
    if (parsed.success) {
      const transaction = convert(parsed.data, row as Record<string, unknown>);
      transaction.rawAt = at;
      sorted.transactions.push(transaction);
      continue;
    }
    const field = String(parsed.error.issues[0]?.path[0] ?? "");
    sorted.skipped.push({
      id: skippedId(row),
      accountId,
      reason: Object.hasOwn(reasons, field) ? reasons[field] : "invalid_shape",
    });
  }
  return sorted;
}
