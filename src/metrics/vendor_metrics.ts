// The vendor-call metrics: calls by vendor, operation and outcome, and their durations.
import type { VendorCallObserver } from "../vendors/vendor_http.ts";
import type { MetricsRegistry } from "./registry.ts";

/** Vendor calls take longer than our own requests: 10 ms to a 60 s timeout. */
const VENDOR_DURATION_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * Declares `matcher_vendor_calls_total{vendor,operation,outcome}` (outcome: the HTTP status the
 * vendor answered, or `timeout`, `vendor_unreachable`, `unexpected_response` when it did not
 * answer usably) and `matcher_vendor_call_duration_seconds{vendor,operation}`.
 */
export function vendorMetrics(registry: MetricsRegistry): VendorCallObserver {
  const calls = registry.counter({
    name: "matcher_vendor_calls_total",
    help: "Calls to Pluggy and Belvo, by vendor, operation and outcome (status or failure).",
    labelNames: ["vendor", "operation", "outcome"],
  });
  const duration = registry.histogram({
    name: "matcher_vendor_call_duration_seconds",
    help: "Time a vendor call took, answer body included, by vendor and operation.",
    labelNames: ["vendor", "operation"],
    buckets: VENDOR_DURATION_BUCKETS,
  });
  return function observeVendorCall({ vendor, operation, outcome, seconds }) {
    calls.inc({ vendor, operation, outcome });
    duration.observe({ vendor, operation }, seconds);
  };
}
