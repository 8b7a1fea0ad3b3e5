// Idempotency keys at rest and over time: sealed answers, keyed fingerprints, takeover, expiry, rotation.
import assert from "node:assert/strict";
import { createKeyRing } from "../../src/crypto/seal.ts";
import { fingerprintBytes } from "../../src/idempotency/fingerprint.ts";
import {
  createIdempotency,
  finishRequest,
  startRequest,
  takeoverBound,
} from "../../src/idempotency/idempotency.service.ts";
import { jsonLogger } from "../../src/lib/logger.ts";
import { newTenant, pluggyBody, randomKey, startHarness } from "../support/harness.ts";
import { keyed, newKey, storedKeys } from "../support/idempotency.ts";
import { databaseTexts, encodings, hashForms, hits } from "../support/leaks.ts";
import { testClock } from "../support/pulls.ts";

const API = "/v1/discovery";
const CONNECTIONS = `${API}/aggregator-connections`;

/** A text's or bytes' SHA-256 as hex, base64 and base64url. */
async function sha256Forms(data: string | Uint8Array<ArrayBuffer>): Promise<string[]> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return [digest.toHex(), digest.toBase64(), digest.toBase64({ alphabet: "base64url" })];
}

const canary = (part: string) => `canary-${part}-${crypto.randomUUID()}+/="\\`;

Deno.test("kept answers are sealed: no credential, token or plain body hash rests in the store", async () => {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    const created = pluggyBody({ clientId: canary("id1"), secret: canary("secret1") });
    const createKey = newKey();
    const first = await keyed(h, tenant, "POST", CONNECTIONS, { key: createKey, json: created });
    assert.equal(first.status, 201);
    const rotated = {
      configName: "pluggy-main",
      baseUrl: created.baseUrl,
      accountRef: created.accountRef,
      clientId: canary("id2"),
      secret: canary("secret2"),
    };
    const updateKey = newKey();
    const path = `${CONNECTIONS}/${first.body.id}`;
    assert.equal(
      (await keyed(h, tenant, "PUT", path, { key: updateKey, json: rotated })).status,
      200,
    );
    // A refused create that carries a credential is kept too (a 400).
    const refused = { ...created, configName: "x", secret: canary("secret3") };
    assert.equal(
      (await keyed(h, tenant, "POST", CONNECTIONS, { key: newKey(), json: refused })).status,
      400,
    );

    const mint = { vendor: "pluggy", connection_config_name: "pluggy-main" };
    const mintKey = newKey();
    const minted = await keyed(h, tenant, "POST", `${API}/webhooks/tokens`, {
      key: mintKey,
      json: mint,
    });
    assert.equal(minted.status, 201);
    const token: string = minted.body.token;
    // The replayed mint shows the same token again: the lost answer is not lost.
    const replay = await keyed(h, tenant, "POST", `${API}/webhooks/tokens`, {
      key: mintKey,
      json: mint,
    });
    assert.deepEqual([replay.status, replay.text, replay.replayed], [201, minted.text, "true"]);

    const rows = (await databaseTexts(h.sql)).filter((t) => t.label.includes("idempotency_keys"));
    assert.equal(rows.length, 3, "the table's text and its two bytea columns");
    assert.equal((await storedKeys(h.sql, tenant)).filter((k) => k.state === "done").length, 4);
    // What an unkeyed store would hold: the SHA-256 of each body, and of each fingerprint's bytes.
    const route = "/v1/discovery/aggregator-connections";
    const sent: Array<[string, string, Record<string, string>, unknown]> = [
      ["POST", route, {}, created],
      ["PUT", `${route}/{id}`, { id: first.body.id }, rotated],
      ["POST", route, {}, refused],
    ];
    const unkeyed = sent.flatMap(([method, template, params, body]) => {
      const bytes = new TextEncoder().encode(JSON.stringify(body));
      return [bytes, fingerprintBytes({ method, route: template, params, body: bytes })];
    });
    const plainHashes = await Promise.all(unkeyed.map(sha256Forms));
    const needles = [
      ...[created, rotated, refused].flatMap((b) => [b.clientId, b.secret]).flatMap(encodings),
      ...encodings(token),
      ...(await hashForms(token)),
      ...plainHashes.flat(),
      // The answers themselves are sealed: not even the connection's id shows.
      first.body.id,
      minted.body.id,
    ];
    assert.deepEqual(hits(rows, needles), []);
    // The keys themselves are stored as given: they are not secrets.
    assert.ok(rows[0].text.includes(mintKey) && rows[0].text.includes(createKey));
  } finally {
    await h.close();
  }
});

Deno.test("a key left running by a request that stopped is taken over after the bound, not before", async () => {
  const clock = testClock();
  const h = await startHarness({ now: clock.now, idempotencyWaitMs: 0 });
  try {
    const tenant = newTenant();
    const key = newKey();
    const body = pluggyBody();
    // What a replica whose process then died had done: claimed the key for this very request.
    const deps = await createIdempotency({
      sql: h.sql,
      keyRing: await createKeyRing(h.sealKeys),
      sealKeys: h.sealKeys,
      now: clock.now,
      logger: jsonLogger(() => {}),
      takeoverMs: takeoverBound(4_000),
    });
    const lost = await startRequest(deps, tenant, key, {
      method: "POST",
      route: "/v1/discovery/aggregator-connections",
      params: {},
      body: new TextEncoder().encode(JSON.stringify(body)),
    });
    assert.ok(lost.run);

    const busy = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: body });
    assert.equal(busy.status, 409, busy.text);
    assert.equal(busy.body.code, "MTCH-1409");
    clock.advance(takeoverBound(4_000) - 1_000);
    assert.equal((await keyed(h, tenant, "POST", CONNECTIONS, { key, json: body })).status, 409);
    clock.advance(2_000);
    const ran = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: body });
    assert.deepEqual([ran.status, ran.replayed], [201, null]);

    // The stopped request, were it to wake up, can neither keep its answer nor free the key.
    const late = { status: 500, contentType: null, body: new Uint8Array() };
    assert.equal(await finishRequest(deps, lost.attempt, late), false);
    await finishRequest(deps, lost.attempt, undefined);
    const again = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: body });
    assert.deepEqual([again.status, again.text, again.replayed], [201, ran.text, "true"]);
  } finally {
    await h.close();
  }
});

Deno.test("a key lives 24 hours: then the sweep deletes it and the key runs its request again", async () => {
  const clock = testClock();
  const h = await startHarness({ now: clock.now });
  try {
    const tenant = newTenant();
    const key = newKey();
    const first = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.equal(first.status, 201);
    clock.advance(24 * 3_600_000 - 1_000);
    assert.equal((await h.sweep()).expiredIdempotencyKeys, 0);
    const kept = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.equal(kept.replayed, "true");
    clock.advance(2_000);
    assert.equal((await h.sweep()).expiredIdempotencyKeys, 1);
    assert.deepEqual(await storedKeys(h.sql, tenant), []);
    const ran = await keyed(h, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.deepEqual([ran.status, ran.body.code, ran.replayed], [409, "MTCH-2409", null]);

    // A key past its time that the sweep has not deleted yet is claimed anew all the same.
    const other = pluggyBody({ configName: "pluggy-other" });
    const key2 = newKey();
    assert.equal(
      (await keyed(h, tenant, "POST", CONNECTIONS, { key: key2, json: other })).status,
      201,
    );
    clock.advance(24 * 3_600_000);
    const renamed = { ...other, configName: "pluggy-third" };
    const reused = await keyed(h, tenant, "POST", CONNECTIONS, { key: key2, json: renamed });
    assert.deepEqual([reused.status, reused.replayed], [201, null]);
    assert.ok(h.logs.some((l) => l.includes('"deleted expired idempotency keys"')));
  } finally {
    await h.close();
  }
});

Deno.test("after a seal key rotation a kept answer still replays; with its key retired it is a 422", async () => {
  const k1 = { id: "k1", key: randomKey() };
  const k2 = { id: "k2", key: randomKey() };
  const a = await startHarness({ sealKeys: [k1] });
  try {
    const tenant = newTenant();
    const key = newKey();
    const first = await keyed(a, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
    assert.equal(first.status, 201);
    const rotated = await startHarness({ sealKeys: [k2, k1], replicaOf: a });
    try {
      const again = await keyed(rotated, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
      assert.deepEqual([again.status, again.text, again.replayed], [201, first.text, "true"]);
      const other = await keyed(rotated, tenant, "POST", CONNECTIONS, {
        key,
        json: pluggyBody({ configName: "pluggy-other" }),
      });
      assert.equal(other.status, 422, "the fingerprint is still checked under k1");
    } finally {
      await rotated.close();
    }
    const retired = await startHarness({ sealKeys: [k2], replicaOf: a });
    try {
      const lost = await keyed(retired, tenant, "POST", CONNECTIONS, { key, json: pluggyBody() });
      assert.equal(lost.status, 422, lost.text);
      assert.equal(lost.body.code, "MTCH-1422");
      assert.match(lost.body.message, /no longer has/);
    } finally {
      await retired.close();
    }
  } finally {
    await a.close();
  }
});
