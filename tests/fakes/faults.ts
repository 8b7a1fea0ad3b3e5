// The fault switchboard both fake vendors share: rules that make the next matching requests fail.

/** What a matching request gets instead of (or before) its normal answer. */
export type Fault =
  /** That status; without `body`, the vendor's own error body (and headers) for it. */
  | { status: number; headers?: Record<string, string>; body?: unknown }
  /** Wait, then answer normally; gives up early when the client aborts or the fake closes. */
  | { delayMs: number }
  /** 200 with the normal JSON body cut roughly in half. */
  | { truncate: true }
  /** 200 with an HTML page instead of JSON. */
  | { malformed: true }
  /** 200 with valid JSON of the wrong shape: `{"results":"nope"}`. */
  | { wrongShape: true }
  /** 200 whose body stops half way, short of its Content-Length, so the client's read fails. */
  | { reset: true }
  /** 200 with valid JSON of at least this many bytes. */
  | { oversizeBytes: number }
  /** 302 to the given URL. */
  | { redirect: string }
  /**
   * The normal answer with its `next` page link replaced by what this answers for the request's URL
   * and the link the fake would have sent: a vendor whose links cycle (A → B → A) or run on.
   */
  | { next: (request: URL, next: string | null) => string | null };

/** Which requests a fault applies to, and how many times. */
export interface FaultRule {
  /** HTTP method, any case; every method when absent. */
  method?: string;
  /** Exact path (no query) or a pattern tested against it; every path when absent. */
  path?: string | RegExp;
  /** Query parameters the request must carry with these values (e.g. one account's pages). */
  query?: Record<string, string>;
  /** How many matching requests get the fault; default 1, `Infinity` allowed. */
  times?: number;
  fault: Fault;
}

/** The vendor's error answer for a status: body plus any headers the vendor sends with it. */
export type VendorError = (status: number) => { body: unknown; headers?: Record<string, string> };

/** Rules consulted in the order added; the first that matches and has uses left wins. */
export class FaultSwitchboard {
  #rules: Array<Required<Pick<FaultRule, "times">> & FaultRule> = [];

  /** Adds a rule. */
  add(rule: FaultRule): void {
    const times = rule.times ?? 1;
    if (!(times > 0)) throw new RangeError("times must be positive");
    this.#rules.push({ ...rule, times });
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules = [];
  }

  /** Uses up one matching rule and returns its fault, if any matches. */
  take(method: string, path: string, query = new URLSearchParams()): Fault | undefined {
    const index = this.#rules.findIndex((rule) =>
      (rule.method === undefined || rule.method.toUpperCase() === method.toUpperCase()) &&
      (rule.path === undefined ||
        (typeof rule.path === "string" ? rule.path === path : matches(rule.path, path))) &&
      Object.entries(rule.query ?? {}).every(([k, v]) => query.get(k) === v)
    );
    if (index < 0) return undefined;
    const rule = this.#rules[index];
    rule.times -= 1;
    if (rule.times <= 0) this.#rules.splice(index, 1);
    return rule.fault;
  }
}

/** Tests a pattern from its start every time, even one with the g or y flag. */
function matches(pattern: RegExp, path: string): boolean {
  pattern.lastIndex = 0;
  return pattern.test(path);
}

/**
 * Answers a request under `fault`; `normal` produces the answer the fake would give otherwise.
 * `signal` is only read by delays: touching Deno.serve's request.signal makes Deno warn about its
 * legacy abort-on-success behaviour, so other faults leave it alone.
 */
export async function answerWithFault(
  fault: Fault,
  signal: () => AbortSignal,
  normal: () => Promise<Response>,
  vendorError: VendorError,
  url: URL,
): Promise<Response> {
  if ("status" in fault) {
    const own = vendorError(fault.status);
    const body = fault.body === undefined ? own.body : fault.body;
    const headers = new Headers({ ...(fault.body === undefined ? own.headers : {}) });
    for (const [k, v] of Object.entries(fault.headers ?? {})) headers.set(k, v);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    const text = typeof body === "string" ? body : JSON.stringify(body);
    const nullBody = fault.status === 204 || fault.status === 205 || fault.status === 304;
    return new Response(nullBody ? null : text, { status: fault.status, headers });
  }
  if ("delayMs" in fault) {
    await sleep(fault.delayMs, signal());
    return normal();
  }
  if ("redirect" in fault) {
    return new Response(null, { status: 302, headers: { location: fault.redirect } });
  }
  if ("malformed" in fault) {
    const html =
      "<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>";
    return new Response(html, { status: 200, headers: { "content-type": "text/html" } });
  }
  if ("wrongShape" in fault) {
    return jsonText(JSON.stringify({ results: "nope" }));
  }
  if ("next" in fault) {
    const res = await normal();
    if (res.status !== 200) return res;
    const body = await res.json();
    return jsonText(JSON.stringify({ ...body, next: fault.next(url, body.next ?? null) }));
  }
  const text = await (await normal()).text();
  if ("truncate" in fault) return jsonText(text.slice(0, Math.max(1, Math.floor(text.length / 2))));
  if ("oversizeBytes" in fault) return jsonText(padJson(text, fault.oversizeBytes));
  return resetResponse(text);
}

function jsonText(text: string): Response {
  return new Response(text, { status: 200, headers: { "content-type": "application/json" } });
}

/** The normal body with a `padding` member (or wrapped in one), at least `bytes` long. */
function padJson(text: string, bytes: number): string {
  let base: unknown;
  try {
    base = JSON.parse(text);
  } catch {
    base = null;
  }
  const target = base !== null && typeof base === "object" && !Array.isArray(base)
    ? base as Record<string, unknown>
    : { data: base };
  const size = new TextEncoder().encode(JSON.stringify(target)).length;
  return JSON.stringify({ ...target, padding: "x".repeat(Math.max(0, bytes - size) + 16) });
}

/**
 * Announces the whole body in Content-Length but ends after half of it, so the client's read fails
 * mid-body as on a reset connection. (Erroring the stream instead would make Deno.serve print the
 * error to stderr.)
 */
function resetResponse(text: string): Response {
  const bytes = new TextEncoder().encode(text);
  const half = bytes.slice(0, Math.max(1, Math.floor(bytes.length / 2)));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(half);
      timer = setTimeout(() => controller.close(), 20);
    },
    cancel() {
      clearTimeout(timer);
    },
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/json", "content-length": String(bytes.length + 1) },
  });
}

/** Resolves after `ms`, or rejects as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    function onAbort() {
      clearTimeout(timer);
      reject(signal.reason);
    }
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
