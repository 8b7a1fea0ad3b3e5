// Spec-driven fuzzing: thousands of seeded valid and broken requests, each answer one openapi.yaml declares.
import assert from "node:assert/strict";
import {
  type Answer,
  createAnswerChecker,
  loadSpec,
  operations,
} from "../support/openapi_check.ts";
import { createHolder, withIdempotencyKeys } from "../support/fuzz_idempotency.ts";
import { type FuzzRequest, requestMaker } from "../support/fuzz_requests.ts";
import { seedFuzzState } from "../support/fuzz_state.ts";
import { mulberry32 } from "../support/fuzz_values.ts";

/** FUZZ_SEED=<n> replays a run; FUZZ_REQUESTS=<n> changes its length. */
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? Math.floor(Math.random() * 2 ** 31));
const REQUESTS = Number(Deno.env.get("FUZZ_REQUESTS") ?? 5_200);
const CONCURRENCY = 8;
/** Every this many turns of an operation, its request goes to the replica whose limits are 1. */
const THROTTLED_EVERY = 10;
/**
 * When the run leaves an operation short of a status it must reach (chance decides how often a
 * rare combination comes up), that operation gets this many more requests, up to TOP_UP_ROUNDS
 * times: coverage that depends on the seed would make the suite fail one run in a few.
 */
const TOP_UP = 150;
const TOP_UP_ROUNDS = 10;

async function send(baseUrl: string, request: FuzzRequest): Promise<Answer> {
  const bytes = request.body === undefined ? undefined : new TextEncoder().encode(request.body);
  const body = bytes && request.stream
    ? new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes);
        controller.close();
      },
    })
    : bytes;
  const res = await fetch(`${baseUrl}${request.url}`, {
    method: request.method,
    headers: request.headers,
    body,
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

function describe(request: FuzzRequest, answer: Answer | undefined, problems: string[]): string {
  const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…(${s.length})` : s);
  return [
    `${request.method} ${clip(request.url, 300)} [${request.notes.join(", ")}]`,
    `  headers: ${clip(JSON.stringify(request.headers), 300)}`,
    request.body === undefined ? "  no body" : `  body: ${clip(JSON.stringify(request.body), 300)}`,
    answer ? `  answer ${answer.status}: ${clip(answer.text, 300)}` : "  no answer",
    ...problems.map((p) => `  - ${p}`),
  ].join("\n");
}

Deno.test("fuzz: every answer to a generated request is one openapi.yaml declares", async () => {
  console.log(`FUZZ_SEED=${SEED}`);
  const spec = await loadSpec();
  const ops = operations(spec);
  const check = createAnswerChecker(spec);
  const { w, state, throttled, close } = await seedFuzzState(`metrics-${crypto.randomUUID()}`);
  try {
    const r = mulberry32(SEED);
    const make = withIdempotencyKeys(
      r,
      state,
      requestMaker(r, spec, state),
      await createHolder(w.h),
    );
    // Every operation in turn, so each gets its share however the PRNG falls; those that take a
    // body get more turns, the webhook receiver (the one open to the internet) the most.
    const turns = ops.flatMap((op) =>
      Array(op.operationId === "receiveWebhook" ? 4 : op.body ? 2 : 1).fill(op)
    );
    /** The `turn`th request of an operation goes to the throttled replica every so often. */
    const baseUrl = (turn: number) =>
      turn % THROTTLED_EVERY === THROTTLED_EVERY - 1 ? throttled.baseUrl : w.h.baseUrl;
    let planned = Array.from({ length: REQUESTS }, (_, i) => ({
      request: make(turns[i % turns.length]),
      base: baseUrl(Math.floor(i / turns.length)),
    }));
    let sent = 0;
    const failures: string[] = [];
    const statuses = new Map<string, Set<number>>(ops.map((op) => [op.operationId, new Set()]));
    /** What deliveries to tokens with a header secret answered, with and without it. */
    const secretAnswers = new Set<string>();
    let next = 0;
    /** Sends one request and checks its answer; undefined when it got none. */
    const exchange = async (
      base: string,
      request: FuzzRequest,
      extra?: (answer: Answer) => string[],
    ) => {
      let answer: Answer | undefined;
      let problems: string[];
      try {
        answer = await send(base, request);
        problems = [...check(request.op, answer), ...(extra?.(answer) ?? [])];
        if (request.badAuth && answer.status !== 401) {
          problems.push(`a broken bearer token answered ${answer.status}, not 401`);
        }
        if (request.headerSecret === "wrong" && answer.status !== 404) {
          problems.push(`a missing or wrong header secret answered ${answer.status}, not 404`);
        }
        if (request.headerSecret) secretAnswers.add(`${request.headerSecret} ${answer.status}`);
        statuses.get(request.op.operationId)!.add(answer.status);
      } catch (err) {
        problems = [`the request failed: ${String(err).slice(0, 300)}`];
      }
      if (problems.length) failures.push(describe(request, answer, problems));
      return answer;
    };
    const worker = async () => {
      while (next < planned.length) {
        const { request, base } = planned[next++];
        sent++;
        const first = await exchange(base, request);
        // Idempotency-Key repeats go to the unthrottled app only: a 429 is never kept for them.
        const followers = first && base === w.h.baseUrl ? request.followers ?? [] : [];
        for (const follower of followers) {
          await follower.before?.();
          try {
            await exchange(base, follower.request, (answer) => follower.check(first!, answer));
          } finally {
            await follower.after?.();
          }
        }
      }
    };
    const run = async () => {
      next = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    };
    await run();

    // What an operation has yet to show: a success, each 4xx the spec declares for it but the
    // 404s of /metrics and of the development sign-in (only when they are off) and 408 (a body
    // that stalls past its timeout: tests/http/slow_body_test.ts); for the receiver, a delivery
    // accepted with its header secret and one refused without it.
    const gaps = (op: (typeof ops)[number]): string[] => {
      const seen = statuses.get(op.operationId)!;
      const missing = [...op.responses.keys()].filter((s) =>
        s >= 400 && s < 500 && !seen.has(s) && s !== 408 &&
        !((op.operationId === "getMetrics" || op.operationId === "createDevSession") && s === 404)
      ).map(String);
      if (![...seen].some((s) => s < 300)) missing.push("a success");
      if (op.operationId === "receiveWebhook") {
        if (!secretAnswers.has("right 202")) missing.push("a delivery with its header secret");
        if (!secretAnswers.has("wrong 404")) missing.push("a 404 without its header secret");
      }
      return missing;
    };
    const topUps: string[] = [];
    for (let round = 0; round < TOP_UP_ROUNDS; round++) {
      const short = ops.filter((op) => gaps(op).length > 0);
      if (short.length === 0) break;
      topUps.push(...short.map((op) => `${op.operationId} (${gaps(op).join(", ")})`));
      planned = short.flatMap((op) =>
        Array.from({ length: TOP_UP }, (_, turn) => ({ request: make(op), base: baseUrl(turn) }))
      );
      await run();
    }

    const report = Deno.env.get("FUZZ_REPORT");
    if (report) await Deno.writeTextFile(report, failures.join("\n"));
    const summary = [...statuses].map(([id, s]) => `${id} ${[...s].sort().join("/")}`);
    console.log(`${sent} requests; statuses by operation:\n  ${summary.join("\n  ")}`);
    if (topUps.length) console.log(`more requests, ${TOP_UP} at a time, for: ${topUps.join("; ")}`);
    assert.equal(
      failures.length,
      0,
      `FUZZ_SEED=${SEED}: ${failures.length} answers broke the contract; the first:\n` +
        failures.slice(0, 8).join("\n"),
    );
    for (const op of ops) {
      assert.deepEqual(gaps(op), [], `${op.operationId} never showed ${gaps(op).join(", ")}`);
    }
  } finally {
    await close();
  }
});
