// AES-GCM sealing: round trips, nonces, tamper and context binding, key rotation, and the stored blob.
import assert from "node:assert/strict";
import type { SealKey } from "../../src/config/config.ts";
import {
  type CredentialContext,
  sealCredential,
  unsealCredential,
} from "../../src/connections/credential.ts";
import type { Credential } from "../../src/vendors/aggregator.ts";
import { createKeyRing, seal, sealedKeyId, SealError, unseal } from "../../src/crypto/seal.ts";
import { newTenant, pluggyBody, randomKey, startHarness } from "../support/harness.ts";

type Bytes = Uint8Array<ArrayBuffer>;

const text = (s: string): Bytes => new TextEncoder().encode(s);
const key = (id: string): SealKey => ({ id, key: randomKey() });

/** Awaits `promise` and asserts that it rejects with a SealError (optionally matching `pattern`). */
async function rejectsWithSealError(promise: Promise<unknown>, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SealError, `expected a SealError, got ${err}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

Deno.test("a sealed plaintext opens to the same bytes with the same key and AAD", async () => {
  const ring = await createKeyRing([key("k1")]);
  for (const plaintext of [text(""), text("hello"), crypto.getRandomValues(new Uint8Array(4096))]) {
    const blob = await seal(ring, plaintext, text("context"));
    assert.deepEqual(await unseal(ring, blob, text("context")), plaintext);
  }
});

Deno.test("the sealed blob does not contain the plaintext", async () => {
  const ring = await createKeyRing([key("k1")]);
  const plaintext = "a-very-recognisable-secret-value";
  const blob = await seal(ring, text(plaintext), text("aad"));
  assert.ok(!new TextDecoder("latin1").decode(blob).includes(plaintext));
  assert.ok(blob.length >= 2 + 2 + 12 + plaintext.length + 16, "version, key id, nonce and tag");
});

Deno.test("two seals of the same plaintext differ because each takes a fresh nonce", async () => {
  const ring = await createKeyRing([key("k1")]);
  const blobs = await Promise.all(
    Array.from({ length: 8 }, () => seal(ring, text("same"), text("aad"))),
  );
  const nonces = blobs.map((b) => Array.from(b.subarray(2 + b[1], 2 + b[1] + 12)).join(","));
  assert.equal(new Set(nonces).size, blobs.length, "no nonce repeats");
  const whole = blobs.map((b) => Array.from(b).join(","));
  assert.equal(new Set(whole).size, blobs.length, "no blob repeats");
  for (const blob of blobs) assert.deepEqual(await unseal(ring, blob, text("aad")), text("same"));
});

Deno.test("a flipped byte anywhere in the blob fails with SealError", async () => {
  const ring = await createKeyRing([key("k1")]);
  const blob = await seal(ring, text('{"clientId":"id","secret":"s"}'), text("aad"));
  for (let i = 0; i < blob.length; i++) {
    for (const mask of [0x01, 0x80]) {
      const altered = blob.slice();
      altered[i] ^= mask;
      await rejectsWithSealError(unseal(ring, altered, text("aad")));
    }
  }
});

Deno.test("a truncated, extended or empty blob fails with SealError", async () => {
  const ring = await createKeyRing([key("k1")]);
  const blob = await seal(ring, text("payload"), text("aad"));
  await rejectsWithSealError(unseal(ring, blob.slice(0, blob.length - 1), text("aad")));
  await rejectsWithSealError(unseal(ring, blob.slice(0, 10), text("aad")));
  await rejectsWithSealError(unseal(ring, new Uint8Array(0), text("aad")));
  const longer = new Uint8Array(blob.length + 1);
  longer.set(blob);
  await rejectsWithSealError(unseal(ring, longer, text("aad")));
});

Deno.test("a blob opened with other AAD fails with SealError", async () => {
  const ring = await createKeyRing([key("k1")]);
  const blob = await seal(ring, text("payload"), text("tenant-a"));
  await rejectsWithSealError(unseal(ring, blob, text("tenant-b")), /does not open/);
  await rejectsWithSealError(unseal(ring, blob, text("")));
  await rejectsWithSealError(unseal(ring, blob, text("tenant-a\0")));
});

Deno.test("a blob opened with another key of the same id fails with SealError", async () => {
  const blob = await seal(await createKeyRing([key("k1")]), text("payload"), text("aad"));
  await rejectsWithSealError(unseal(await createKeyRing([key("k1")]), blob, text("aad")));
});

Deno.test("an empty key ring is refused", async () => {
  await rejectsWithSealError(createKeyRing([]), /empty/);
});

Deno.test("a credential opens only for the tenant, connection and vendor it was sealed for", async () => {
  const ring = await createKeyRing([key("k1")]);
  const credential: Credential = { clientId: "client-id-1", secret: "client-secret-1" };
  const context: CredentialContext = {
    tenantId: newTenant(),
    connectionId: crypto.randomUUID(),
    vendor: "pluggy",
  };
  const blob = await sealCredential(ring, context, credential);
  assert.deepEqual(await unsealCredential(ring, context, blob), credential);

  await rejectsWithSealError(unsealCredential(ring, { ...context, tenantId: newTenant() }, blob));
  await rejectsWithSealError(
    unsealCredential(ring, { ...context, connectionId: crypto.randomUUID() }, blob),
  );
  await rejectsWithSealError(unsealCredential(ring, { ...context, vendor: "belvo" }, blob));
});

Deno.test("credential contexts cannot be confused by shifting text between their fields", async () => {
  const ring = await createKeyRing([key("k1")]);
  const blob = await sealCredential(ring, { tenantId: "a", connectionId: "bc", vendor: "pluggy" }, {
    clientId: "id",
    secret: "s",
  });
  await rejectsWithSealError(
    unsealCredential(ring, { tenantId: "ab", connectionId: "c", vendor: "pluggy" }, blob),
  );
});

Deno.test("key rotation: old blobs open under the new ring and new seals use the new primary", async (t) => {
  const k1 = key("k1");
  const k2 = key("k2");
  const context: CredentialContext = {
    tenantId: newTenant(),
    connectionId: crypto.randomUUID(),
    vendor: "belvo",
  };
  const credential = { clientId: "old-id", secret: "old-secret" };
  const oldRing = await createKeyRing([k1]);
  const oldBlob = await sealCredential(oldRing, context, credential);
  assert.equal(sealedKeyId(oldBlob), "k1");

  const rotated = await createKeyRing([k2, k1]);
  assert.equal(rotated.primaryId, "k2");

  await t.step("a blob sealed under [k1] opens under [k2, k1]", async () => {
    assert.deepEqual(await unsealCredential(rotated, context, oldBlob), credential);
  });

  await t.step("new seals under [k2, k1] carry the key id k2 and open", async () => {
    const fresh = await sealCredential(rotated, context, credential);
    assert.equal(sealedKeyId(fresh), "k2");
    assert.deepEqual(await unsealCredential(rotated, context, fresh), credential);
    await rejectsWithSealError(unsealCredential(oldRing, context, fresh), /"k2"/);
  });

  await t.step("a ring without k1 fails on the old blob with a SealError naming k1", async () => {
    const retired = await createKeyRing([k2]);
    await rejectsWithSealError(
      unsealCredential(retired, context, oldBlob),
      /the seal key "k1" is not in the key ring/,
    );
  });
});

Deno.test("sealedKeyId refuses what is not a sealed blob", () => {
  for (const blob of [new Uint8Array(0), new Uint8Array([2, 2, 107, 49]), new Uint8Array(20)]) {
    assert.throws(() => sealedKeyId(blob), SealError);
  }
});

Deno.test("a stored credential copied to another tenant's connection row does not open there", async () => {
  const h = await startHarness();
  const tenant = newTenant();
  const otherTenant = newTenant();
  try {
    const res = await h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      tenant,
      json: pluggyBody({ clientId: "original-client", secret: "original-secret" }),
    });
    assert.equal(res.status, 201);
    const { id } = await res.json();

    const copyId = crypto.randomUUID();
    await h.sql`
      insert into connections
        (id, tenant_id, kind, connector_type, config_name, base_url, account_ref, sealed_credential)
      select ${copyId}, ${otherTenant}, kind, connector_type, config_name, base_url, account_ref,
             sealed_credential
      from connections where id = ${id}`;

    const rows = await h.sql<
      { id: string; tenant_id: string; connector_type: string; sealed_credential: Uint8Array }[]
    >`select id, tenant_id, connector_type, sealed_credential from connections order by id`;
    assert.equal(rows.length, 2);
    const original = rows.find((r) => r.id === id)!;
    const copy = rows.find((r) => r.id === copyId)!;
    assert.deepEqual(copy.sealed_credential, original.sealed_credential, "the very same blob");
    assert.equal(original.tenant_id, tenant);
    assert.equal(copy.tenant_id, otherTenant);

    const ring = await createKeyRing(h.sealKeys);
    const contextOf = (row: typeof original): CredentialContext => ({
      tenantId: row.tenant_id,
      connectionId: row.id,
      vendor: row.connector_type,
    });
    const blobOf = (row: typeof original) => new Uint8Array(row.sealed_credential) as Bytes;

    assert.deepEqual(await unsealCredential(ring, contextOf(original), blobOf(original)), {
      clientId: "original-client",
      secret: "original-secret",
    });
    await rejectsWithSealError(unsealCredential(ring, contextOf(copy), blobOf(copy)));
    assert.equal(sealedKeyId(blobOf(original)), h.sealKeys[0].id);
  } finally {
    await h.close();
  }
});

Deno.test("a key ring refuses a key that is not 32 bytes and a repeated key id", async () => {
  await assert.rejects(createKeyRing([{ id: "short", key: new Uint8Array(16) }]), SealError);
  const key = crypto.getRandomValues(new Uint8Array(32));
  await assert.rejects(createKeyRing([{ id: "k", key }, { id: "k", key }]), SealError);
});
