// AES-256-GCM sealing under a key ring; the key id travels inside the blob so old keys keep opening.

const VERSION = 1;
const NONCE_BYTES = 12;

type Bytes = Uint8Array<ArrayBuffer>;

/** A raw 32-byte AES key and the id that names it inside every blob it seals. */
export type SealKey = { id: string; key: Uint8Array };

export interface KeyRing {
  primaryId: string;
  keys: Map<string, CryptoKey>;
}

export class SealError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SealError";
  }
}

/** Imports the raw keys once; the first is the primary. The CryptoKeys are not extractable. */
export async function createKeyRing(sealKeys: SealKey[]): Promise<KeyRing> {
  if (!sealKeys.length) throw new SealError("the seal key ring is empty");
  const keys = new Map<string, CryptoKey>();
  for (const { id, key } of sealKeys) {
    if (key.length !== 32) throw new SealError(`the seal key "${id}" is not 32 bytes (AES-256)`);
    if (keys.has(id)) throw new SealError(`the seal key id "${id}" appears twice`);
    keys.set(
      id,
      await crypto.subtle.importKey("raw", key as Bytes, "AES-GCM", false, [
        "encrypt",
        "decrypt",
      ]),
    );
  }
  return { primaryId: sealKeys[0].id, keys };
}

/**
 * Seals `plaintext` under the primary key with a fresh random nonce, binding `aad`.
 * Blob layout: version (1 byte), key id length (1), key id, nonce (12), ciphertext with GCM tag.
 */
export async function seal(ring: KeyRing, plaintext: Bytes, aad: Bytes): Promise<Bytes> {
  const keyId = new TextEncoder().encode(ring.primaryId);
  const nonce = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: aad },
      ring.keys.get(ring.primaryId)!,
      plaintext,
    ),
  );
  const blob = new Uint8Array(2 + keyId.length + NONCE_BYTES + ciphertext.length);
  blob.set([VERSION, keyId.length]);
  blob.set(keyId, 2);
  blob.set(nonce, 2 + keyId.length);
  blob.set(ciphertext, 2 + keyId.length + NONCE_BYTES);
  return blob;
}

/** The id of the key that sealed `blob`. */
export function sealedKeyId(blob: Uint8Array): string {
  if (blob.length < 2 || blob[0] !== VERSION || blob.length < 2 + blob[1] + NONCE_BYTES + 16) {
    throw new SealError("not a sealed blob");
  }
  return new TextDecoder().decode(blob.subarray(2, 2 + blob[1]));
}

/** Opens a blob; fails when the key is unknown, the blob was altered or `aad` differs. */
export async function unseal(ring: KeyRing, blob: Bytes, aad: Bytes): Promise<Bytes> {
  const keyId = sealedKeyId(blob);
  const key = ring.keys.get(keyId);
  if (!key) throw new SealError(`the seal key "${keyId}" is not in the key ring`);
  const start = 2 + blob[1];
  try {
    return new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: blob.subarray(start, start + NONCE_BYTES), additionalData: aad },
        key,
        blob.subarray(start + NONCE_BYTES),
      ),
    );
  } catch {
    throw new SealError("the sealed blob does not open with this key and context");
  }
}
