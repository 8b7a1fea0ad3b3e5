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
 * row is skipped instead of failing its page (and, page after page, the pull). A skipped row keeps
 * only its vendor id, `accountId` and the reason its first failing field gives in `reasons`
 * (`invalid_shape` for any other field): never its values.
 */
export function sortRows<T>(
  rows: readonly unknown[],
  schema: z.ZodType<T>,
  reasons: Readonly<Record<string, SkipReason>>,
  accountId: string | null,
  convert: (row: T) => VendorTransaction,
): SortedRows {
  const sorted: SortedRows = { transactions: [], skipped: [] };
  for (const row of rows) {
    const parsed = schema.safeParse(row);
    if (parsed.success) {
      sorted.transactions.push(convert(parsed.data));
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
