// The Matcher discovery API client: openapi-fetch typed by the paths generated from openapi.yaml.
import createClient, { type Client } from "openapi-fetch";
import { type Paginate, paginate } from "./paginate.ts";
import { addIdempotencyKey, retryingFetch } from "./retry.ts";
import type { components, paths } from "./types.ts";

export type { components, operations, paths } from "./types.ts";
export { MatcherApiError } from "./api_error.ts";
export { type RateLimit, readRateLimit, retryAfterSeconds } from "./rate_limit.ts";
export type {
  ListItem,
  ListPath,
  Page,
  Paginate,
  PaginateArgs,
  PaginateOptions,
} from "./paginate.ts";

/**
 * A client whose every call, body, parameter, answer and error is typed by openapi.yaml, plus
 * `paginate`, which walks a list operation's pages for the caller.
 */
export type MatcherClient = Client<paths> & { paginate: Paginate };

/** The error envelope every failed call answers with (`error` of a call's result). */
export type MatcherError = components["schemas"]["Error"];

export interface MatcherClientOptions {
  /** Where the service runs, e.g. `https://matcher.example.com` (no trailing `/v1/...`). */
  baseUrl: string;
  /**
   * The tenant's bearer JWT, or a function that answers one; the function is called before each
   * request, so a caller can refresh tokens there.
   */
  token: string | (() => string | Promise<string>);
  /** Sends each request; defaults to the global fetch. */
  fetch?: (request: Request) => Promise<Response>;
  /**
   * How many times to send a POST, PUT or DELETE again when its answer was lost (the connection
   * failed) or asks to try again (409 `MTCH-1409`: the first request with its key still runs;
   * 502, 503, 504). With retries, every such call carries an `Idempotency-Key` (a fresh UUID,
   * unless the call gives its own in `params.header`), the same on each attempt, so the service
   * runs it once and answers a repeat with the first answer (`Idempotency-Replayed: true`).
   * 0 by default: no key is added and nothing is sent twice.
   */
  retries?: number;
}

/**
 * A typed client for the discovery API.
 *
 * @example
 * ```ts
 * const matcher = createMatcherClient({ baseUrl: "http://127.0.0.1:8080", token: jwt });
 * const { data, error } = await matcher.GET("/v1/discovery/aggregator-connections", {
 *   params: { query: { limit: 20 } },
 * });
 * for await (const connection of matcher.paginate("/v1/discovery/aggregator-connections")) {
 *   console.log(connection.id);
 * }
 * ```
 */
export function createMatcherClient(options: MatcherClientOptions): MatcherClient {
  const retries = options.retries ?? 0;
  const send = options.fetch ?? ((request: Request) => globalThis.fetch(request));
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: retries > 0 ? retryingFetch(send, retries) : options.fetch,
  });
  const token = options.token;
  client.use({
    async onRequest({ request }) {
      const value = typeof token === "string" ? token : await token();
      request.headers.set("Authorization", `Bearer ${value}`);
      return retries > 0 ? addIdempotencyKey(request) : request;
    },
  });
  const paginateThis: Paginate = (path, ...rest) => paginate(client, path, ...rest);
  return Object.assign(client, { paginate: paginateThis });
}
