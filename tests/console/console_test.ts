// The console's page, files and development sign-in, and the offline /docs, over real HTTP.
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeJwt } from "jose";
import swaggerUiPath from "swagger-ui-dist/absolute-path.js";
import { parseConfig } from "../../src/config/config.ts";
import { DEV_TENANT_ID, devSignInFor, isOwnHost } from "../../src/console/console.service.ts";
import { startHarness } from "../support/harness.ts";

const POLICY = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const SESSION = "/console/dev-session";

/** Every `<script>` of a page: each must load a file of this origin and hold no code itself. */
function assertNoInlineScript(html: string) {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  assert.ok(scripts.length > 0);
  for (const [, attrs, body] of scripts) {
    assert.match(attrs, /\bsrc="\/[^/"][^"]*"/, `a script without a local src: ${attrs}`);
    assert.equal(body.trim(), "", "a script with inline code");
  }
  assert.doesNotMatch(html, /\son[a-z]+=/i, "an inline event handler");
  assert.doesNotMatch(html, /https?:\/\//, "a URL of another origin");
}

Deno.test("without the development sign-in the page has no button and the route is a 404", async () => {
  const h = await startHarness();
  try {
    const page = await h.request("/console");
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-security-policy"), POLICY);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/console\/assets\/app\.js"><\/script>/);
    assert.doesNotMatch(html, /matcher-dev-sign-in/);
    assertNoInlineScript(html);

    const session = await h.request(SESSION, { method: "POST" });
    const unknown = await h.request("/console/no-such-route", { method: "POST" });
    assert.equal(session.status, 404);
    assert.deepEqual(await session.json(), await unknown.json());
  } finally {
    await h.close();
  }
});

Deno.test("the development sign-in mints an hour's token for the development tenant", async () => {
  const h = await startHarness({ devSignIn: true });
  try {
    assert.match(await (await h.request("/console")).text(), /name="matcher-dev-sign-in"/);
    const before = Math.floor(Date.now() / 1000);
    const res = await h.request(SESSION, { method: "POST" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const session = await res.json();
    assert.equal(session.tenantId, DEV_TENANT_ID);
    const claims = decodeJwt(session.token);
    assert.equal(claims.tenant_id, DEV_TENANT_ID);
    assert.equal(claims.exp! - claims.iat!, 3600);
    assert.ok(claims.iat! >= before && claims.iat! <= before + 5);
    assert.equal(Date.parse(session.expiresAt), claims.exp! * 1000);

    // The API takes it like any tenant's token: the connection is the development tenant's.
    const auth = { Authorization: `Bearer ${session.token}` };
    const created = await h.request("/v1/discovery/aggregator-connections", {
      method: "POST",
      headers: auth,
      json: {
        vendor: "belvo",
        configName: "dev-conn",
        baseUrl: "https://sandbox.belvo.com",
        accountRef: "link-1",
        clientId: "id",
        secret: "console-test-secret",
      },
    });
    assert.equal(created.status, 201);
    await created.body?.cancel();
    const [row] = await h.sql`select tenant_id from connections where config_name = 'dev-conn'`;
    assert.equal(row.tenant_id, DEV_TENANT_ID);
    const other = await h.request("/v1/discovery/aggregator-connections", {
      tenant: crypto.randomUUID(),
    });
    assert.deepEqual((await other.json()).items, []);
  } finally {
    await h.close();
  }
});

Deno.test("a page reached through another host name gets no button and no token", async () => {
  const h = await startHarness({ devSignIn: true, publicUrl: "https://matcher.example.com" });
  try {
    // A browser sends the name it resolved, as DNS rebinding would: app.request keeps the URL's.
    const evilPage = await h.app.request("http://rebound.example:8080/console");
    assert.doesNotMatch(await evilPage.text(), /matcher-dev-sign-in/);
    const evil = await h.app.request("http://rebound.example:8080/console/dev-session", {
      method: "POST",
    });
    assert.equal(evil.status, 404);
    await evil.body?.cancel();
    const own = await h.app.request("https://matcher.example.com/console/dev-session", {
      method: "POST",
    });
    assert.equal(own.status, 200);
    await own.body?.cancel();
  } finally {
    await h.close();
  }
});

Deno.test("isOwnHost: local names and the public URL's host only", () => {
  const publicUrl = "https://matcher.example.com";
  for (
    const host of [
      "localhost:8080",
      "127.0.0.1",
      "[::1]:8080",
      "app.localhost",
      "matcher.example.com",
    ]
  ) {
    assert.ok(isOwnHost(host, publicUrl), host);
  }
  for (
    const host of [
      "evil.example",
      "127.0.0.1.evil.example",
      "localhost.evil.example",
      "",
      undefined,
      "a b",
    ]
  ) {
    assert.ok(!isOwnHost(host, publicUrl), String(host));
  }
});

Deno.test("devSignInFor: development with a secret only", () => {
  const key = crypto.getRandomValues(new Uint8Array(32)).toBase64();
  const devSecrets = () => ({ jwtSecret: "d".repeat(48), sealKeys: `dev1:${key}` });
  const development = parseConfig({}, devSecrets);
  assert.deepEqual(devSignInFor(development)?.secret, new TextEncoder().encode("d".repeat(48)));

  const jwks = parseConfig({ AUTH_JWKS_URL: "https://idp.example.com/jwks.json" }, devSecrets);
  assert.equal(devSignInFor(jwks), undefined);

  const production = parseConfig({
    MATCHER_ENV: "production",
    DATABASE_URL: "postgres://matcher@db.internal:5432/matcher",
    AUTH_JWT_SECRET: "a-production-secret-of-at-least-32-chars",
    MATCHER_SEAL_KEYS: `k1:${key}`,
    MATCHER_PUBLIC_URL: "https://matcher.example.com",
  });
  assert.equal(devSignInFor(production), undefined);
});

Deno.test("the console's files: media types, ETags, 304, and nothing outside its folder", async () => {
  const h = await startHarness();
  try {
    // Every module the entry imports, and theirs, is served.
    const seen = new Set<string>();
    const queue = ["app.js"];
    while (queue.length) {
      const file = queue.shift()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const res = await h.request(`/console/assets/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
      const text = await res.text();
      for (const [, name] of text.matchAll(/from "\.\/([a-z_]+\.js)"/g)) queue.push(name);
    }
    assert.ok(seen.size >= 8, [...seen].join());

    // As written (identity), and gzipped once for clients that take it; each with its own tag.
    const plain = await h.request("/console/assets/console.css", {
      headers: { "Accept-Encoding": "identity" },
    });
    assert.equal(plain.headers.get("content-type"), "text/css; charset=utf-8");
    assert.equal(plain.headers.get("content-encoding"), null);
    assert.equal(plain.headers.get("cache-control"), "no-cache");
    assert.equal(plain.headers.get("vary"), "Accept-Encoding");
    const etag = plain.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{24}"$/);
    const text = await plain.text();
    assert.match(text, /^\/\* The console's one style sheet/);
    const gzip = await h.request("/console/assets/console.css", {
      headers: { "Accept-Encoding": "br;q=1, gzip;q=0.8" },
    });
    assert.equal(gzip.headers.get("content-encoding"), "gzip");
    assert.equal(gzip.headers.get("etag"), `${etag.slice(0, -1)}-gzip"`);
    assert.equal(await gzip.text(), text); // fetch undoes the gzip
    const refused = await h.request("/console/assets/console.css", {
      headers: { "Accept-Encoding": "gzip;q=0" },
    });
    assert.equal(refused.headers.get("content-encoding"), null);
    await refused.body?.cancel();

    const again = await h.request("/console/assets/console.css", {
      headers: { "If-None-Match": `W/${etag}`, "Accept-Encoding": "identity" },
    });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get("etag"), etag);
    assert.equal(await again.text(), "");
    const changed = await h.request("/console/assets/console.css", {
      headers: { "If-None-Match": etag, "Accept-Encoding": "gzip" },
    });
    assert.equal(changed.status, 200, "the gzipped representation has another tag");
    await changed.body?.cancel();

    for (
      const name of ["nope.js", "..%2Fconsole.service.ts", "..%2Fconsole.html", "%2Fetc%2Fpasswd"]
    ) {
      const res = await h.request(`/console/assets/${name}`);
      assert.equal(res.status, 404, name);
      assert.equal((await res.json()).code, "MTCH-1404");
    }
  } finally {
    await h.close();
  }
});

Deno.test("/docs loads Swagger UI from the installed package, under the page policy", async () => {
  const h = await startHarness();
  try {
    const page = await h.request("/docs");
    assert.equal(
      page.headers.get("content-security-policy"),
      "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    const html = await page.text();
    assertNoInlineScript(html);
    const files = [...html.matchAll(/(?:src|href)="\/docs\/assets\/([^"]+)"/g)].map((m) => m[1]);
    assert.deepEqual(files.sort(), [
      "docs.js",
      "favicon-32x32.png",
      "swagger-ui-bundle.js",
      "swagger-ui.css",
    ]);
    const dist: string = swaggerUiPath();
    for (const file of files.filter((f) => f !== "docs.js")) {
      const res = await h.request(`/docs/assets/${file}`);
      assert.equal(res.status, 200, file);
      const served = new Uint8Array(await res.arrayBuffer());
      assert.deepEqual(served, await Deno.readFile(join(dist, file)), file);
    }
    const start = await (await h.request("/docs/assets/docs.js")).text();
    assert.match(start, /validatorUrl: null/);
    const missing = await h.request("/docs/assets/swagger-ui-bundle.js.map");
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
  } finally {
    await h.close();
  }
});
