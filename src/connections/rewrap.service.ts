// Re-seals every stored credential under the primary key, so that older keys can be retired.
import { type KeyRing, sealedKeyId } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import { replaceSealedCredential, sealedCredentialsAfter } from "./connections.repository.ts";
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
    const rows = await sealedCredentialsAfter(sql, after, BATCH);
    if (!rows.length) break;
    for (const row of rows) {
      examined++;
      if (sealedKeyId(row.sealed) === ring.primaryId) continue;
      const context = { tenantId: row.tenantId, connectionId: row.id, vendor: row.vendor };
      const credential = await unsealCredential(ring, context, row.sealed);
      const sealed = await sealCredential(ring, context, credential);
      if (await replaceSealedCredential(sql, row.id, row.sealed, sealed)) rewrapped++;
    }
    after = rows[rows.length - 1].id;
  }
  return { examined, rewrapped };
}
