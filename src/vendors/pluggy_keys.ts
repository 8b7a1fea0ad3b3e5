// Pluggy API keys cached per credential until shortly before they expire, shared by all clients.
import { decodeJwt } from "jose";

/** Pluggy documents a two-hour key; used when a key's `exp` cannot be read. */
const DEFAULT_LIFETIME_MS = 2 * 60 * 60 * 1000;
/** Renew this long before `exp` (at most half the key's remaining life). */
const RENEW_MARGIN_MS = 5 * 60 * 1000;

interface Entry {
  apiKey: string;
  renewAt: number;
}

export interface PluggyKeyCache {
  /** A cached key still good at `now`, if any. */
  get(id: string, now: number): string | undefined;
  /** Caches a fresh key, reading its `exp` claim to know when to renew it. */
  put(id: string, apiKey: string, now: number): void;
  /** Drops `apiKey` (after a 401), unless another call already replaced it. */
  forget(id: string, apiKey: string): void;
  /** The authentication in flight for `id`, so concurrent calls share one `POST /auth`. */
  pending: Map<string, Promise<string>>;
}

/** The cache key of a credential: a hash, so the cache never holds the secret as a map key. */
export async function credentialId(baseUrl: string, clientId: string, secret: string) {
  const data = new TextEncoder().encode(JSON.stringify([baseUrl, clientId, secret]));
  return (new Uint8Array(await crypto.subtle.digest("SHA-256", data))).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

function renewAt(apiKey: string, now: number): number {
  let expiresAt = now + DEFAULT_LIFETIME_MS;
  try {
    const { exp } = decodeJwt(apiKey);
    if (typeof exp === "number") expiresAt = exp * 1000;
  } catch {
    // Not a readable JWT: assume the documented lifetime.
  }
  return expiresAt - Math.min(RENEW_MARGIN_MS, Math.max(0, expiresAt - now) / 2);
}

export function createPluggyKeyCache(maxEntries = 1000): PluggyKeyCache {
  const entries = new Map<string, Entry>();
  return {
    get(id, now) {
      const entry = entries.get(id);
      if (entry && entry.renewAt > now) return entry.apiKey;
      if (entry) entries.delete(id);
      return undefined;
    },
    put(id, apiKey, now) {
      entries.delete(id);
      entries.set(id, { apiKey, renewAt: renewAt(apiKey, now) });
      if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    },
    forget(id, apiKey) {
      if (entries.get(id)?.apiKey === apiKey) entries.delete(id);
    },
    pending: new Map(),
  };
}
