// POST /v1/discovery/webhooks/{vendor}/{token}: the aggregators' deliveries, keyed by the path's token.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import type { Sql } from "../db/pool.ts";
import type { AppEnv } from "../http/env.ts";
import { AppError, ErrorCode, isUnavailable } from "../http/errors.ts";
import type { Logger } from "../http/logger.ts";
import { readJsonCapped } from "../http/read_body.ts";
import type { MetricsRegistry } from "../metrics/registry.ts";
import { isVendor } from "../vendors/vendors.ts";
import { findToken, touchToken } from "./token_store.ts";
import { readWebhook } from "./vendor_events.ts";
import { groupCommit } from "./group_commit.ts";
import { recordWebhooks, type WebhookDelivery } from "./webhook_events.repository.ts";

/** Largest webhook body accepted; vendors' payloads are a few KiB. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

/** The most deliveries one database transaction records. */
const MAX_BATCH = 200;

/** The receiver's path in Hono's syntax (app.ts exempts it from JWT auth and the JSON guard). */
const RECEIVER_PATH = "/v1/discovery/webhooks/:vendor/:token";

export interface ReceiverDeps {
  sql: Sql;
  kv: Deno.Kv;
  logger: Logger;
  metrics: MetricsRegistry;
  now: () => number;
  /** Called after a pull was queued, so a local worker starts it without waiting for its poll. */
  onPullQueued: () => void;
  /** How long a queued pull waits, so that the other events of the same sync merge into it. */
  webhookPullDelayMs: number;
}

/** One answer for every delivery that names no live token of that vendor: nothing to learn. */
function unknownToken(): AppError {
  return new AppError(404, ErrorCode.noSuchRoute, "No such route.");
}

export function webhookReceiver(app: OpenAPIHono<AppEnv>, deps: ReceiverDeps): void {
  const received = deps.metrics.counter({
    name: "matcher_webhooks_received_total",
    help:
      "Webhook deliveries, by vendor and outcome (accepted, duplicate, ignored, rejected, unknown_token, failed).",
    labelNames: ["vendor", "outcome"],
  });

  // Concurrent deliveries share one transaction (and one commit): see group_commit.ts.
  const record = groupCommit(
    (deliveries: WebhookDelivery[]) =>
      recordWebhooks(deps.sql, deliveries, { pullDelayMs: deps.webhookPullDelayMs }),
    { maxBatch: MAX_BATCH, retryAlone: (err) => !isUnavailable(err) },
  );

  // The pull comes due after the delay; one timer at a time wakes the workers then (a pull queued
  // meanwhile is found by that wake or by the workers' poll a second later).
  let wake: ReturnType<typeof setTimeout> | undefined;
  function wakeWhenDue() {
    if (deps.webhookPullDelayMs === 0) return deps.onPullQueued();
    wake ??= setTimeout(() => {
      wake = undefined;
      deps.onPullQueued();
    }, deps.webhookPullDelayMs);
  }

  // Documented from the generated route, but served by a plain handler: the token must be checked
  // before the body is read, which the generated body validator would do first.
  app.openAPIRegistry.registerPath(routes.receiveWebhook);
  app.post(RECEIVER_PATH, async function receiveWebhook(c) {
    const { vendor, token } = c.req.param();
    if (!isVendor(vendor)) throw unknownToken();
    let outcome = "unknown_token";
    try {
      const known = await findToken(deps.kv, token);
      if (!known || known.vendor !== vendor) throw unknownToken();
      outcome = "rejected";
      const payload = await readJsonCapped(c.req.raw, MAX_WEBHOOK_BYTES);
      if (typeof payload !== "object" || payload === null || Array.isArray(payload)) {
        throw new AppError(400, ErrorCode.invalidWebhook, "A webhook body must be a JSON object.");
      }
      const now = new Date(deps.now());
      const receipt = await record({
        tenantId: known.tenantId,
        connectionId: known.connectionId,
        vendor: known.vendor,
        payload: payload as Record<string, unknown>,
        read: (accountRef) => readWebhook(known.vendor, payload, accountRef),
        now,
      });
      if (!receipt) {
        outcome = "unknown_token"; // its connection was deleted
        throw unknownToken();
      }
      outcome = receipt.status;
      if (receipt.status === "accepted") wakeWhenDue();
      deps.logger.info({
        msg: "webhook received",
        requestId: c.get("requestId"),
        vendor,
        tokenId: known.id,
        connectionId: known.connectionId,
        outcome,
        pullId: receipt.pullId,
      });
      await touchToken(deps.kv, known, now).catch(() => {}); // a missed lastUsedAt is harmless
      return c.json(receipt, 202);
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) outcome = "failed";
      throw err;
    } finally {
      received.inc({ vendor, outcome });
    }
  });
}
