// Key rotation: `deno task keys:rewrap` re-seals every credential under the new primary key.
import assert from "node:assert/strict";
import { unsealCredential } from "../../src/connections/credential.ts";
import { createKeyRing, sealedKeyId } from "../../src/crypto/seal.ts";
import { newTenant, pluggyBody, randomKey, startHarness } from "../support/harness.ts";
import { cleanEnv, runTask } from "../support/process.ts";

Deno.test("keys:rewrap moves every credential to the primary key and reports the count", async () => {
  const k1 = { id: "k1", key: randomKey() };
  const k2 = { id: "k2", key: randomKey() };
  const h = await startHarness({ sealKeys: [k1] });
  const dataDir = await Deno.makeTempDir({ prefix: "matcher-rewrap-" });
  try {
    const tenant = newTenant();
    const ids: string[] = [];
    for (const name of ["one", "two", "three"]) {
      const res = await h.request("/v1/discovery/aggregator-connections", {
        method: "POST",
        tenant,
        json: pluggyBody({ configName: name, clientId: `id-${name}`, secret: `secret-${name}` }),
      });
      assert.equal(res.status, 201);
      ids.push((await res.json()).id);
    }
    // A soft-deleted row still holds a credential sealed under the old key: it is re-sealed too.
    const del = await h.request(`/v1/discovery/aggregator-connections/${ids[2]}`, {
      method: "DELETE",
      tenant,
    });
    assert.equal(del.status, 204);

    const env = cleanEnv({
      DATABASE_URL: h.databaseUrl,
      MATCHER_DATA_DIR: dataDir,
      AUTH_JWT_SECRET: "not-used-by-this-task",
      MATCHER_SEAL_KEYS: `k2:${k2.key.toBase64()},k1:${k1.key.toBase64()}`,
    });
    const first = await runTask(["keys:rewrap"], env);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /rewrapped 3 of 3 credentials under key "k2"/);
    const second = await runTask(["keys:rewrap"], env);
    assert.match(second.stdout, /rewrapped 0 of 3 credentials/);
    for (const out of [first, second]) {
      assert.ok(!`${out.stdout}${out.stderr}`.includes(k2.key.toBase64()), "no key in output");
    }

    // Only k2 is needed now: k1 can be retired.
    const onlyK2 = await createKeyRing([k2]);
    const rows = await h.sql<{ id: string; sealed_credential: Uint8Array<ArrayBuffer> }[]>`
      select id, sealed_credential from connections order by config_name`;
    assert.equal(rows.length, 3);
    for (const row of rows) {
      assert.equal(sealedKeyId(row.sealed_credential), "k2");
      const credential = await unsealCredential(onlyK2, {
        tenantId: tenant,
        connectionId: row.id,
        vendor: "pluggy",
      }, row.sealed_credential);
      assert.match(credential.secret, /^secret-(one|two|three)$/);
    }
  } finally {
    await h.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
