// Re-seals every stored credential under the primary key, so that older keys can be retired.
import { type KeyRing, sealedKeyId, SealError } from "../crypto/seal.ts";
import type { Sql } from "../db/pool.ts";
import { replaceSealedCredential, sealedCredentialsAfter } from "./connections.repository.ts";
import { sealCredential, unsealCredential } from "./credential.ts";

const BATCH = 200;

export interface RewrapReport {
  examined: number;
  rewrapped: number;
  /** Ids of the rows whose credential did not open with the ring (altered, or a key not in it). */
  unreadable: string[];
}

/**
 * Walks every aggregator row holding a credential (soft-deleted ones too: they still hold one) and
 * re-seals those sealed under another key. A row changed meanwhile is left as it is: it was just
 * sealed under the primary key anyway. A row whose credential does not open is left as it is and
 * named in the report, and the walk goes on: one bad blob must not keep every later row on a key
 * that is about to be retired.
 */
export async function rewrapCredentials(sql: Sql, ring: KeyRing): Promise<RewrapReport> {
  const report: RewrapReport = { examined: 0, rewrapped: 0, unreadable: [] };
  let after = "00000000-0000-0000-0000-000000000000";
  while (true) {
    const rows = await sealedCredentialsAfter(sql, after, BATCH);
    if (!rows.length) break;
    for (const row of rows) {
      report.examined++;
      try {
        if (sealedKeyId(row.sealed) === ring.primaryId) continue;
        const context = { tenantId: row.tenantId, connectionId: row.id, vendor: row.vendor };
        const credential = await unsealCredential(ring, context, row.sealed);
        const sealed = await sealCredential(ring, context, credential);
        if (await replaceSealedCredential(sql, row.id, row.sealed, sealed)) report.rewrapped++;
      } catch (err) {
        if (!(err instanceof SealError)) throw err;
        report.unreadable.push(row.id);
      }
    }
    after = rows[rows.length - 1].id;
  }
  return report;
}
