// POST /v1/discovery/webhooks/{vendor}/{token}: the aggregators' deliveries, keyed by the path's token.
import type { OpenAPIHono } from "@hono/zod-openapi";
import * as routes from "../../generated/routes.ts";
import type { DirectRoute } from "../http/direct.ts";
import type { AppEnv } from "../http/env.ts";
import type { RequestLimits } from "../http/limits.ts";
import { rateLimitFields } from "../http/rate_limit_fields.ts";
import { readJsonCapped } from "../http/read_body.ts";
import { AppError } from "../lib/app_error.ts";
import type { WebhookObserver, WebhookOutcome } from "../metrics/webhook_metrics.ts";
import { isVendor } from "../vendors/vendors.ts";
import { TOKEN_WINDOW_MS } from "./token_limits.ts";
import { HeaderSecretRefused, type WebhookIntake } from "./webhooks.service.ts";

/** Largest webhook body accepted; vendors' payloads are a few KiB. */
export const MAX_WEBHOOK_BYTES = 256 * 1024;

/** The receiver's path in Hono's syntax. */
const RECEIVER_PATH = "/v1/discovery/webhooks/:vendor/:token";

export interface WebhookHandlerDeps {
  webhooks: WebhookIntake;
  observeWebhook: WebhookObserver;
  requestLimits: RequestLimits;
}

/**
 * How a failed delivery is counted: a refused token or header secret, the token's limit, a refused
 * body, or our own failure.
 */
function failedOutcome(err: unknown): WebhookOutcome {
  if (!(err instanceof AppError)) return "failed";
  if (err instanceof HeaderSecretRefused) return "wrong_header_secret";
  if (err.kind === "no_such_route") return "unknown_token";
  if (err.kind === "too_many_requests") return "rate_limited";
  const refusedBody = ["invalid_webhook", "unreadable_body", "body_too_large", "body_timeout"];
  return refusedBody.includes(err.kind) ? "rejected" : "failed";
}

/** The receiver in the OpenAPI document; it is served by `webhookReceiver`, before Hono. */
export function documentWebhookRoute(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerPath(routes.receiveWebhook);
}

/**
 * The receiver as a direct route (src/http/direct.ts): no Request, Response or Hono context per
 * delivery. The token is checked before the body is read, then the token's quota, then the body.
 */
export function webhookReceiver(deps: WebhookHandlerDeps): DirectRoute {
  const bodyLimits = {
    maxBytes: MAX_WEBHOOK_BYTES,
    timeoutMs: deps.requestLimits.bodyTimeoutMs,
    maxDepth: deps.requestLimits.maxJsonDepth,
  };
  return {
    method: "POST",
    path: RECEIVER_PATH,
    async handle(c) {
      const { vendor, token: value } = c.params;
      let outcome: WebhookOutcome = "failed";
      try {
        const token = await deps.webhooks.findToken(
          vendor,
          value,
          (name) => c.request.headers.get(name) ?? undefined,
        );
        // After the header secret: a leaked URL alone must not use up the vendor's quota.
        const allowance = await deps.webhooks.admit(token);
        if (allowance) {
          const fields = rateLimitFields("webhook", allowance, TOKEN_WINDOW_MS / 1000);
          for (const [field, fieldValue] of Object.entries(fields)) c.header(field, fieldValue);
          if (!allowance.allowed) {
            c.log({ msg: "webhook refused", vendor, tokenId: token.id, outcome: "rate_limited" });
            throw new AppError(
              "too_many_requests",
              "Too many deliveries to this webhook token this minute; try again after " +
                "Retry-After seconds.",
              { retryAfterSeconds: allowance.resetSeconds },
            );
          }
        }
        const body = await readJsonCapped(c.request, bodyLimits);
        const receipt = await deps.webhooks.record(token, body);
        outcome = receipt.status;
        c.log({
          msg: "webhook received",
          vendor,
          tokenId: token.id,
          connectionId: token.connectionId,
          outcome,
          pullId: receipt.pullId,
        });
        return { status: 202, body: receipt };
      } catch (err) {
        outcome = failedOutcome(err);
        if (err instanceof HeaderSecretRefused) {
          c.log({ msg: "webhook refused", vendor, tokenId: err.tokenId, outcome });
        }
        throw err;
      } finally {
        // Only the vendors' own names become labels: a path segment could be anything.
        if (isVendor(vendor)) deps.observeWebhook({ vendor, outcome });
      }
    },
  };
}
