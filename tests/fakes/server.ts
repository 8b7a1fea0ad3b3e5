// The HTTP scaffolding both fake vendors share: listening, request log, faults, webhooks, close.
import { answerWithFault, FaultSwitchboard, type VendorError } from "./faults.ts";

/** One request as the fake received it. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: URLSearchParams;
  headers: Headers;
}

/** What every fake vendor server exposes. */
export interface FakeServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  readonly url: string;
  /** `127.0.0.1:<port>`. */
  readonly host: string;
  /** Every request received since start or the last `resetRequests()`, faulted ones included. */
  readonly requests: RecordedRequest[];
  resetRequests(): void;
  readonly faults: FaultSwitchboard;
  /**
   * POSTs `payload` as JSON to `url`, as the vendor's webhook delivery would, and returns the
   * receiver's answer with its body already read (so nothing is left open).
   */
  sendWebhook(url: string, payload: object, headers?: Record<string, string>): Promise<Response>;
  /** Stops listening; pending delayed answers are abandoned. */
  close(): Promise<void>;
}

/** How a vendor fake plugs into the shared server. */
export interface FakeServerSetup {
  /** Answers a request that no fault intercepted (or that a delay fault let through). */
  handle(request: Request, url: URL): Response | Promise<Response>;
  vendorError: VendorError;
  /** How long a webhook receiver gets to answer before delivery counts as failed. */
  webhookTimeoutMs: number;
  /** The port to listen on; a free one by default. */
  port?: number;
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** Starts a fake vendor on 127.0.0.1, at a free port unless `setup.port` names one. */
export function startFakeServer(setup: FakeServerSetup): FakeServer {
  const requests: RecordedRequest[] = [];
  const faults = new FaultSwitchboard();
  const closing = new AbortController();

  async function serveFake(request: Request): Promise<Response> {
    const url = new URL(request.url);
    requests.push({
      method: request.method,
      path: url.pathname,
      query: new URLSearchParams(url.search),
      headers: new Headers(request.headers),
    });
    let signal: AbortSignal | undefined;
    const abortSignal = () => (signal ??= AbortSignal.any([request.signal, closing.signal]));
    const fault = faults.take(request.method, url.pathname, url.searchParams);
    const normal = async () => await setup.handle(request, url);
    try {
      return fault
        ? await answerWithFault(fault, abortSignal, normal, setup.vendorError, url)
        : await normal();
    } catch (error) {
      if (signal?.aborted) return new Response(null, { status: 503 });
      const own = setup.vendorError(500);
      const body = { fakeError: String(error), vendorBody: own.body };
      return Response.json(body, { status: 500 });
    }
  }

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: setup.port ?? 0, onListen() {} },
    serveFake,
  );
  const host = `127.0.0.1:${server.addr.port}`;
  let closed: Promise<void> | undefined;

  return {
    url: `http://${host}`,
    host,
    requests,
    resetRequests() {
      requests.length = 0;
    },
    faults,
    async sendWebhook(target, payload, headers = {}) {
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new DOMException("webhook delivery timed out", "TimeoutError")),
        setup.webhookTimeoutMs,
      );
      try {
        const res = await fetch(target, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify(payload),
          redirect: "manual",
          signal: controller.signal,
        });
        const body = await res.arrayBuffer();
        const empty = NULL_BODY_STATUSES.has(res.status) || body.byteLength === 0;
        return new Response(empty ? null : body, {
          status: res.status,
          statusText: res.statusText,
          headers: res.headers,
        });
      } finally {
        clearTimeout(timer);
      }
    },
    close() {
      closing.abort(new DOMException("fake closed", "AbortError"));
      closed ??= server.shutdown();
      return closed;
    },
  };
}

/** A JSON response with the given status. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}
