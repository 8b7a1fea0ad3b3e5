// The event bus metrics: publishes by outcome, and the outbox backlog as Postgres holds it.
import type { Sql } from "../db/pool.ts";
import type { PublishOutcome } from "../events/broker.ts";
import { outboxBacklog } from "../events/events.repository.ts";
import type { MetricsRegistry } from "./registry.ts";

const OUTCOMES: readonly PublishOutcome[] = ["confirmed", "refused", "failed"];

/**
 * Declares `matcher_events_published_total{outcome}` (fed by the observer this answers: hand it to
 * the relay) and the gauges `matcher_outbox_pending` and
 * `matcher_outbox_oldest_pending_age_seconds`, read from Postgres before each scrape (the same on
 * every replica: take `max` across them).
 */
export function eventMetrics(
  registry: MetricsRegistry,
  deps: { sql: Sql; now: () => number },
): (outcome: PublishOutcome) => void {
  const published = registry.counter({
    name: "matcher_events_published_total",
    help: "Events this process published to the broker, by outcome (confirmed, refused, failed).",
    labelNames: ["outcome"],
  });
  const pending = registry.gauge({
    name: "matcher_outbox_pending",
    help: "Events in the outbox not yet confirmed by the broker (from the database).",
  });
  const age = registry.gauge({
    name: "matcher_outbox_oldest_pending_age_seconds",
    help: "Age of the oldest event not yet confirmed by the broker, in seconds; 0 when none.",
  });
  for (const outcome of OUTCOMES) published.inc({ outcome }, 0);
  registry.refresher("event_outbox", async () => {
    const backlog = await outboxBacklog(deps.sql, new Date(deps.now()));
    pending.set({}, backlog.pending);
    age.set({}, backlog.oldestAgeSeconds);
  });
  return (outcome) => published.inc({ outcome });
}
