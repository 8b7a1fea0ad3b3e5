// Webhook token rules: a token is bound to a live connection of the tenant and shown only once.
import type { components } from "../../generated/types.ts";
import { type AuditDeps, newAudit, recordKvChange } from "../audit/audit.service.ts";
import * as connections from "../connections/connections.repository.ts";
import { requireConnection } from "../connections/connections.service.ts";
import { afterCursor, toPage } from "../http/pagination.ts";
import { AppError } from "../lib/app_error.ts";
import type { Caller } from "../lib/caller.ts";
import { uuidV7 } from "../lib/uuid_v7.ts";
import { hashHeaderSecret, headerToConfigure, newHeaderSecret } from "./header_secret.ts";
import type { TokenCache } from "./token_cache.ts";
import * as store from "./tokens.repository.ts";

type Schemas = components["schemas"];

/** With AuditDeps: every mint and revoke is recorded, around its KV commit (recordKvChange). */
export interface TokenDeps extends AuditDeps {
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
 * `withHeaderSecret`, the token also gets a header secret, shown with it this once. A mint whose
 * audit record does not commit is undone (nobody has seen the token yet).
 */
export async function mintToken(
  deps: TokenDeps,
  caller: Caller,
  body: Schemas["MintWebhookTokenRequest"],
): Promise<Schemas["MintedWebhookToken"]> {
  const { tenantId } = caller;
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
  const audit = newAudit(deps, caller, {
    action: "webhook_token.minted",
    target: { type: "webhook_token", id: record.id },
    connectionId: connection.id,
    vendor: connection.vendor,
    details: { withHeaderSecret: secret !== undefined },
  });
  await recordKvChange(deps, audit, {
    commit: () => store.storeToken(deps.kv, record, store.hashToken(token)),
    undo: async () => {
      await store.revokeToken(deps.kv, tenantId, record.id);
    },
  });
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

/**
 * Revokes the tenant's token `id`; any id that is not one is the same 404. A revoke stands even
 * when its audit record has to be written again after it (recordKvChange).
 */
export async function revokeToken(deps: TokenDeps, caller: Caller, id: string): Promise<void> {
  const { tenantId } = caller;
  const record = await store.findTokenById(deps.kv, tenantId, id);
  if (!record) throw tokenNotFound();
  const audit = newAudit(deps, caller, {
    action: "webhook_token.revoked",
    target: { type: "webhook_token", id: record.id },
    connectionId: record.connectionId,
    vendor: record.vendor,
    details: { withHeaderSecret: record.headerSecretHash !== undefined },
  });
  try {
    await recordKvChange(deps, audit, {
      async commit() {
        // Revoked by someone else since it was read: nothing to record.
        if (!(await store.revokeToken(deps.kv, tenantId, id))) throw tokenNotFound();
      },
    });
  } finally {
    // Whatever the record's fate, a token KV no longer holds must stop working here at once.
    deps.tokenCache.forget(id);
  }
}
