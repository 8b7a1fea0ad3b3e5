// Webhook receipt rules: the token names a live connection of that vendor (with its header secret
// when it has one), within its deliveries a minute, the body is that vendor's event, and
// concurrent deliveries are recorded together (group commit).
import type { components } from "../../generated/types.ts";
import { isUnavailable } from "../db/errors.ts";
import type { Sql } from "../db/pool.ts";
import { AppError } from "../lib/app_error.ts";
import { groupCommit } from "../lib/group_commit.ts";
import type { Allowance } from "../lib/window_counters.ts";
import { isVendor, type Vendor } from "../vendors/vendors.ts";
import { headerSecretMatches, SECRET_HEADER } from "./header_secret.ts";
import type { TokenCache } from "./token_cache.ts";
import type { TokenLimits } from "./token_limits.ts";
import type { WebhookTokenRecord } from "./tokens.repository.ts";
import { readWebhook } from "./vendor_events.ts";
import { recordWebhooks, type WebhookDelivery } from "./webhook_events.repository.ts";

type WebhookReceipt = components["schemas"]["WebhookReceipt"];

/** The most deliveries one statement records. */
const MAX_BATCH = 200;

/**
 * Deliveries announcing more transaction ids than this are recorded in a lane of their own, so
 * that a tenant sending huge `transactions/updated` or `deleted` events never holds up the small
 * deliveries of everyone else in the same commit.
 */
const LARGE_EVENT_IDS = 500;

export interface WebhookDeps {
  sql: Sql;
  tokens: TokenCache;
  now: () => number;
  /** Called after a pull was queued, so a local worker starts it without waiting for its poll. */
  onPullQueued: () => void;
  /** How long a queued pull waits, so that the other events of the same sync merge into it. */
  webhookPullDelayMs: number;
  /** The least time between the starts of a connection's webhook pulls. */
  webhookPullMinIntervalMs: number;
  /** Ids to fetch again one account of a queued pull may hold before it is walked whole. */
  idsPerAccount: number;
  /** Each token's deliveries a minute; undefined when the operator turned the limit off. */
  limits?: TokenLimits;
  /**
   * How long a delivery waits for its event to be recorded, and how many may wait at once: past
   * either, 503 with Retry-After (the vendor delivers again), not a request that hangs for as long
   * as the database does while deliveries pile up in memory.
   */
  waitMs: number;
  maxPending: number;
}

/** The refusal of a delivery the database could not record in time, or for which none waits. */
function notRecorded(why: "full" | "late"): AppError {
  const message = why === "full"
    ? "Too many deliveries are waiting for the database; try again."
    : "The database did not record the delivery in time; try again.";
  return new AppError("unavailable", message, { retryAfterSeconds: 5 });
}

/** A delivery's request header by name. */
export type HeaderReader = (name: string) => string | undefined;

export interface WebhookIntake {
  /**
   * The live token `token` of `vendor`, when the delivery carries its header secret (if it has
   * one); the one 404 for anything else.
   */
  findToken(
    vendor: string,
    token: string,
    header: HeaderReader,
  ): Promise<WebhookTokenRecord & { vendor: Vendor }>;
  /** Takes one delivery from the token's quota; undefined when deliveries are not limited. */
  admit(token: WebhookTokenRecord): Promise<Allowance | undefined>;
  /** Records the delivery's body for the token's connection; the receipt once it is durable. */
  record(token: WebhookTokenRecord, body: unknown): Promise<WebhookReceipt>;
}

/** One answer for every delivery that names no live token of that vendor: nothing to learn. */
function unknownToken(): AppError {
  return new AppError("no_such_route", "No such route.");
}

/**
 * A live token's delivery without its header secret: the same answer as an unknown token, so
 * that the URL alone tells nothing, but counted and logged apart (by the token's id).
 */
export class HeaderSecretRefused extends AppError {
  constructor(readonly tokenId: string) {
    super("no_such_route", "No such route.");
  }
}

/** How many transaction ids an event announces. */
function announced(delivery: WebhookDelivery): number {
  const work = delivery.event.work;
  if (!work) return 0;
  const ids = Object.values(work.ids ?? {}).reduce((n, list) => n + list.length, 0);
  return ids + (work.deleted?.length ?? 0);
}

export function createWebhookIntake(deps: WebhookDeps): WebhookIntake {
  // Concurrent deliveries share one statement (and one commit): see src/lib/group_commit.ts. Each
  // lane bounds how many deliveries wait and for how long.
  const lane = () =>
    groupCommit(
      (deliveries: WebhookDelivery[]) =>
        recordWebhooks(deps.sql, deliveries, {
          pullDelayMs: deps.webhookPullDelayMs,
          pullMinIntervalMs: deps.webhookPullMinIntervalMs,
          idsPerAccount: deps.idsPerAccount,
        }),
      {
        maxBatch: MAX_BATCH,
        retryAlone: (err) => !isUnavailable(err),
        limits: { maxPending: deps.maxPending, maxWaitMs: deps.waitMs, refuse: notRecorded },
      },
    );
  const small = lane();
  const large = lane();

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

  return {
    async findToken(vendor, token, header) {
      if (!isVendor(vendor)) throw unknownToken();
      const known = await deps.tokens.find(token);
      if (!known || known.vendor !== vendor) throw unknownToken();
      const secretHash = known.headerSecretHash;
      if (
        secretHash !== undefined && !headerSecretMatches(header(SECRET_HEADER[vendor]), secretHash)
      ) {
        throw new HeaderSecretRefused(known.id);
      }
      return known;
    },

    admit(token) {
      return deps.limits ? deps.limits.take(token.id) : Promise.resolve(undefined);
    },

    async record(token, body) {
      if (typeof body !== "object" || body === null || Array.isArray(body)) {
        throw new AppError("invalid_webhook", "A webhook body must be a JSON object.");
      }
      const now = new Date(deps.now());
      const delivery: WebhookDelivery = {
        tenantId: token.tenantId,
        connectionId: token.connectionId,
        vendor: token.vendor,
        payload: body as Record<string, unknown>,
        event: readWebhook(token.vendor, body),
        now,
      };
      const receipt = await (announced(delivery) > LARGE_EVENT_IDS ? large : small)(delivery);
      if (!receipt) throw unknownToken(); // its connection was deleted
      if (receipt.status === "accepted") wakeWhenDue();
      await deps.tokens.touch(token, now).catch(() => {}); // a missed lastUsedAt is harmless
      return receipt;
    },
  };
}
