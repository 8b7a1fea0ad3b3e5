// Serves the app over node:http, whose server bounds how long a client may take to send a request.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";
import type { DirectLane, DirectRequest } from "./direct.ts";

export interface ServeOptions {
  hostname: string;
  port: number;
  /**
   * The longest a client may take from connecting, or from a request's first byte, to the end of
   * its headers; past it the connection gets a 408 and is closed. Deno.serve (2.9) has no such
   * bound: a client trickling a header byte now and then held its connection for as long as it
   * liked, and enough of them exhaust the process's file descriptors (slowloris).
   */
  headersTimeoutMs: number;
  /** The longest a client may take to send a whole request, body included; then the same 408. */
  requestTimeoutMs: number;
  onListen?: (addr: { hostname: string; port: number }) => void;
}

export interface HttpServer {
  addr: { hostname: string; port: number };
  /**
   * Stops accepting connections, lets the requests in flight finish (at most `graceMs`), then
   * closes every connection. Safe to call more than once.
   */
  shutdown(graceMs?: number): Promise<void>;
}

export type FetchHandler = (request: Request) => Response | Promise<Response>;

/** What a server answers with: any Fetch API request, and the direct routes before a Request. */
export interface HttpHandler {
  fetch: FetchHandler;
  direct?: DirectLane;
}

/**
 * How long an idle keep-alive connection stays open: longer than the usual load balancer's idle
 * timeout (60 s), so that the balancer, not this server, closes it, and never on a request in
 * flight. A connection that starts a request falls under the headers timeout at once.
 */
const KEEP_ALIVE_MS = 65_000;

const utf8 = new TextEncoder();

/**
 * Starts the server; answers once it listens. With `headersTimeoutMs` 0 it is Deno.serve, faster
 * by some 25 µs of CPU a request and with no bound on a request's arrival, for deployments whose
 * proxy or load balancer bounds it already.
 */
export function serve(handler: HttpHandler, options: ServeOptions): Promise<HttpServer> {
  if (options.headersTimeoutMs === 0) return Promise.resolve(serveDeno(handler, options));
  const server = createServer({
    headersTimeout: options.headersTimeoutMs,
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: KEEP_ALIVE_MS,
    // Deno.serve's bound on a request line and headers (node:http's own default is 16 KiB).
    maxHeaderSize: 64 * 1024,
    // How often node:http looks for requests past their bounds: the bounds hold to within this.
    connectionsCheckingInterval: Math.min(1_000, options.headersTimeoutMs),
  }, (req, res) => {
    // An answer that cannot be written (its body failed) ends the connection, not the process.
    answer(handler, req, res).catch(() => res.destroy());
  });
  let closing: Promise<void> | undefined;
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => {
      server.off("error", reject);
      const { address, port } = server.address() as AddressInfo;
      const addr = { hostname: address, port };
      options.onListen?.(addr);
      resolve({
        addr,
        shutdown(graceMs = 3_000) {
          closing ??= new Promise<void>((done) => {
            const force = setTimeout(() => server.closeAllConnections(), graceMs);
            server.close(() => {
              clearTimeout(force);
              done();
            });
            // Keep-alive connections that finish their request afterwards are idle, not closed.
            const idle = setInterval(() => server.closeIdleConnections(), 100);
            server.once("close", () => clearInterval(idle));
          });
          return closing;
        },
      });
    });
  });
}

function serveDeno(handler: HttpHandler, options: ServeOptions): HttpServer {
  const server = Deno.serve(
    { hostname: options.hostname, port: options.port, onListen: () => {} },
    (request) => handler.fetch(request),
  );
  const addr = { hostname: server.addr.hostname, port: server.addr.port };
  options.onListen?.(addr);
  let closing: Promise<void> | undefined;
  return { addr, shutdown: () => closing ??= server.shutdown() };
}

/** One request through the handler (a direct route's, when it is one), its answer written back. */
async function answer(handler: HttpHandler, req: IncomingMessage, res: ServerResponse) {
  res.on("error", () => {}); // the client went away: nothing left to answer
  const target = req.url ?? "/";
  const method = req.method ?? "GET";
  const query = target.indexOf("?");
  const { direct } = handler;
  const matched = direct && target.startsWith("/")
    ? direct.match(method, query < 0 ? target : target.slice(0, query))
    : undefined;
  if (direct && matched) {
    const { status, headers, body } = await direct.answer(matched, method, directRequest(req));
    return send(req, res, status, headers, utf8.encode(body));
  }
  let response: Response;
  try {
    response = await handler.fetch(toRequest(req));
  } catch {
    // Not a Request: a target that is no URL, or a header value the Fetch API refuses.
    response = new Response(null, { status: 400 });
  }
  let body: Uint8Array | undefined = response.body
    ? new Uint8Array(await response.arrayBuffer())
    : undefined;
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => {
    if (name !== "set-cookie") headers.push([name, value]);
  });
  if (body && compressible(req, response, body)) {
    body = gzipSync(body);
    headers.push(["content-encoding", "gzip"], ["vary", "accept-encoding"]);
  }
  for (const cookie of response.headers.getSetCookie()) headers.push(["set-cookie", cookie]);
  send(req, res, response.status, headers, body);
}

/** Writes an answer whose headers and body are complete. */
function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  headers: [string, string][],
  body: Uint8Array | undefined,
) {
  // A body the app did not read to its end (it refused it early: too large, too slow) is not
  // drained for the next request on this connection: the connection closes instead.
  if (!req.complete) headers.push(["connection", "close"]);
  if (body) headers.push(["content-length", String(body.byteLength)]);
  res.writeHead(status, headers.flat());
  res.end(body);
}

/**
 * Whether to gzip the answer, as Deno.serve did by itself: JSON or text of 1 KiB and more (list
 * pages, the spec) for a client that accepts gzip. Smaller answers (a webhook receipt) gain little
 * for the CPU it costs.
 */
function compressible(req: IncomingMessage, response: Response, body: Uint8Array): boolean {
  if (body.byteLength < 1024 || response.headers.has("content-encoding")) return false;
  const type = response.headers.get("content-type") ?? "";
  if (!/^(application\/(json|[a-z.+-]+\+json)|text\/)/i.test(type)) return false;
  const accepted = String(req.headers["accept-encoding"] ?? "");
  return /(^|,)\s*gzip\s*(,|;(?!\s*q=0(\.0*)?\s*(,|$))|$)/i.test(accepted);
}

/** The Fetch API request for what node:http parsed. */
function toRequest(req: IncomingMessage): Request {
  const target = req.url ?? "/";
  const host = req.headers.host ?? "localhost";
  // Origin-form targets are paths ("//x" included, which a URL base would read as a host).
  const url = target.startsWith("/") ? `http://${host}${target}` : target;
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  return new Request(new URL(url), {
    method: req.method ?? "GET",
    headers,
    body: hasBody(req) ? bodyStream(req) : null,
  });
}

/** As Deno.serve does: no body unless the request announces one (GET and HEAD take none). */
function hasBody(req: IncomingMessage): boolean {
  const announced = req.headers["content-length"] !== undefined ||
    req.headers["transfer-encoding"] !== undefined;
  return announced && req.method !== "GET" && req.method !== "HEAD";
}

/** What a direct route reads, straight from what node:http parsed: its body from the events. */
function directRequest(req: IncomingMessage): DirectRequest {
  return {
    headers: {
      get(name) {
        const value = req.headers[name.toLowerCase()];
        return value === undefined ? null : Array.isArray(value) ? value.join(", ") : value;
      },
    },
    body: null,
    events: hasBody(req) ? req : undefined,
  };
}

/** The request's body as a byte stream that reads from the socket only as fast as it is read. */
function bodyStream(req: IncomingMessage): ReadableStream<Uint8Array> {
  let open = true; // a cancelled or ended stream takes nothing more (enqueue would throw)
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Uint8Array) => {
        if (!open) return;
        controller.enqueue(chunk);
        if ((controller.desiredSize ?? 0) <= 0) req.pause();
      });
      req.on("end", () => {
        if (open) controller.close();
        open = false;
      });
      req.on("error", (err) => {
        if (open) controller.error(err);
        open = false;
      });
      req.pause();
    },
    pull() {
      req.resume();
    },
    cancel() {
      open = false;
      req.pause();
    },
  });
}
