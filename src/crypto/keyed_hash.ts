// HMAC-SHA-256 under keys derived from the seal keys: for values that are compared, never read back.

type Bytes = Uint8Array<ArrayBuffer>;

/** A raw 32-byte key and the id that names it (the seal key ring's keys). */
export type HashKeySource = { id: string; key: Uint8Array };

export interface HashRing {
  /** The key every new hash is made with (the seal ring's primary). */
  primaryId: string;
  keys: Map<string, CryptoKey>;
}

/**
 * Derives one HMAC key per seal key with HKDF, `purpose` as its info, so that a hash is useless for
 * anything else and the seal keys themselves never sign anything. A plain SHA-256 of a value with
 * little entropy (a weak secret inside a request body) could be guessed back by whoever reads the
 * database; without the key it cannot.
 */
export async function createHashRing(sources: HashKeySource[], purpose: string): Promise<HashRing> {
  if (!sources.length) throw new Error("the hash key ring is empty");
  const keys = new Map<string, CryptoKey>();
  const info = new TextEncoder().encode(purpose);
  for (const { id, key } of sources) {
    const base = await crypto.subtle.importKey("raw", key as Bytes, "HKDF", false, ["deriveKey"]);
    keys.set(
      id,
      await crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(32), info },
        base,
        { name: "HMAC", hash: "SHA-256", length: 256 },
        false,
        ["sign"],
      ),
    );
  }
  return { primaryId: sources[0].id, keys };
}

/** The HMAC of `data` under the key `keyId`; undefined when the ring no longer holds that key. */
export async function keyedHash(
  ring: HashRing,
  keyId: string,
  data: Bytes,
): Promise<Uint8Array | undefined> {
  const key = ring.keys.get(keyId);
  if (!key) return undefined;
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data));
}
