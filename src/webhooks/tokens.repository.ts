// All Deno KV access for webhook tokens. Only a token's SHA-256 is stored, never the token itself
// (nor its header secret: only that secret's SHA-256).
import { createHash } from "node:crypto";
import type { components } from "../../generated/types.ts";
import { commitKv } from "../db/kv.ts";
import { isUuid } from "../lib/uuid.ts";

/**
 * A token's metadata, as kept under its hash (for the receiver) and under its tenant: the spec's
 * WebhookToken with its tenant, without the connection's name (which can change; it is read from
 * Postgres when listing). `lastUsedAt` is to the minute.
 */
export type WebhookTokenRecord =
  & Omit<components["schemas"]["WebhookToken"], "configName" | "withHeaderSecret">
  & {
    tenantId: string;
    /** SHA-256 (hex) of the header secret every delivery must carry; absent when none. */
    headerSecretHash?: string;
  };

/** The value under BY_TENANT: the hash is what leads from an id to the receiver's key. */
type TenantEntry = { hash: string; record: WebhookTokenRecord };

const BY_HASH = "webhook_tokens";
const BY_TENANT = "webhook_tokens_by_tenant";
const BY_CONNECTION = "webhook_tokens_by_connection";

const TOKEN_FORM = /^mwh_[A-Za-z0-9_-]{43}$/;

/** A checked write that keeps losing races this many times is a fault, not contention. */
const MAX_ATTEMPTS = 10;

/** "mwh_" + base64url(32 random bytes), no padding. */
export function newTokenValue(): string {
  return "mwh_" +
    crypto.getRandomValues(new Uint8Array(32)).toBase64({
      alphabet: "base64url",
      omitPadding: true,
    });
}

/** Lowercase hex SHA-256 of the token text. */
export function hashToken(token: string): string {
  // node:crypto's synchronous hash: for a 47-byte token, WebCrypto's async digest costs about 25
  // times as much, on every webhook delivery.
  return createHash("sha256").update(token).digest("hex");
}

/** Stores only the hash; atomic (kv.atomic with a check that the hash key is new). */
export async function storeToken(
  kv: Deno.Kv,
  record: WebhookTokenRecord,
  hash: string,
): Promise<void> {
  const result = await commitKv(
    kv.atomic()
      .check({ key: [BY_HASH, hash], versionstamp: null })
      .check({ key: [BY_TENANT, record.tenantId, record.id], versionstamp: null })
      .set([BY_HASH, hash], record)
      .set([BY_TENANT, record.tenantId, record.id], { hash, record } satisfies TenantEntry)
      .set([BY_CONNECTION, record.connectionId, record.id], hash),
  );
  if (!result.ok) throw new Error("a webhook token with this hash or id is already stored");
}

/**
 * The live record for a raw token, or undefined. A token not of the form mwh_ + 43 base64url
 * chars answers undefined without any KV read.
 */
export async function findToken(
  kv: Deno.Kv,
  token: string,
): Promise<WebhookTokenRecord | undefined> {
  const hash = tokenHash(token);
  return hash === undefined ? undefined : await findTokenByHash(kv, hash);
}

/** The hash a raw token is kept under, or undefined for text that cannot be a token. */
export function tokenHash(token: string): string | undefined {
  // Anyone on the internet can call the receiver, so junk must cost no KV read.
  return TOKEN_FORM.test(token) ? hashToken(token) : undefined;
}

/** The live record kept under a token's hash, or undefined. */
export async function findTokenByHash(
  kv: Deno.Kv,
  hash: string,
): Promise<WebhookTokenRecord | undefined> {
  return (await kv.get<WebhookTokenRecord>([BY_HASH, hash])).value ?? undefined;
}

/**
 * Newest first; `after` is the last item of the previous page. Fetches limit+1 so the caller
 * knows hasMore.
 */
export async function listTokens(
  kv: Deno.Kv,
  tenantId: string,
  limit: number,
  after?: { id: string },
): Promise<WebhookTokenRecord[]> {
  // Ids are UUIDv7, so key order is creation order; `end` is exclusive, so `after` is skipped.
  const prefix = [BY_TENANT, tenantId];
  const selector = after ? { prefix, end: [...prefix, after.id] } : { prefix };
  const records: WebhookTokenRecord[] = [];
  for await (const entry of kv.list<TenantEntry>(selector, { reverse: true, limit: limit + 1 })) {
    records.push(entry.value.record);
  }
  return records;
}

/** The tenant's live token `id`, or undefined; a non-UUID is never an id. */
export async function findTokenById(
  kv: Deno.Kv,
  tenantId: string,
  id: string,
): Promise<WebhookTokenRecord | undefined> {
  if (!isUuid(id)) return undefined;
  return (await kv.get<TenantEntry>([BY_TENANT, tenantId, id])).value?.record;
}

/** Deletes every key of the tenant's token `id`; false when there is none. */
export function revokeToken(kv: Deno.Kv, tenantId: string, id: string): Promise<boolean> {
  // A path parameter of any length could exceed KV's key size; a non-UUID is never an id.
  if (!isUuid(id)) return Promise.resolve(false);
  return changeEntry(kv, tenantId, id, (op, { hash, record }) => {
    op.delete([BY_HASH, hash])
      .delete([BY_TENANT, tenantId, id])
      .delete([BY_CONNECTION, record.connectionId, id]);
    return true;
  });
}

/** Revokes every token bound to the connection; answers how many. */
export async function revokeConnectionTokens(
  kv: Deno.Kv,
  tenantId: string,
  connectionId: string,
): Promise<number> {
  const ids: string[] = [];
  for await (const entry of kv.list<string>({ prefix: [BY_CONNECTION, connectionId] })) {
    ids.push(entry.key[2] as string);
  }
  let revoked = 0;
  // revokeToken looks the id up under this tenant, so another tenant's connection revokes nothing.
  for (const id of ids) if (await revokeToken(kv, tenantId, id)) revoked++;
  return revoked;
}

/**
 * Records a delivery: sets lastUsedAt to `now` (truncated to the minute) unless it already holds
 * that minute, so a burst costs at most one KV write a minute. Answers the minute it holds now.
 */
export async function touchToken(
  kv: Deno.Kv,
  record: WebhookTokenRecord,
  now: Date,
): Promise<string> {
  const minute = new Date(Math.floor(now.getTime() / 60_000) * 60_000).toISOString();
  // `>=`, not `===`: a replica with a slower clock must not move lastUsedAt back.
  const isCurrent = (r: WebhookTokenRecord) => r.lastUsedAt !== null && r.lastUsedAt >= minute;
  if (isCurrent(record)) return record.lastUsedAt!;
  await changeEntry(kv, record.tenantId, record.id, (op, { hash, record: stored }) => {
    if (isCurrent(stored)) return false;
    const touched = { ...stored, lastUsedAt: minute };
    op.set([BY_HASH, hash], touched)
      .set(
        [BY_TENANT, record.tenantId, record.id],
        { hash, record: touched } satisfies TenantEntry,
      );
    return true;
  });
  return minute;
}

/**
 * Reads the tenant's entry for token `id` and commits what `write` adds to an atomic operation
 * checked against that read, reading again after a lost race. The check is what keeps a touch
 * from bringing back a token revoked meanwhile. False when there is no entry or `write` declines.
 */
async function changeEntry(
  kv: Deno.Kv,
  tenantId: string,
  id: string,
  write: (op: Deno.AtomicOperation, entry: TenantEntry) => boolean,
): Promise<boolean> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const entry = await kv.get<TenantEntry>([BY_TENANT, tenantId, id]);
    if (entry.value === null) return false;
    const op = kv.atomic().check(entry);
    if (!write(op, entry.value)) return false;
    if ((await commitKv(op)).ok) return true;
  }
  throw new Error("a webhook token kept changing while it was being written");
}
