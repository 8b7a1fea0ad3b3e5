// What every vendor client is built from: where to call, with which credential, through what.
import type { Credential } from "./aggregator.ts";
import type { VendorHttp } from "./vendor_http.ts";

export interface ClientContext {
  /** The connection's normalized baseUrl (origin and path, no trailing slash). */
  baseUrl: string;
  credential: Credential;
  http: VendorHttp;
  now: () => number;
  /** Pages one walk of a list may read (MATCHER_PULL_MAX_PAGES_PER_WALK): no vendor walk is endless. */
  maxPagesPerWalk: number;
}

/** `path` (with `query`) under the connection's base URL, which may itself carry a path. */
export function urlUnder(
  baseUrl: string,
  path: string,
  query: Record<string, string | undefined> = {},
): URL {
  const url = new URL(path.replace(/^\/+/, ""), `${baseUrl}/`);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(name, value);
  }
  return url;
}
