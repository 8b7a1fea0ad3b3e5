// The skipped-transactions metric: vendor rows pulls could not store, by vendor and reason.
import type { SkippedObserver } from "../pulls/page_writer.ts";
import { SKIP_REASONS } from "../vendors/transaction_rules.ts";
import { VENDORS } from "../vendors/vendors.ts";
import type { MetricsRegistry } from "./registry.ts";

/**
 * Declares `matcher_pull_transactions_skipped_total{vendor,reason}`, fed by the observer this
 * answers (hand it to the pull workers), every series shown from zero so that an alert on any
 * increase sees the first one. A skipped row is skipped again by each later pull until the vendor
 * corrects it, so the counter counts sightings, not distinct rows.
 */
export function skippedTransactionMetrics(registry: MetricsRegistry): SkippedObserver {
  const skipped = registry.counter({
    name: "matcher_pull_transactions_skipped_total",
    help: "Vendor transactions pulls could not store (the rest of their page was), by reason.",
    labelNames: ["vendor", "reason"],
  });
  for (const vendor of VENDORS) {
    for (const reason of SKIP_REASONS) skipped.inc({ vendor, reason }, 0);
  }
  return function observeSkipped({ vendor, reason, count }) {
    skipped.inc({ vendor, reason }, count);
  };
}
