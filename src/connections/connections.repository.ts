// Storage of aggregator connections: every query filters on the tenant and on kind = 'aggregator'.
import type postgres from "postgres";
import type { components } from "../../generated/types.ts";
import { isUniqueViolation } from "../db/errors.ts";
import type { Db, Sql } from "../db/pool.ts";
import type { Position } from "../lib/position.ts";
import { isUuid } from "../lib/uuid.ts";
import type { Vendor } from "../vendors/vendors.ts";

type Descriptor = components["schemas"]["AggregatorConnection"];

/** The descriptor as stored: its times as Dates, for keyset positions. */
export type ConnectionRow = Omit<Descriptor, "createdAt" | "updatedAt"> & {
  createdAt: Date;
  updatedAt: Date;
};

export type ConnectionFields = Pick<ConnectionRow, "configName" | "baseUrl" | "accountRef">;

/** How a route names a connection: by id, or by vendor and config name (tests, token mints). */
export type ConnectionKey = { id: string } | { vendor: Vendor; configName: string };

/** A live connection with its sealed credential, for the code that calls its vendor. */
export type SealedConnection = { row: ConnectionRow; sealed: Uint8Array<ArrayBuffer> };

/** Thrown when a live aggregator connection of the tenant already has the config name. */
export class ConfigNameTaken extends Error {
  constructor() {
    super("config name taken");
    this.name = "ConfigNameTaken";
  }
}

/** The columns a descriptor is made of: never the sealed credential. */
const COLUMNS = [
  "id",
  "connector_type",
  "config_name",
  "base_url",
  "account_ref",
  "created_at",
  "updated_at",
];

export function isConnectionId(id: string): boolean {
  return isUuid(id);
}

function toRow(r: Record<string, unknown>): ConnectionRow {
  return {
    id: r.id as string,
    vendor: r.connector_type as Vendor,
    configName: r.config_name as string,
    baseUrl: r.base_url as string,
    accountRef: r.account_ref as string,
    createdAt: r.created_at as Date,
    updatedAt: r.updated_at as Date,
  };
}

export async function insertConnection(
  sql: Db,
  tenantId: string,
  row: { id: string; vendor: Vendor } & ConnectionFields,
  sealed: Uint8Array,
): Promise<ConnectionRow> {
  try {
    const [r] = await sql`
      insert into connections (id, tenant_id, kind, connector_type, config_name, base_url,
                               account_ref, sealed_credential, created_at, updated_at)
      select ${row.id}, ${tenantId}, 'aggregator', ${row.vendor}, ${row.configName}, ${row.baseUrl},
             ${row.accountRef}, ${sealed}, now.ts, now.ts
      from (select date_trunc('milliseconds', clock_timestamp()) as ts) as now
      returning ${sql(COLUMNS)}`;
    return toRow(r);
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConfigNameTaken();
    throw err;
  }
}

/** Newest first; fetches `limit + 1` rows so the caller knows whether there is more. */
export async function listConnections(
  sql: Sql,
  tenantId: string,
  limit: number,
  after?: Position,
): Promise<ConnectionRow[]> {
  const rows = await sql`
    select ${sql(COLUMNS)} from connections
    where tenant_id = ${tenantId} and kind = 'aggregator' and deleted_at is null
      ${after ? sql`and (created_at, id) < (${after.createdAt}, ${after.id})` : sql``}
    order by created_at desc, id desc
    limit ${limit + 1}`;
  return rows.map(toRow);
}

/** The tenant's live aggregator connection named by `key`, or undefined. */
export async function findConnection(
  sql: Sql,
  tenantId: string,
  key: ConnectionKey,
): Promise<ConnectionRow | undefined> {
  const [r] = await findLive(sql, tenantId, key, sql``);
  return r ? toRow(r) : undefined;
}

/** `findConnection` with the sealed credential, for the code that calls the vendor. */
export async function findSealedConnection(
  sql: Sql,
  tenantId: string,
  key: ConnectionKey,
): Promise<SealedConnection | undefined> {
  const [r] = await findLive(sql, tenantId, key, sql`, sealed_credential`);
  return r ? { row: toRow(r), sealed: r.sealed_credential } : undefined;
}

function findLive(sql: Sql, tenantId: string, key: ConnectionKey, extra: postgres.Fragment) {
  if ("id" in key && !isConnectionId(key.id)) return Promise.resolve([]);
  return sql`
    select ${sql(COLUMNS)} ${extra} from connections
    ${"id" in key ? liveById(sql, tenantId, key.id) : liveByName(sql, tenantId, key)}`;
}

/**
 * Updates a live connection; `sealed` replaces the credential when given. Answers the row and its
 * fields as they were just before (the row is locked between the two reads, so a concurrent
 * update cannot slip in between), or undefined when there is no such live connection.
 */
export async function updateConnection(
  db: Db,
  tenantId: string,
  id: string,
  fields: ConnectionFields,
  sealed?: Uint8Array,
): Promise<{ row: ConnectionRow; previous: ConnectionFields } | undefined> {
  if (!isConnectionId(id)) return undefined;
  try {
    const [r] = await db`
      update connections set
        config_name = ${fields.configName},
        base_url = ${fields.baseUrl},
        account_ref = ${fields.accountRef},
        sealed_credential = coalesce(${sealed ?? null}::bytea, sealed_credential),
        updated_at = date_trunc('milliseconds', clock_timestamp())
      from (
        select id as old_id, config_name as old_config_name, base_url as old_base_url,
               account_ref as old_account_ref
        from connections ${liveById(db, tenantId, id)}
        for update) as old
      where connections.id = old.old_id
      returning ${db(COLUMNS)}, old_config_name, old_base_url, old_account_ref`;
    if (!r) return undefined;
    const previous = {
      configName: r.old_config_name,
      baseUrl: r.old_base_url,
      accountRef: r.old_account_ref,
    };
    return { row: toRow(r), previous };
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConfigNameTaken();
    throw err;
  }
}

/** Soft-deletes a live connection; answers its vendor, or undefined when there was none. */
export async function deleteConnection(
  sql: Db,
  tenantId: string,
  id: string,
): Promise<Vendor | undefined> {
  if (!isConnectionId(id)) return undefined;
  const [r] = await sql`
    update connections set deleted_at = clock_timestamp()
    ${liveById(sql, tenantId, id)}
    returning connector_type`;
  return r?.connector_type;
}

/** The condition for the tenant's live aggregator connection `id`. */
function liveById(db: Db, tenantId: string, id: string) {
  return db`where id = ${id} and tenant_id = ${tenantId} and kind = 'aggregator' and deleted_at is null`;
}

/** The condition for the live connection `(vendor, configName)` of the tenant. */
function liveByName(sql: Sql, tenantId: string, key: { vendor: Vendor; configName: string }) {
  return sql`
    where tenant_id = ${tenantId} and kind = 'aggregator' and deleted_at is null
      and connector_type = ${key.vendor} and config_name = ${key.configName}`;
}

/** The current config name of each of `ids` that is a live connection of the tenant. */
export async function configNames(
  sql: Sql,
  tenantId: string,
  ids: string[],
): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await sql`
    select id, config_name from connections
    where tenant_id = ${tenantId} and id = any(${ids}::uuid[])
      and kind = 'aggregator' and deleted_at is null`;
  return new Map(rows.map((r) => [r.id as string, r.config_name as string]));
}

/**
 * Inside a transaction, the account reference of each of these connections that is live, keyed by
 * `tenant/id`. The rows are share-locked in id order (so that two such transactions cannot
 * deadlock), and a delete of one waits until the transaction ends.
 */
export async function lockLiveConnections(tx: Db, ids: string[]): Promise<Map<string, string>> {
  const rows = await tx`
    select id, tenant_id, account_ref from connections
    where id = any(${[...new Set(ids)].sort()}::uuid[]) and kind = 'aggregator'
      and deleted_at is null
    order by id
    for share`;
  return new Map(rows.map((r) => [`${r.tenant_id}/${r.id}`, r.account_ref as string]));
}

/** One batch of every aggregator row holding a credential (deleted ones too), in id order. */
export async function sealedCredentialsAfter(
  sql: Sql,
  afterId: string,
  limit: number,
): Promise<{ id: string; tenantId: string; vendor: string; sealed: Uint8Array<ArrayBuffer> }[]> {
  const rows = await sql`
    select id, tenant_id, connector_type, sealed_credential from connections
    where kind = 'aggregator' and sealed_credential is not null and id > ${afterId}
    order by id limit ${limit}`;
  return rows.map((r) => ({
    id: r.id,
    tenantId: r.tenant_id,
    vendor: r.connector_type,
    sealed: r.sealed_credential,
  }));
}

/** Replaces a row's sealed credential if it still is `expected`; false when it changed meanwhile. */
export async function replaceSealedCredential(
  sql: Sql,
  id: string,
  expected: Uint8Array,
  sealed: Uint8Array,
): Promise<boolean> {
  const result = await sql`
    update connections set sealed_credential = ${sealed}
    where id = ${id} and sealed_credential = ${expected}`;
  return result.count === 1;
}
