// Re-seals every stored credential under the primary key, so that older keys can be retired.
import { type KeyRing, sealedKeyId } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import { sealCredential, unsealCredential } from "./credential.ts";

const BATCH = 200;

/**
 * Walks every aggregator row holding a credential (soft-deleted ones too: they still hold one) and
 * re-seals those sealed under another key. A row changed meanwhile is left as it is: it was just
 * sealed under the primary key anyway. Answers how many rows were examined and changed.
 */
export async function rewrapCredentials(
  sql: Sql,
  ring: KeyRing,
): Promise<{ examined: number; rewrapped: number }> {
  let examined = 0;
  let rewrapped = 0;
  let after = "00000000-0000-0000-0000-000000000000";
  while (true) {
    const rows = await sql<
      {
        id: string;
        tenant_id: string;
        connector_type: string;
        sealed_credential: Uint8Array<ArrayBuffer>;
      }[]
    >`
      select id, tenant_id, connector_type, sealed_credential from connections
      where kind = 'aggregator' and sealed_credential is not null and id > ${after}
      order by id limit ${BATCH}`;
    if (!rows.length) break;
    for (const row of rows) {
      examined++;
      if (sealedKeyId(row.sealed_credential) === ring.primaryId) continue;
      const context = { tenantId: row.tenant_id, connectionId: row.id, vendor: row.connector_type };
      const credential = await unsealCredential(ring, context, row.sealed_credential);
      const sealed = await sealCredential(ring, context, credential);
      const result = await sql`
        update connections set sealed_credential = ${sealed}
        where id = ${row.id} and sealed_credential = ${row.sealed_credential}`;
      rewrapped += result.count;
    }
    after = rows[rows.length - 1].id;
  }
  return { examined, rewrapped };
}
