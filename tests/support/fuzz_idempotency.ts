// Idempotency-Keys for the fuzzer: keys valid and broken, repeats, conflicting repeats and repeats
// of a request still running, each checked beyond the contract against the first answer.
import { createKeyRing } from "../../src/crypto/seal.ts";
import type { RequestParts } from "../../src/idempotency/fingerprint.ts";
import {
  createIdempotency,
  finishRequest,
  startRequest,
} from "../../src/idempotency/idempotency.service.ts";
import { jsonLogger } from "../../src/lib/logger.ts";
import type { FuzzRequest, FuzzState } from "./fuzz_requests.ts";
import { chance, pick, type Random, randomText } from "./fuzz_values.ts";
import type { Harness } from "./harness.ts";
import type { Answer, Operation } from "./openapi_check.ts";

/** A request sent right after another one by the same worker, with what its answer must show. */
export interface Follower {
  request: FuzzRequest;
  /** Runs before the request is sent (claims a key, as a first request still running would). */
  before?: () => Promise<void>;
  /** Runs once its answer is in. */
  after?: () => Promise<void>;
  /** Problems of its answer, given the first request's answer. */
  check(first: Answer, answer: Answer): string[];
}

/** Claims `key` for `parts` as a running first request would; answers how to free it again. */
export type Holder = (
  tenantId: string,
  key: string,
  parts: RequestParts,
) => Promise<() => Promise<void>>;

/** Keys that must be refused with a 400 naming the header. */
const BROKEN_KEYS = [
  "",
  " ",
  "k".repeat(256),
  `"${"k".repeat(256)}"`,
  "two words",
  "a,b",
  "k1, k2",
  '"open',
  'mid"quote',
  '""',
  "{json}",
  "semi;colon",
  "caf\u00e9",
  "tab\there",
  "<script>",
  "%00",
  "back\\slash",
];
const KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:~+/=-";

/** A key the service must accept: mostly a UUID, sometimes odd but allowed, sometimes quoted. */
function validKey(r: Random): string {
  const key = chance(r, 0.7)
    ? crypto.randomUUID()
    : randomText(r, 1 + Math.floor(r() * 255), KEY_CHARS);
  return chance(r, 0.15) ? `"${key}"` : key;
}

/** The operations that take a key: writes that need the tenant's JWT. */
export const takesKey = (op: Operation) =>
  op.security === "bearer" && ["POST", "PUT", "DELETE"].includes(op.method);

/** The tenant a bearer value of the seeded state stands for; undefined for a broken one. */
function tenantOf(state: FuzzState, authorization: string | undefined): string | undefined {
  if (authorization !== state.bearer.valid && authorization !== state.bearer.other) {
    return undefined;
  }
  const payload = authorization.split(".")[1];
  return JSON.parse(
    new TextDecoder().decode(Uint8Array.fromBase64(payload, { alphabet: "base64url" })),
  )
    .tenant_id;
}

/** The path parameters of `request`, when each is plain enough that decoding leaves it as is. */
function plainParams(request: FuzzRequest): Record<string, string> | undefined {
  const names = [...request.op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const pattern = new RegExp(`^${request.op.path.replace(/\{[^}]+\}/g, "([^/?]*)")}(\\?|$)`);
  const values = pattern.exec(request.url)?.slice(1, names.length + 1);
  if (!values || values.some((v) => !/^[A-Za-z0-9._~-]+$/.test(v))) return undefined;
  return Object.fromEntries(names.map((name, i) => [name, values[i]]));
}

const withKey = (request: FuzzRequest, key: string, note: string): FuzzRequest => ({
  ...request,
  headers: { ...request.headers, "Idempotency-Key": key },
  notes: [...request.notes, note],
});

const codeOf = (answer: Answer) => {
  try {
    return JSON.parse(answer.text)?.code;
  } catch {
    return undefined;
  }
};

/**
 * Wraps the request maker: a writing request gets no key, a broken key (a 400 naming the header)
 * or a valid one, and a request with a valid key is followed by its exact repeat (which must get
 * the first answer, marked replayed, unless that was a 429), by another request with the same key
 * (a 422 when it differs), or by itself under a fresh key that a running first request holds (a
 * 409, and never a 422: the two sides agree on what "the same request" is). Other operations
 * sometimes get a key too, which they ignore.
 */
export function withIdempotencyKeys(
  r: Random,
  state: FuzzState,
  make: (op: Operation) => FuzzRequest,
  hold: Holder,
): (op: Operation) => FuzzRequest {
  return function makeKeyed(op: Operation): FuzzRequest {
    const request = make(op);
    if (!takesKey(op)) {
      if (!chance(r, 0.1)) return request;
      const key = chance(r, 0.5) ? validKey(r) : pick(r, BROKEN_KEYS);
      return withKey(request, key, "a key where none is declared");
    }
    const roll = r();
    if (roll < 0.4) return request;
    if (roll < 0.5) return withKey(request, pick(r, BROKEN_KEYS), "broken Idempotency-Key");
    const key = validKey(r);
    const first = withKey(request, key, "Idempotency-Key");
    const followers: Follower[] = [];
    const kind = r();
    if (kind < 0.4) {
      followers.push({ request: withKey(request, key, "exact repeat"), check: sameAnswer });
    } else if (kind < 0.65) {
      followers.push({
        request: withKey(make(op), key, "conflicting repeat"),
        check: (_first, answer) =>
          answer.status === 422 && codeOf(answer) !== "MTCH-1422"
            ? [`a 422 with ${codeOf(answer)}, not MTCH-1422`]
            : [],
      });
    } else if (kind < 0.85) {
      const tenant = tenantOf(state, request.headers["Authorization"]);
      const params = plainParams(request);
      if (tenant && params) {
        const heldKey = crypto.randomUUID();
        let release = () => Promise.resolve();
        // The service does not count a DELETE's body (README: Retrying safely).
        const body = new TextEncoder().encode(op.method === "DELETE" ? "" : request.body ?? "");
        followers.push({
          request: withKey(request, heldKey, "repeat of a running request"),
          before: async () => {
            release = await hold(tenant, heldKey, {
              method: op.method,
              route: op.path,
              params,
              body,
            });
          },
          after: () => release(),
          check: (_first, answer) =>
            answer.status < 300 || answer.status === 422
              ? [`a repeat of a running request answered ${answer.status} ${codeOf(answer)}`]
              : [],
        });
      }
    }
    return { ...first, followers };
  };
}

/** An exact repeat gets the first answer, replayed; a 429 was not kept, so it runs again. */
function sameAnswer(first: Answer, answer: Answer): string[] {
  if (first.status === 429) return [];
  const problems: string[] = [];
  if (answer.status !== first.status || answer.text !== first.text) {
    problems.push(`the repeat answered ${answer.status}, the first ${first.status}`);
  }
  if (answer.status < 300 && answer.headers.get("Idempotency-Replayed") !== "true") {
    problems.push("a replayed success lacks Idempotency-Replayed: true");
  }
  return problems;
}

/** A holder on the harness's database, with its seal keys (as another replica would have). */
export async function createHolder(h: Harness): Promise<Holder> {
  const deps = await createIdempotency({
    sql: h.sql,
    keyRing: await createKeyRing(h.sealKeys),
    sealKeys: h.sealKeys,
    now: Date.now,
    logger: jsonLogger(() => {}),
    takeoverMs: 3_600_000,
  });
  return async function hold(tenantId, key, parts) {
    const start = await startRequest(deps, tenantId, key, parts);
    if (!start.run) throw new Error(`the fresh key ${key} was taken`);
    return async () => {
      await finishRequest(deps, start.attempt, undefined);
    };
  };
}
