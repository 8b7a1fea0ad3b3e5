// Live webhook tokens remembered for a moment, so that a delivery costs no Deno KV read: a
// revocation reaches this process at once and every other replica within the time to live.
import {
  findTokenByHash,
  tokenHash,
  touchToken,
  type WebhookTokenRecord,
} from "./tokens.repository.ts";

export interface TokenCacheOptions {
  /** How long a token read from KV is trusted: the bound on a revocation reaching a replica. */
  ttlMs: number;
  now: () => number;
  /** Tokens remembered at most; the oldest read goes first. */
  maxEntries?: number;
}

export interface TokenCache {
  /** The live record of a raw token, from memory when it was read less than `ttlMs` ago. */
  find(token: string): Promise<WebhookTokenRecord | undefined>;
  /** Records a delivery to the token (lastUsedAt, at most one KV write a minute). */
  touch(record: WebhookTokenRecord, now: Date): Promise<void>;
  /** Drops the token `id` (revoked by this process): its next delivery reads KV again. */
  forget(id: string): void;
}

type Entry = { record: WebhookTokenRecord; until: number };

export function createTokenCache(kv: Deno.Kv, options: TokenCacheOptions): TokenCache {
  const max = options.maxEntries ?? 10_000;
  // Keyed by the token's hash, as KV keeps it: the raw token is not held past its request.
  const entries = new Map<string, Entry>();
  return {
    async find(token) {
      const hash = tokenHash(token);
      if (hash === undefined) return undefined;
      const now = options.now();
      const hit = entries.get(hash);
      if (hit && hit.until > now) return hit.record;
      entries.delete(hash);
      // Unknown tokens are not remembered: one minted a moment ago must work at once.
      const record = await findTokenByHash(kv, hash);
      if (record) {
        entries.set(hash, { record, until: now + options.ttlMs });
        if (entries.size > max) entries.delete(entries.keys().next().value!);
      }
      return record;
    },
    async touch(record, now) {
      // The remembered record learns the minute too, so the next delivery skips the KV read.
      record.lastUsedAt = await touchToken(kv, record, now);
    },
    forget(id) {
      for (const [hash, entry] of entries) if (entry.record.id === id) entries.delete(hash);
    },
  };
}
