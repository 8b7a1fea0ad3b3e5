// Routes answered before Hono, from the server's own request objects: the webhook receiver, where
// building a Request and a Response and running Hono cost as much CPU as recording the delivery.
import type { Logger, LogRecord } from "../lib/logger.ts";
import { errorAnswer, logFailure } from "./errors.ts";
import type { BodyRequest } from "./read_body.ts";
import { requestIdFor, type RequestRecorder } from "./request_log.ts";
import { HARDENING_HEADERS } from "./secure_headers.ts";

/** What a direct route reads of a request: its headers and body, as of a Fetch API Request. */
export type DirectRequest = BodyRequest;

/** What a direct route's handler gets besides the request, as a Hono handler's context. */
export interface DirectContext {
  request: DirectRequest;
  /** The path's parameters, percent-decoded. */
  params: Record<string, string>;
  /** Adds a header to the answer (kept on an error answer too). */
  header(name: string, value: string): void;
  /** What the request's one log line adds (its `msg` included). */
  log(record: LogRecord): void;
}

export interface DirectRoute {
  method: string;
  /** The path in Hono's syntax (`/a/:b`): what logs and metrics name the route. */
  path: string;
  /** The 2xx answer's status and JSON body; anything thrown is answered as everywhere. */
  handle(c: DirectContext): Promise<{ status: number; body: unknown }>;
}

/** A whole answer: status, headers and the JSON text. */
export interface DirectAnswer {
  status: number;
  headers: [string, string][];
  body: string;
}

/** A request's route and its parameters. */
export interface DirectMatch {
  route: DirectRoute;
  params: Record<string, string>;
}

export interface DirectLane {
  routes: readonly DirectRoute[];
  /** The route that serves `method` on `path` (no query), if any. */
  match(method: string, path: string): DirectMatch | undefined;
  /**
   * Runs the route as the app runs a Hono route: request id, the hardening headers, errors as the
   * error envelope, one log line and the HTTP metrics.
   */
  answer(matched: DirectMatch, method: string, request: DirectRequest): Promise<DirectAnswer>;
  /** The same for a Fetch API request; undefined when no direct route serves it. */
  fetch(request: Request): Promise<Response> | undefined;
}

/** As Hono decodes a path parameter: percent-decoded, or as it came when that fails. */
function decode(segment: string): string {
  if (!segment.includes("%")) return segment;
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The path of a Fetch API request's URL, without its query. */
function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return url.slice(start, query < 0 ? undefined : query);
}

export function directLane(
  routes: DirectRoute[],
  deps: { logger: Logger; record: RequestRecorder },
): DirectLane {
  const compiled = routes.map((route) => ({ route, segments: route.path.split("/") }));

  const lane: DirectLane = {
    routes,
    match(method, path) {
      const parts = path.split("/");
      for (const { route, segments } of compiled) {
        if (route.method !== method || segments.length !== parts.length) continue;
        const params: Record<string, string> = {};
        const matches = segments.every((segment, i) => {
          if (!segment.startsWith(":")) return segment === parts[i];
          params[segment.slice(1)] = decode(parts[i]);
          return parts[i] !== "";
        });
        if (matches) return { route, params };
      }
      return undefined;
    },

    async answer({ route, params }, method, request) {
      const started = performance.now();
      const requestId = requestIdFor(request.headers.get("x-request-id"));
      const headers: [string, string][] = [["x-request-id", requestId]];
      let log: LogRecord | undefined;
      let status: number;
      let body: unknown;
      try {
        ({ status, body } = await route.handle({
          request,
          params,
          header: (name, value) => headers.push([name.toLowerCase(), value]),
          log: (record) => log = record,
        }));
      } catch (err) {
        const answer = errorAnswer(err);
        if (answer.status >= 500) logFailure(deps.logger, requestId, err);
        for (const [name, value] of Object.entries(answer.headers)) {
          headers.push([name.toLowerCase(), value]);
        }
        ({ status, body } = answer);
      }
      headers.push(["content-type", "application/json"], ...HARDENING_HEADERS);
      deps.record({ requestId, method, route: route.path, status, started, log });
      return { status, headers, body: JSON.stringify(body) };
    },

    fetch(request) {
      const matched = lane.match(request.method, pathOf(request.url));
      if (!matched) return undefined;
      return lane.answer(matched, request.method, request).then(({ status, headers, body }) =>
        new Response(body, { status, headers })
      );
    },
  };
  return lane;
}
