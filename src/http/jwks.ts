// The identity provider's key set, fetched through jose, with refetches bounded while it fails.
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JWTVerifyGetKey,
  type RemoteJWKSetOptions,
} from "jose";

/** How long after a failed fetch nothing is fetched, unless AUTH_JWKS_RETRY_SECONDS says. */
export const DEFAULT_JWKS_RETRY_SECONDS = 5;

/** The key set could not be fetched, now or moments ago: the caller should retry, not re-login. */
export class JwksUnavailable extends Error {
  constructor(readonly retryAfterSeconds: number, options?: ErrorOptions) {
    super("the identity provider's key set is unavailable", options);
    this.name = "JwksUnavailable";
  }
}

/** True when jose's key lookup failed on fetching the set, not on the token's key id. */
function isFetchFailure(err: unknown): boolean {
  if (!(err instanceof errors.JOSEError)) return true; // a network error from fetch
  return err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid ||
    err.code === "ERR_JOSE_GENERIC"; // answered other than 200, or not JSON
}

/**
 * A key getter for `jwtVerify` over the JWKS at `url`. jose fetches whenever it holds no fresh set
 * (and, for an unknown key id, once its cooldown since the last fetch that worked has passed), so
 * while the set cannot be fetched, every request would fetch it again. Here a failed fetch opens a
 * window of `retrySeconds` in which nothing is fetched: a set still fresh in jose's cache verifies
 * the keys it holds, and whatever would need a fetch throws JwksUnavailable at once. An outage
 * thus costs at most one fetch per window (jose joins concurrent fetches into one).
 */
export function boundedRemoteJwks(
  url: URL,
  options: {
    retrySeconds: number;
    now?: () => number;
    /** jose's own options (its cooldown and cache age), for tests. */
    remote?: RemoteJWKSetOptions;
  },
): JWTVerifyGetKey {
  const { retrySeconds, now = Date.now } = options;
  const remote = createRemoteJWKSet(url, options.remote);
  let failedAt = -Infinity;
  return async function getKey(header, token) {
    const waitedMs = now() - failedAt;
    if (waitedMs < retrySeconds * 1000) {
      const retryAfter = Math.ceil(retrySeconds - waitedMs / 1000);
      const cached = remote.fresh ? remote.jwks() : undefined;
      if (!cached) throw new JwksUnavailable(retryAfter);
      try {
        return await createLocalJWKSet(cached)(header, token);
      } catch (err) {
        // A key id the cached set lacks may be a new key of the provider: that needs a fetch.
        if (err instanceof errors.JWKSNoMatchingKey) throw new JwksUnavailable(retryAfter);
        throw err;
      }
    }
    try {
      return await remote(header, token);
    } catch (err) {
      if (!isFetchFailure(err)) throw err;
      failedAt = now();
      throw new JwksUnavailable(retrySeconds, { cause: err });
    }
  };
}
