// The webhook receipt metric: deliveries by vendor and outcome.
import type { Vendor } from "../vendors/vendors.ts";
import type { MetricsRegistry } from "./registry.ts";

/** How a delivery ended, as the receiver counts it. */
export type WebhookOutcome =
  | "accepted"
  | "duplicate"
  | "ignored"
  | "rejected"
  | "unknown_token"
  | "wrong_header_secret"
  | "rate_limited"
  | "failed";

/** Records one answered delivery. */
export type WebhookObserver = (delivery: { vendor: Vendor; outcome: WebhookOutcome }) => void;

/** Declares `matcher_webhooks_received_total{vendor,outcome}`. */
export function webhookMetrics(registry: MetricsRegistry): WebhookObserver {
  const received = registry.counter({
    name: "matcher_webhooks_received_total",
    help:
      "Webhook deliveries, by vendor and outcome (accepted, duplicate, ignored, rejected, unknown_token, wrong_header_secret, rate_limited, failed).",
    labelNames: ["vendor", "outcome"],
  });
  return function observeWebhook({ vendor, outcome }) {
    received.inc({ vendor, outcome });
  };
}
