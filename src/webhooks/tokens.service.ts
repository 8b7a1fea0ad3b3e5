// Webhook token rules: a token is bound to a live connection of the tenant and shown only once.
import type { components } from "../../generated/types.ts";
import * as connections from "../connections/connections.repository.ts";
import { requireConnection } from "../connections/connections.service.ts";
import type { Sql } from "../db/pool.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import { AppError } from "../lib/app_error.ts";
import { uuidV7 } from "../lib/uuid_v7.ts";
import { hashHeaderSecret, headerToConfigure, newHeaderSecret } from "./header_secret.ts";
import type { TokenCache } from "./token_cache.ts";
import * as store from "./tokens.repository.ts";

type Schemas = components["schemas"];

export interface TokenDeps {
  sql: Sql;
  kv: Deno.Kv;
  /** MATCHER_PUBLIC_URL without a trailing slash: the base of every minted webhookUrl. */
  publicUrl: string;
  /** The receiver's remembered tokens: a revoked one is forgotten here at once. */
  tokenCache: TokenCache;
}

function tokenNotFound(): AppError {
  return new AppError("webhook_token_not_found", "No such webhook token.");
}

/**
 * Mints a token for the live connection `(vendor, connection_config_name)`; 404 when none. With
 * `withHeaderSecret`, the token also gets a header secret, shown with it this once.
 */
export async function mintToken(
  deps: TokenDeps,
  tenantId: string,
  body: Schemas["MintWebhookTokenRequest"],
): Promise<Schemas["MintedWebhookToken"]> {
  const connection = await requireConnection(deps.sql, tenantId, {
    vendor: body.vendor,
    configName: body.connection_config_name,
  });
  const nowMs = Date.now();
  const record: store.WebhookTokenRecord = {
    // The id carries the same millisecond as createdAt, so id order and the cursor's order agree.
    id: uuidV7(nowMs),
    tenantId,
    vendor: connection.vendor,
    connectionId: connection.id,
    createdAt: new Date(nowMs).toISOString(),
    lastUsedAt: null,
  };
  const secret = body.withHeaderSecret ? newHeaderSecret() : undefined;
  if (secret) record.headerSecretHash = hashHeaderSecret(secret);
  const token = store.newTokenValue();
  await store.storeToken(deps.kv, record, store.hashToken(token));
  return {
    id: record.id,
    token,
    webhookUrl: `${deps.publicUrl}/v1/discovery/webhooks/${record.vendor}/${token}`,
    vendor: record.vendor,
    createdAt: record.createdAt,
    ...(secret ? { header: headerToConfigure(record.vendor, secret) } : {}),
  };
}

/** One page of the tenant's live tokens, newest first, each with its connection's name now. */
export async function listTokens(
  deps: TokenDeps,
  tenantId: string,
  query: { limit: number; cursor?: string },
): Promise<Schemas["WebhookTokenPage"]> {
  const after = afterCursor(query.cursor);
  const records = await store.listTokens(deps.kv, tenantId, query.limit, after);
  const connectionIds = [...new Set(records.slice(0, query.limit).map((r) => r.connectionId))];
  const names = await connections.configNames(deps.sql, tenantId, connectionIds);
  const rows = records.map((r) => ({ ...r, createdAt: new Date(r.createdAt) }));
  // The cursor comes from every fetched token, so leaving some out never skips or repeats one.
  const page = toPage(rows, query.limit, (row): Schemas["WebhookToken"] | undefined => {
    const configName = names.get(row.connectionId);
    // A token outlives its connection only when a delete failed between Postgres and KV.
    if (configName === undefined) return undefined;
    return {
      id: row.id,
      vendor: row.vendor,
      connectionId: row.connectionId,
      configName,
      withHeaderSecret: row.headerSecretHash !== undefined,
      createdAt: row.createdAt.toISOString(),
      lastUsedAt: row.lastUsedAt,
    };
  });
  return { ...page, items: page.items.filter((item) => item !== undefined) };
}

/** Revokes the tenant's token `id`; any id that is not one is the same 404. */
export async function revokeToken(deps: TokenDeps, tenantId: string, id: string): Promise<void> {
  if (!(await store.revokeToken(deps.kv, tenantId, id))) throw tokenNotFound();
  deps.tokenCache.forget(id);
}
