// Resends a write whose answer was lost under its one Idempotency-Key, so that the service runs it once.

/** The methods whose operations take an Idempotency-Key. */
export const WRITES: ReadonlySet<string> = new Set(["POST", "PUT", "DELETE"]);

/** Answers that say "the same request may succeed shortly": gateways and the service unavailable. */
const RETRY_STATUSES = new Set([502, 503, 504]);

/** The longest pause between two attempts, whatever `Retry-After` asks. */
const MAX_PAUSE_MS = 30_000;

/** Gives a write without an Idempotency-Key a fresh one (a random UUID). */
export function addIdempotencyKey(request: Request): Request {
  if (WRITES.has(request.method) && !request.headers.has("Idempotency-Key")) {
    request.headers.set("Idempotency-Key", crypto.randomUUID());
  }
  return request;
}

/**
 * Wraps `send` so that a write carrying an Idempotency-Key is sent again, up to `retries` times,
 * when no answer came (the connection failed) or the answer asks to try again: 409 `MTCH-1409`
 * (the first request with the key still runs), 502, 503 or 504. Each attempt is the same request
 * with the same key, so the service runs it at most once and answers a repeat with the first
 * answer. Pauses follow `Retry-After`, else 200 ms doubling. Other requests are sent once.
 */
export function retryingFetch(
  send: (request: Request) => Promise<Response>,
  retries: number,
): (request: Request) => Promise<Response> {
  return async function fetchWithRetries(request: Request): Promise<Response> {
    if (!WRITES.has(request.method) || !request.headers.has("Idempotency-Key")) {
      return await send(request);
    }
    for (let attempt = 0;; attempt++) {
      const last = attempt >= retries;
      // A copy per attempt: a body can be read once, and the next attempt needs it again.
      const copy = last ? request : request.clone();
      let response: Response;
      try {
        response = await send(copy);
      } catch (err) {
        if (last || request.signal.aborted) throw err;
        await pause(backoff(attempt), request.signal);
        continue;
      }
      if (last || !(await asksToRetry(response))) return response;
      await response.body?.cancel();
      await pause(retryAfterMs(response) ?? backoff(attempt), request.signal);
    }
  };
}

async function asksToRetry(response: Response): Promise<boolean> {
  if (RETRY_STATUSES.has(response.status)) return true;
  if (response.status !== 409) return false;
  try {
    return (await response.clone().json())?.code === "MTCH-1409";
  } catch {
    return false;
  }
}

function retryAfterMs(response: Response): number | undefined {
  const seconds = Number(response.headers.get("Retry-After") ?? NaN);
  return Number.isFinite(seconds) && seconds >= 0
    ? Math.min(seconds * 1000, MAX_PAUSE_MS)
    : undefined;
}

const backoff = (attempt: number) => Math.min(200 * 2 ** attempt, MAX_PAUSE_MS);

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", stop);
      resolve();
    }, ms);
    function stop() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", stop, { once: true });
  });
}
