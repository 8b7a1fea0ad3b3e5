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

Deno.test("keys:rewrap goes on past credentials it cannot open, names them by id, and exits non-zero", async () => {
  const k1 = { id: "k1", key: randomKey() };
  const k2 = { id: "k2", key: randomKey() };
  const h = await startHarness({ sealKeys: [k1] });
  const dataDir = await Deno.makeTempDir({ prefix: "matcher-rewrap-" });
  try {
    const tenant = newTenant();
    const ids: string[] = [];
    for (const name of ["one", "two", "three", "four"]) {
      const res = await h.request("/v1/discovery/aggregator-connections", {
        method: "POST",
        tenant,
        json: pluggyBody({ configName: name, clientId: `id-${name}`, secret: `secret-${name}` }),
      });
      assert.equal(res.status, 201);
      ids.push((await res.json()).id);
    }
    ids.sort(); // the order keys:rewrap walks in
    // The first row in that order is altered, the third sealed for another row: each stopped the
    // whole run before, leaving every later row under the old key.
    const blob = async (id: string) =>
      new Uint8Array(
        (await h.sql`select sealed_credential from connections where id = ${id}`)[0]
          .sealed_credential,
      );
    const altered = await blob(ids[0]);
    altered[altered.length - 1] ^= 0xff;
    await h.sql`update connections set sealed_credential = ${altered} where id = ${ids[0]}`;
    await h.sql`update connections set sealed_credential = ${await blob(ids[1])} where id = ${
      ids[2]
    }`;

    const env = cleanEnv({
      DATABASE_URL: h.databaseUrl,
      MATCHER_DATA_DIR: dataDir,
      AUTH_JWT_SECRET: "not-used-by-this-task",
      MATCHER_SEAL_KEYS: `k2:${k2.key.toBase64()},k1:${k1.key.toBase64()}`,
    });
    const run = await runTask(["keys:rewrap"], env);
    assert.notEqual(run.code, 0, "a credential left unopened fails the run");
    assert.match(run.stdout, /rewrapped 2 of 4 credentials under key "k2"/);
    const output = `${run.stdout}${run.stderr}`;
    assert.match(output, /2 credentials could not be opened/);
    for (const id of [ids[0], ids[2]]) assert.ok(output.includes(id), `names ${id}`);
    for (const id of [ids[1], ids[3]]) assert.ok(!output.includes(id), `does not name ${id}`);
    for (
      const secret of ["secret-one", "secret-two", "secret-three", "secret-four", k1.key.toBase64()]
    ) {
      assert.ok(!output.includes(secret), "no secret or key in the output");
    }
    assert.ok(!output.includes(altered.toBase64()), "no sealed blob in the output");

    // The rows that opened are under k2 now; the others are untouched.
    const keyOf = async (id: string) => sealedKeyId(await blob(id));
    assert.deepEqual(await Promise.all(ids.map(keyOf)), ["k1", "k2", "k1", "k2"]);
    assert.deepEqual(await blob(ids[0]), altered);
  } finally {
    await h.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
