// Idempotency-Key rules: the first request with a key runs, its answer is kept sealed, repeats replay it.
import { createHashRing, type HashRing, keyedHash } from "../crypto/keyed_hash.ts";
import { type KeyRing, seal, type SealKey, unseal } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import { AppError } from "../lib/app_error.ts";
import type { Logger } from "../lib/logger.ts";
import { fingerprintBytes, type RequestParts } from "./fingerprint.ts";
import * as store from "./idempotency.repository.ts";

/** How long a key and its answer are kept, from the first request. */
export const KEEP_MS = 24 * 3_600_000;

/** How long a repeat waits for a first request that still runs, by default. */
export const DEFAULT_WAIT_MS = 5_000;

/** The pauses between two looks at a running key: short first, as most writes take milliseconds. */
const POLL_MS = [10, 25, 50, 100, 200, 250];

/** Looks at one key at most this many times, however often it changes hands meanwhile. */
const MAX_ROUNDS = 200;

export interface IdempotencyDeps {
  sql: Sql;
  /** Seals every kept answer: a mint's answer holds a raw webhook token. */
  keyRing: KeyRing;
  /** Keys the request fingerprints. */
  hashRing: HashRing;
  now: () => number;
  logger: Logger;
  /** How long a repeat waits for the first request with its key to finish before a 409. */
  waitMs: number;
  /** A running key older than this was left by a process that stopped; a repeat may take it over. */
  takeoverMs: number;
}

/**
 * The takeover bound: longer than the slowest writing request can run, which is a live connection
 * test (up to two vendor calls of at most `vendorTimeoutMs` each), and never under a minute.
 */
export function takeoverBound(vendorTimeoutMs: number): number {
  return Math.max(60_000, 2 * vendorTimeoutMs + 10_000);
}

/** Builds the dependencies from the service's parts; the fingerprint keys come from the seal keys. */
export async function createIdempotency(
  parts: Omit<IdempotencyDeps, "hashRing" | "waitMs"> & { sealKeys: SealKey[]; waitMs?: number },
): Promise<IdempotencyDeps> {
  const { sealKeys, ...rest } = parts;
  return {
    ...rest,
    hashRing: await createHashRing(sealKeys, "matcher idempotency fingerprint v1"),
    waitMs: parts.waitMs ?? DEFAULT_WAIT_MS,
  };
}

/** An answer as kept: its status, media type and body. */
export interface KeptAnswer {
  status: number;
  contentType: string | null;
  body: Uint8Array;
}

/** What a request with a key does: run (holding the key as `attempt`), or replay a kept answer. */
export type Start = { run: true; attempt: store.KeyRef } | { run: false; answer: KeptAnswer };

function reused(): AppError {
  return new AppError(
    "idempotency_key_reused",
    "This Idempotency-Key was first used with another request (method, path or body) in the " +
      "last 24 hours; send a new request with a new key.",
  );
}

function unreadable(): AppError {
  return new AppError(
    "idempotency_key_reused",
    "The answer kept for this Idempotency-Key was sealed with a key the service no longer has; " +
      "send the request with a new key.",
  );
}

function inUse(): AppError {
  return new AppError(
    "idempotency_key_in_use",
    "A request with this Idempotency-Key is still running; send it again shortly for its answer.",
    { retryAfterSeconds: 1 },
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Claims `key` for this request, or answers what an earlier request with it answered. A repeat
 * of a request still running waits for it up to `waitMs`, then is refused as in use; a running
 * key whose attempt is older than `takeoverMs` is taken over. The same key with another request
 * is refused as reused.
 */
export async function startRequest(
  deps: IdempotencyDeps,
  tenantId: string,
  key: string,
  request: RequestParts,
): Promise<Start> {
  const bytes = fingerprintBytes(request);
  const fingerprintKey = deps.hashRing.primaryId;
  const fingerprint = (await keyedHash(deps.hashRing, fingerprintKey, bytes))!;
  const attempt: store.KeyRef = { tenantId, key, owner: crypto.randomUUID() };
  let waited = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const now = deps.now();
    const claimed = await store.claimKey(deps.sql, {
      ...attempt,
      fingerprint,
      fingerprintKey,
      now: new Date(now),
      expiresAt: new Date(now + KEEP_MS),
    });
    if (claimed) return { run: true, attempt };
    const row = await store.readKey(deps.sql, tenantId, key);
    if (!row) continue; // freed between the two statements: claim it again
    const theirs = row.fingerprintKey === fingerprintKey
      ? fingerprint
      : await keyedHash(deps.hashRing, row.fingerprintKey, bytes);
    if (!theirs) throw unreadable();
    if (!equalBytes(theirs, row.fingerprint)) throw reused();
    if (row.state === "done") return { run: false, answer: await openAnswer(deps, attempt, row) };
    if (row.lockedAt.getTime() <= now - deps.takeoverMs) {
      const taken = await store.takeOverKey(deps.sql, {
        ...attempt,
        from: row.owner,
        now: new Date(now),
      });
      if (taken) return { run: true, attempt };
      continue; // another repeat took it first
    }
    if (waited >= deps.waitMs) throw inUse();
    const pause = Math.min(POLL_MS[Math.min(round, POLL_MS.length - 1)], deps.waitMs - waited);
    await sleep(pause);
    waited += pause;
  }
  throw inUse();
}

/**
 * Ends the attempt: keeps `answer`, sealed, for the repeats to come, or with no answer frees the
 * key so that the next request with it runs. False when the attempt no longer held the key.
 */
export async function finishRequest(
  deps: IdempotencyDeps,
  attempt: store.KeyRef,
  answer: KeptAnswer | undefined,
): Promise<boolean> {
  if (!answer) {
    await store.releaseKey(deps.sql, attempt);
    return false;
  }
  const body = await seal(
    deps.keyRing,
    answer.body as Uint8Array<ArrayBuffer>,
    aad(attempt, answer),
  );
  return await store.keepAnswer(deps.sql, { ...attempt, ...answer, body });
}

/** The sealed body is bound to its tenant, key, status and media type: no row can lend it another. */
function aad(ref: { tenantId: string; key: string }, answer: Omit<KeptAnswer, "body">) {
  return new TextEncoder().encode(
    JSON.stringify(["idempotency", ref.tenantId, ref.key, answer.status, answer.contentType]),
  );
}

async function openAnswer(
  deps: IdempotencyDeps,
  ref: store.KeyRef,
  row: store.KeyRow,
): Promise<KeptAnswer> {
  const answer = { status: row.status!, contentType: row.contentType };
  try {
    return {
      ...answer,
      body: await unseal(deps.keyRing, row.body! as Uint8Array<ArrayBuffer>, aad(ref, answer)),
    };
  } catch {
    throw unreadable();
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
