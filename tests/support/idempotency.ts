// Requests with an Idempotency-Key against a harness, their answers read whole, and the stored keys.
import type { Sql } from "../../src/db/pool.ts";
import type { Harness } from "./harness.ts";
import type { Json } from "./vendor_calls.ts";

/** An answer as a test compares it: status, body text, parsed JSON, and whether it was replayed. */
export interface KeyedAnswer {
  status: number;
  text: string;
  body: Json;
  /** The `Idempotency-Replayed` header: "true" on a replay, null otherwise. */
  replayed: string | null;
  headers: Headers;
}

/** A fresh key, as a client would make one. */
export const newKey = () => crypto.randomUUID();

/** Sends `method path` as `tenant` with `key` (none when undefined) and reads the answer. */
export async function keyed(
  h: Harness,
  tenant: string,
  method: string,
  path: string,
  init: { key?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
): Promise<KeyedAnswer> {
  const headers = new Headers(init.headers);
  if (init.key !== undefined) headers.set("Idempotency-Key", init.key);
  if (init.body !== undefined) headers.set("Content-Type", "application/json");
  const res = await h.request(path, {
    method,
    tenant,
    headers,
    json: init.json,
    body: init.body,
  });
  const text = await res.text();
  return {
    status: res.status,
    text,
    body: text && (res.headers.get("content-type") ?? "").includes("json")
      ? JSON.parse(text)
      : null,
    replayed: res.headers.get("Idempotency-Replayed"),
    headers: res.headers,
  };
}

/** The stored keys of a tenant, oldest first. */
export async function storedKeys(sql: Sql, tenantId?: string) {
  const rows = await sql<
    { tenant_id: string; key: string; state: string; status: number | null; body: Uint8Array }[]
  >`
    select tenant_id, key, state, status, body from idempotency_keys
    where ${tenantId === undefined ? sql`true` : sql`tenant_id = ${tenantId}`}
    order by created_at`;
  return [...rows];
}
