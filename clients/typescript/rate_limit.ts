// Reads the RateLimit-Policy and RateLimit header fields (draft-ietf-httpapi-ratelimit-headers)
// and Retry-After off an answer, so that a client can slow down before the service refuses it.

/** A quota the service announced with an answer. */
export interface RateLimit {
  /** The quota's name: `reads`, `writes`, `live-tests` or `pulls` (the tenant's), `webhook`. */
  policy: string;
  /** Requests allowed a window (`q`). */
  limit: number;
  /** The window, in seconds (`w`). */
  windowSeconds: number;
  /** Requests left in this window (`r`); at 0 the next one is refused with 429. */
  remaining: number;
  /** Seconds until the window ends and the quota is whole again (`t`). */
  resetSeconds: number;
}

/** The first item of a Structured Field list: its string name and integer parameters. */
function firstItem(
  field: string | null,
): { name: string; params: Map<string, number> } | undefined {
  const match = field && /^\s*"([^"\\]*)"((?:\s*;\s*[a-z][a-z0-9_.*-]*=-?\d+)*)/.exec(field);
  if (!match) return undefined;
  const params = new Map<string, number>();
  for (const [, key, value] of match[2].matchAll(/;\s*([a-z][a-z0-9_.*-]*)=(-?\d+)/g)) {
    params.set(key, Number(value));
  }
  return { name: match[1], params };
}

/**
 * The quota an answer announced, or undefined when it announced none (the operator turned that
 * limit off, or the request was refused before it was counted, such as a 401).
 *
 * @example
 * ```ts
 * const { data, response } = await matcher.GET("/v1/discovery/aggregator-connections");
 * const limit = readRateLimit(response.headers);
 * if (limit && limit.remaining === 0) await sleep(limit.resetSeconds * 1000);
 * ```
 */
export function readRateLimit(headers: Headers): RateLimit | undefined {
  const policy = firstItem(headers.get("RateLimit-Policy"));
  const current = firstItem(headers.get("RateLimit"));
  if (!policy || !current || policy.name !== current.name) return undefined;
  const q = policy.params.get("q");
  const r = current.params.get("r");
  if (q === undefined || r === undefined) return undefined;
  return {
    policy: policy.name,
    limit: q,
    windowSeconds: policy.params.get("w") ?? 0,
    remaining: r,
    resetSeconds: current.params.get("t") ?? 0,
  };
}

/** `Retry-After` in seconds (the service sends it with 429 and 503), or undefined. */
export function retryAfterSeconds(headers: Headers): number | undefined {
  const value = headers.get("Retry-After");
  return value !== null && /^\d+$/.test(value.trim()) ? Number(value) : undefined;
}
