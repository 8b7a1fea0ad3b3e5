// Secret canaries driven through the whole API: none may surface in a response, log, metric or row.
import assert from "node:assert/strict";
import { type FakeBelvo, startFakeBelvo } from "../fakes/belvo.ts";
import { type FakePluggy, startFakePluggy } from "../fakes/pluggy.ts";
import type { Json } from "../support/vendor_calls.ts";
import { type Harness, newTenant, startHarness } from "../support/harness.ts";
import {
  databaseTexts,
  encodings,
  hashForms,
  headerSecretForms,
  hits,
  kvText,
} from "../support/leaks.ts";

const API = "/v1/discovery";
const CONNECTIONS = `${API}/aggregator-connections`;

/** A credential canary: unique, with characters that URL and JSON encodings change. */
const canary = (part: string) => `canary-${part}-${crypto.randomUUID()}+/="\\`;
/** Belvo's secret id goes into Basic auth before a colon, so it keeps to plain characters. */
const plainCanary = (part: string) => `canary-${part}-${crypto.randomUUID()}`;

interface Credential {
  clientId: string;
  secret: string;
}

/** Three credentials per vendor: the first two the fakes accept, the third one they reject. */
function credentials() {
  const make = (vendor: string, n: number): Credential => ({
    clientId: vendor === "belvo" ? plainCanary(`belvo-id${n}`) : canary(`pluggy-id${n}`),
    secret: canary(`${vendor}-secret${n}`),
  });
  return {
    pluggy: [1, 2, 3].map((n) => make("pluggy", n)),
    belvo: [1, 2, 3].map((n) => make("belvo", n)),
  };
}

/** Every form in which a credential might leak: each part, and Belvo's Basic auth value. */
function credentialNeedles(creds: ReturnType<typeof credentials>): string[] {
  const basic = creds.belvo.flatMap((c) => encodings(`${c.clientId}:${c.secret}`));
  return [
    ...[...creds.pluggy, ...creds.belvo].flatMap((c) => [c.clientId, c.secret]).flatMap(encodings),
    ...basic,
  ];
}

/** Request options with an Idempotency-Key, so that the answer is also kept in the key store. */
const withKey = <T extends RequestInit>(init: T, key = crypto.randomUUID()) => ({
  ...init,
  headers: { ...init.headers as Record<string, string>, "Idempotency-Key": key },
});

/** Records every answer (body and headers) the suite sees. */
function recorder(h: Harness, tenant: string) {
  const answers: Array<{ label: string; text: string; minted: boolean }> = [];
  async function record(label: string, res: Response, minted = false) {
    const text = await res.text();
    const headers = [...res.headers].map(([k, v]) => `${k}: ${v}`).join("\n");
    answers.push({ label, text: `${headers}\n\n${text}`, minted });
    const json = (res.headers.get("content-type") ?? "").includes("json");
    return { status: res.status, body: json ? JSON.parse(text) as Json : null, text };
  }
  return {
    answers,
    record,
    async call(path: string, init: RequestInit & { json?: unknown } = {}, minted = false) {
      const res = await h.request(path, { tenant, ...init });
      return await record(`${init.method ?? "GET"} ${path}`, res, minted);
    },
    async deliver(url: string, body: string) {
      const res = await fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
      });
      return await record(`webhook ${new URL(url).pathname.split("/")[4]}`, res);
    },
  };
}

async function setup() {
  const creds = credentials();
  const pluggy = await startFakePluggy({
    echoCredentials: true,
    clients: creds.pluggy.slice(0, 2).map((c) => ({
      clientId: c.clientId,
      clientSecret: c.secret,
    })),
  });
  const belvo = await startFakeBelvo({
    echoCredentials: true,
    secrets: creds.belvo.slice(0, 2).map((c) => ({
      secretId: c.clientId,
      secretPassword: c.secret,
    })),
  });
  const metricsToken = `metrics-${crypto.randomUUID()}`;
  const h = await startHarness({
    egress: { allowHosts: [pluggy.host, belvo.host], allowHttp: true },
    metricsToken,
    // Every failure is final at once, so that failing pulls end without waiting for backoff.
    pulls: { maxAttempts: 1 },
  });
  return { creds, pluggy, belvo, h, metricsToken };
}

/** Waits for a pull to finish, reading it through the API (those answers are recorded too). */
async function finished(r: ReturnType<typeof recorder>, pullId: string): Promise<Json> {
  for (let i = 0; i < 600; i++) {
    const pull = await r.call(`${API}/pulls/${pullId}`);
    if (["succeeded", "failed", "dead"].includes(pull.body.status)) return pull.body;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`pull ${pullId} did not finish`);
}

Deno.test("canary credentials and webhook tokens never surface anywhere but the mint answer and KV", async () => {
  const { creds, pluggy, belvo, h, metricsToken } = await setup();
  const tenant = newTenant();
  const r = recorder(h, tenant);
  const vendors = [
    { vendor: "pluggy", fake: pluggy as FakePluggy | FakeBelvo, accountRef: pluggy.items[0].id },
    { vendor: "belvo", fake: belvo as FakePluggy | FakeBelvo, accountRef: belvo.links[0].id },
  ] as const;
  const tokens: string[] = [];
  try {
    const ids: Record<string, string> = {};
    const fields = (vendor: string, accountRef: string, fake: { url: string }) => ({
      configName: `${vendor}-canary`,
      baseUrl: fake.url,
      accountRef,
    });
    for (const { vendor, fake, accountRef } of vendors) {
      const [first] = creds[vendor];
      const body = { vendor, ...fields(vendor, accountRef, fake), ...first };
      // Created with an Idempotency-Key, and sent again: the repeat is the kept answer.
      const createKey = crypto.randomUUID();
      const created = await r.call(CONNECTIONS, withKey({ method: "POST", json: body }, createKey));
      assert.equal(created.status, 201, created.text);
      ids[vendor] = created.body.id;
      const replayed = await r.call(
        CONNECTIONS,
        withKey({ method: "POST", json: body }, createKey),
      );
      assert.deepEqual([replayed.status, replayed.text], [201, created.text]);
      // Refused creates that carry the credential: a taken name, a bad field, broken JSON (the
      // keyed ones kept in the key store too).
      assert.equal((await r.call(CONNECTIONS, { method: "POST", json: body })).status, 409);
      assert.equal(
        (await r.call(CONNECTIONS, withKey({ method: "POST", json: body }))).status,
        409,
      );
      const badUrl = { ...body, configName: `${vendor}-x`, baseUrl: `https://${first.secret}` };
      assert.equal(
        (await r.call(CONNECTIONS, withKey({ method: "POST", json: badUrl }))).status,
        400,
      );
      const wrongType = { ...body, configName: `${vendor}-y`, clientId: [first.clientId] };
      assert.equal((await r.call(CONNECTIONS, { method: "POST", json: wrongType })).status, 400);
      const broken = JSON.stringify(body).slice(0, -2);
      const malformed = await r.call(
        CONNECTIONS,
        withKey({
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: broken,
        }),
      );
      assert.equal(malformed.status, 400);
    }
    assert.equal((await r.call(`${CONNECTIONS}?limit=200`)).status, 200);

    const liveTest = async (vendor: string) => {
      const res = await r.call(`${CONNECTIONS}/test`, {
        method: "POST",
        json: { vendor, configName: `${vendor}-canary` },
      });
      assert.equal(res.status, 200, res.text);
      return res.body;
    };
    const rotate = async (
      vendor: string,
      accountRef: string,
      fake: { url: string },
      c: Credential,
    ) => {
      const res = await r.call(
        `${CONNECTIONS}/${ids[vendor]}`,
        withKey({
          method: "PUT",
          json: { ...fields(vendor, accountRef, fake), ...c },
        }),
      );
      assert.equal(res.status, 200, res.text);
    };
    const pull = async (vendor: string) => {
      const queued = await r.call(`${CONNECTIONS}/${ids[vendor]}/pulls`, { method: "POST" });
      assert.equal(queued.status, 202);
      return await finished(r, queued.body.id);
    };

    for (const { vendor, fake, accountRef } of vendors) {
      assert.equal((await liveTest(vendor)).healthy, true);
      assert.equal((await r.call(`${CONNECTIONS}/${ids[vendor]}`)).status, 200);
      // The credential rotates to the second canary, which works as well.
      await rotate(vendor, accountRef, fake, creds[vendor][1]);
      assert.equal((await liveTest(vendor)).healthy, true);
      assert.equal((await pull(vendor)).status, "succeeded");

      // The vendor rejects the third canary and repeats it in its 401 body.
      fake.resetRequests();
      await rotate(vendor, accountRef, fake, creds[vendor][2]);
      const unhealthy = await liveTest(vendor);
      assert.equal(unhealthy.healthy, false);
      assert.equal(unhealthy.reason, "credentials_rejected");
      const rejected = await pull(vendor);
      assert.equal(rejected.status, "failed");
      assert.equal(rejected.lastError.reason, "credentials_rejected");
      assert.ok(fake.requests.length > 0, "the vendor was asked");
      await rotate(vendor, accountRef, fake, creds[vendor][1]);

      // The vendor fails mid-pull: a 500 whose body repeats the credential, then a reset body.
      const listing = vendor === "pluggy" ? /^\/(v2\/)?transactions/ : /^\/api\/transactions\//;
      const echo = { error: `failed for ${JSON.stringify(creds[vendor][1])}` };
      fake.faults.add({ path: listing, times: 20, fault: { status: 500, body: echo } });
      assert.equal((await pull(vendor)).status, "dead");
      fake.faults.clear();
      fake.faults.add({ path: listing, times: 20, fault: { reset: true } });
      const reset = await pull(vendor);
      assert.equal(reset.status, "dead");
      fake.faults.clear();
      const retried = await r.call(`${API}/pulls/${reset.id}/retry`, { method: "POST" });
      assert.equal(retried.status, 202);
      assert.equal((await finished(r, retried.body.id)).status, "succeeded");
    }

    // Webhook tokens: two per connection, one of them revoked.
    const minted: Record<string, Json[]> = { pluggy: [], belvo: [] };
    for (const { vendor } of vendors) {
      for (let i = 0; i < 2; i++) {
        // Minted with a key and minted again with it: the replay shows the same token.
        const mint = withKey({
          method: "POST",
          json: { vendor, connection_config_name: `${vendor}-canary` },
        });
        const res = await r.call(`${API}/webhooks/tokens`, mint, true);
        assert.equal(res.status, 201);
        const again = await r.call(`${API}/webhooks/tokens`, mint, true);
        assert.deepEqual([again.status, again.text], [201, res.text]);
        minted[vendor].push(res.body);
        tokens.push(res.body.token);
      }
    }
    const store = await kvText(h.kv);
    for (const token of tokens) {
      assert.ok(store.includes((await hashForms(token))[0]), "KV holds each token's hash");
    }
    assert.equal((await r.call(`${API}/webhooks/tokens?limit=1`)).status, 200);
    assert.equal((await r.call(`${API}/webhooks/tokens?limit=200`)).status, 200);
    for (const { vendor } of vendors) {
      const revoke = await r.call(
        `${API}/webhooks/tokens/${minted[vendor][1].id}`,
        withKey({ method: "DELETE" }),
      );
      assert.equal(revoke.status, 204);
    }

    const account = pluggy.items[0].accounts[0].id;
    const payloads = {
      pluggy: () =>
        pluggy.webhooks.transactionsCreated({
          itemId: pluggy.items[0].id,
          accountId: account,
          transactionsCreatedAtFrom: new Date(0),
        }),
      belvo: () => belvo.webhooks.newTransactionsAvailable({ linkId: belvo.links[0].id, count: 1 }),
    };
    for (const { vendor } of vendors) {
      const [live, revoked] = minted[vendor].map((t) => t.webhookUrl as string);
      const other = minted[vendor === "pluggy" ? "belvo" : "pluggy"][0].token;
      const payload = JSON.stringify(payloads[vendor]());
      const accepted = await r.deliver(live, payload);
      assert.equal(accepted.status, 202);
      assert.equal((await r.deliver(live, payload)).body.status, "duplicate");
      assert.equal((await r.deliver(revoked, payload)).status, 404);
      assert.equal((await r.deliver(live, "{not json")).status, 400);
      assert.equal((await r.deliver(live, "[1]")).status, 400);
      assert.equal((await r.deliver(`${live}x`, payload)).status, 404);
      assert.equal((await r.deliver(live.replace(/[^/]+$/, other), payload)).status, 404);
      assert.equal((await finished(r, accepted.body.pullId)).status, "succeeded");
    }

    for (const { vendor } of vendors) {
      const page = await r.call(`${CONNECTIONS}/${ids[vendor]}/transactions?limit=200`);
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length > 0, `${vendor} transactions were stored`);
      assert.equal((await r.call(`${CONNECTIONS}/${ids[vendor]}/pulls?limit=200`)).status, 200);
    }

    const metrics = await r.record(
      "metrics",
      await fetch(`${h.baseUrl}/metrics`, { headers: { Authorization: `Bearer ${metricsToken}` } }),
    );
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /matcher_webhooks_received_total/);
    const wrongMetrics = await fetch(`${h.baseUrl}/metrics`, {
      headers: { Authorization: `Bearer ${tokens[0]}` },
    });
    assert.equal((await r.record("metrics with a webhook token", wrongMetrics)).status, 401);

    for (const { vendor } of vendors) {
      assert.equal(
        (await r.call(`${CONNECTIONS}/${ids[vendor]}`, { method: "DELETE" })).status,
        204,
      );
      assert.equal((await r.call(`${CONNECTIONS}/${ids[vendor]}`)).status, 404);
      const gone = await r.deliver(
        minted[vendor][0].webhookUrl,
        JSON.stringify(payloads[vendor]()),
      );
      assert.equal(gone.status, 404);
    }

    // The audit trail recorded every kind of change above, and is read back like any list.
    const trail = await r.call(`${API}/audit-events?limit=200`);
    assert.equal(trail.status, 200);
    assert.deepEqual([...new Set(trail.body.items.map((e: Json) => e.action))].sort(), [
      "connection.created",
      "connection.deleted",
      "connection.tested",
      "connection.updated",
      "pull.requested",
      "pull.retried",
      "webhook_token.minted",
      "webhook_token.revoked",
    ]);
    assert.ok(
      trail.body.items.some((e: Json) => e.details.credentialRotated === true),
      "rotations are named",
    );
    // Every sealed blob the database holds (credentials, kept answers), in the forms a copy of
    // one would take in a row cast to text or in JSON.
    const blobs = (await h.sql<{ bytes: Uint8Array }[]>`
      select sealed_credential as bytes from connections where sealed_credential is not null
      union all select body from idempotency_keys where body is not null`)
      .flatMap(({ bytes }) => [
        bytes.toHex(),
        bytes.toBase64(),
        bytes.toBase64({ alphabet: "base64url", omitPadding: true }),
      ]);
    assert.ok(blobs.length >= 6 * 3, `the sealed blobs were read (${blobs.length / 3})`);

    // The search: the needles, and controls showing that each surface holds what it should.
    const credentialsAt = credentialNeedles(creds);
    const tokenForms = tokens.flatMap((t) => encodings(t));
    const hashes = (await Promise.all(tokens.map(hashForms))).flat();
    const rows = await databaseTexts(h.sql);
    const logs = h.logs.map((line, i) => ({ label: `log line ${i}`, text: line }));
    const notMinted = r.answers.filter((a) => !a.minted);

    assert.ok(rows.some((t) => t.text.includes("pluggy-canary")), "the rows were read");
    assert.ok(rows.some((t) => t.label.startsWith("bytea")), "the sealed blobs were read");
    const [{ n: keptAnswers }] = await h.sql`select count(*)::int as n from idempotency_keys
                                             where state = 'done' and tenant_id = ${tenant}`;
    assert.ok(keptAnswers >= 20, `answers were kept for their Idempotency-Keys (${keptAnswers})`);
    assert.ok(rows.some((t) => t.label === "bytea idempotency_keys.body"), "and were read");
    assert.ok(h.logs.some((l) => l.includes(minted.pluggy[0].id)), "token ids are logged");
    assert.ok(r.answers.some((a) => a.minted && a.text.includes(tokens[0])), "mint shows it");
    const basic = `Basic ${btoa(`${creds.belvo[1].clientId}:${creds.belvo[1].secret}`)}`;
    assert.ok(
      belvo.requests.some((q) => q.headers.get("authorization") === basic),
      "the service sent the Belvo canary",
    );

    // The fakes repeat a rejected credential, so a relayed vendor answer would show it.
    const echoed = await fetch(`${pluggy.url}/auth`, {
      method: "POST",
      body: JSON.stringify({ clientId: creds.pluggy[2].clientId, clientSecret: "x" }),
    });
    assert.ok(
      (await echoed.text()).includes(JSON.stringify(creds.pluggy[2].clientId).slice(1, -1)),
    );

    const none = (what: string, found: string[]) =>
      assert.deepEqual(found, [], `${what}: ${found.slice(0, 5).join("; ")}`);
    none("a response carries a credential", hits(r.answers, credentialsAt));
    none("a response carries a token or its hash", hits(notMinted, [...tokenForms, ...hashes]));
    none("a log line carries a secret", hits(logs, [...credentialsAt, ...tokenForms, ...hashes]));
    none("the database holds a secret", hits(rows, [...credentialsAt, ...tokenForms, ...hashes]));
    const auditRows = rows.filter((t) => t.label === "table audit_events");
    assert.ok(auditRows[0]?.text.includes("webhook_token.revoked"), "the audit rows were read");
    const auditAnswers = r.answers.filter((a) => a.label.includes("/audit-events"));
    assert.equal(auditAnswers.length, 1);
    none(
      "an audit row or answer carries a credential, a token, a hash or a sealed blob",
      hits([...auditRows, ...auditAnswers], [...credentialsAt, ...tokenForms, ...hashes, ...blobs]),
    );
    assert.ok(r.answers.length > 80, `the suite drove the API (${r.answers.length} answers)`);
  } finally {
    await h.close();
    await pluggy.close();
    await belvo.close();
  }
});

Deno.test("a webhook header secret surfaces only in the mint answer, and KV keeps only its hash", async () => {
  const { creds, pluggy, belvo, h, metricsToken } = await setup();
  const tenant = newTenant();
  const r = recorder(h, tenant);
  try {
    const refs = { pluggy: pluggy.items[0].id, belvo: belvo.links[0].id };
    const fakes = { pluggy, belvo };
    const headers: Array<{ vendor: "pluggy" | "belvo"; name: string; value: string }> = [];
    const urls: Record<string, string> = {};
    for (const vendor of ["pluggy", "belvo"] as const) {
      const created = await r.call(CONNECTIONS, {
        method: "POST",
        json: {
          vendor,
          configName: `${vendor}-canary`,
          baseUrl: fakes[vendor].url,
          accountRef: refs[vendor],
          ...creds[vendor][0],
        },
      });
      assert.equal(created.status, 201, created.text);
      const minted = await r.call(`${API}/webhooks/tokens`, {
        method: "POST",
        json: { vendor, connection_config_name: `${vendor}-canary`, withHeaderSecret: true },
      }, true);
      assert.equal(minted.status, 201);
      headers.push({ vendor, ...minted.body.header });
      urls[vendor] = minted.body.webhookUrl;
      const refused = await r.call(`${API}/webhooks/tokens`, {
        method: "POST",
        json: { vendor, connection_config_name: "nope", withHeaderSecret: true },
      });
      assert.equal(refused.status, 404);
    }
    const secrets = headers.map((x) => x.value.replace(/^Bearer /, ""));
    const secretForms = headers.flatMap((x) => headerSecretForms(x.value));
    const hashes = (await Promise.all(secrets.map(hashForms))).flat();

    const payloads = {
      pluggy: () => pluggy.webhooks.itemError({ itemId: refs.pluggy }),
      belvo: () => belvo.webhooks.newTransactionsAvailable({ linkId: refs.belvo, count: 1 }),
    };
    const send = async (
      vendor: "pluggy" | "belvo",
      extra: Record<string, string>,
      body?: string,
    ) => {
      const res = await fetch(urls[vendor], {
        method: "POST",
        headers: { "Content-Type": "application/json", ...extra },
        body: body ?? JSON.stringify(payloads[vendor]()),
      });
      return (await r.record(`webhook ${vendor}`, res)).status;
    };
    for (const { vendor, name, value } of headers) {
      assert.equal(await send(vendor, { [name]: value }), 202);
      assert.equal(await send(vendor, {}), 404);
      assert.equal(await send(vendor, { [name]: `${value}x` }), 404);
      // The secret under the other vendor's header name.
      const other = name === "Authorization" ? "X-Matcher-Webhook-Secret" : "Authorization";
      assert.equal(await send(vendor, { [other]: value }), 404);
      // A broken body with the right header: refused once the secret was checked.
      assert.equal(await send(vendor, { [name]: value }, "{not json"), 400);
    }
    const metrics = await r.record(
      "metrics",
      await fetch(`${h.baseUrl}/metrics`, { headers: { Authorization: `Bearer ${metricsToken}` } }),
    );
    assert.match(metrics.text, /outcome="wrong_header_secret"/);

    const live = await kvText(h.kv);
    for (const secret of secrets) {
      assert.ok(live.includes((await hashForms(secret))[0]), "KV holds each secret's hash");
    }
    const list = await r.call(`${API}/webhooks/tokens?limit=200`);
    assert.equal(list.body.items.length, 2);
    for (const item of list.body.items) {
      assert.equal(item.withHeaderSecret, true);
      const revoked = await r.call(`${API}/webhooks/tokens/${item.id}`, { method: "DELETE" });
      assert.equal(revoked.status, 204);
    }
    const afterRevoke = await kvText(h.kv);
    const trail = await r.call(`${API}/audit-events?limit=200`);
    assert.deepEqual(
      trail.body.items.filter((e: Json) => e.action.startsWith("webhook_token."))
        .map((e: Json) => [e.action, e.details.withHeaderSecret]),
      [
        ["webhook_token.revoked", true],
        ["webhook_token.revoked", true],
        ["webhook_token.minted", true],
        ["webhook_token.minted", true],
      ],
    );

    const notMinted = r.answers.filter((a) => !a.minted);
    const logs = h.logs.map((line, i) => ({ label: `log line ${i}`, text: line }));
    const rows = await databaseTexts(h.sql);
    assert.ok(r.answers.some((a) => a.minted && a.text.includes(secrets[1])), "the mint shows it");
    assert.ok(h.logs.some((l) => l.includes('"outcome":"wrong_header_secret"')), "refusals logged");
    assert.ok(rows.some((t) => t.text.includes("belvo-canary")), "the rows were read");
    const auditRows = rows.filter((t) => t.label === "table audit_events");
    assert.ok(auditRows[0]?.text.includes("withHeaderSecret"), "the audit rows were read");

    const none = (what: string, found: string[]) =>
      assert.deepEqual(found, [], `${what}: ${found.slice(0, 5).join("; ")}`);
    const everyForm = [...secretForms, ...hashes];
    none("an audit row carries a header secret or its hash", hits(auditRows, everyForm));
    none("a response carries a header secret or its hash", hits(notMinted, everyForm));
    none("a log line carries a header secret or its hash", hits(logs, everyForm));
    none("the database holds a header secret or its hash", hits(rows, everyForm));
    none("KV holds a header secret", hits([{ label: "KV", text: live }], secretForms));
    none(
      "KV keeps a revoked token's secret hash",
      hits([{ label: "KV", text: afterRevoke }], hashes),
    );
  } finally {
    await h.close();
    await pluggy.close();
    await belvo.close();
  }
});
