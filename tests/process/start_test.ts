// The README's first steps on a fresh machine: start with no configuration, mint a token, use it.
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/database.ts";
import { randomKey } from "../support/harness.ts";
import { cleanEnv, runTask, startService } from "../support/process.ts";

const TENANT = "7d3c2a1e-0b9f-4e8d-a6c5-4b3a29180f7e";

Deno.test({
  name: "deno task start runs with no configuration on the embedded database and keeps its data",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dataDir = await Deno.makeTempDir({ prefix: "matcher-start-" });
    const env = cleanEnv({ MATCHER_DATA_DIR: dataDir, PORT: "0" });
    try {
      let service = await startService(env);

      const token = await runTask(["token", "--tenant", TENANT], env);
      assert.equal(token.code, 0, token.stderr);
      const auth = { Authorization: `Bearer ${token.stdout.trim()}` };

      const ready = await fetch(`${service.baseUrl}/ready`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();

      const created = await fetch(`${service.baseUrl}/v1/discovery/aggregator-connections`, {
        method: "POST",
        headers: { ...auth, "Content-Type": "application/json" },
        body: JSON.stringify({
          vendor: "belvo",
          configName: "belvo-main",
          baseUrl: "https://sandbox.belvo.com",
          accountRef: "link-1",
          clientId: "id",
          secret: "start-test-secret",
        }),
      });
      assert.equal(created.status, 201);
      const { id } = await created.json();
      assert.equal((await service.stop()).code, 0);
      const firstRun = service.lines.join("\n");
      assert.match(firstRun, /generated development secrets/);
      assert.match(firstRun, /embedded database/);

      // A restart reuses the generated secrets and the embedded database.
      service = await startService(env);
      const again = await fetch(`${service.baseUrl}/v1/discovery/aggregator-connections/${id}`, {
        headers: auth,
      });
      assert.equal(again.status, 200);
      assert.equal((await again.json()).configName, "belvo-main");
      assert.equal((await service.stop()).code, 0);
      assert.ok(!service.lines.join("\n").includes("start-test-secret"));
    } finally {
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

/** Refused production starts: each lists its problems, one a line, under one heading. */
const REFUSED_STARTS: { name: string; env: Record<string, string>; problems: RegExp[] }[] = [
  {
    name: "no settings at all",
    env: {},
    problems: [
      /^DATABASE_URL is required in production/,
      /^AUTH_JWT_SECRET or AUTH_JWKS_URL is required in production$/,
      /^MATCHER_SEAL_KEYS is required in production$/,
      /^MATCHER_PUBLIC_URL must be an https URL in production$/,
    ],
  },
  {
    name: "weak settings",
    env: {
      AUTH_JWT_SECRET: "short-jwt-canary",
      MATCHER_PUBLIC_URL: "http://matcher.example.com",
      MATCHER_EGRESS_ALLOW_HTTP: "true",
      MATCHER_METRICS_TOKEN: "short-metrics-canary",
    },
    problems: [
      /^DATABASE_URL is required in production/,
      /^AUTH_JWT_SECRET must be at least 32 characters in production$/,
      /^MATCHER_SEAL_KEYS is required in production$/,
      /^MATCHER_PUBLIC_URL must be an https URL in production$/,
      /^MATCHER_EGRESS_ALLOW_HTTP=true is refused in production$/,
      /^MATCHER_METRICS_TOKEN must be at least 32 characters in production$/,
    ],
  },
  {
    name: "a plain-http JWKS",
    env: {
      AUTH_JWKS_URL: "http://idp.example.com/.well-known/jwks.json",
      MATCHER_SEAL_KEYS: `k1:${randomKey().toBase64()}`,
      MATCHER_PUBLIC_URL: "https://matcher.example.com",
    },
    problems: [
      /^DATABASE_URL is required in production/,
      /^AUTH_JWKS_URL must be https in production$/,
    ],
  },
  {
    name: "Deno's tracing on, which would export webhook URLs with their tokens",
    env: {
      DATABASE_URL: "postgres://postgres@127.0.0.1:1/unused",
      AUTH_JWT_SECRET: "a-production-jwt-canary-of-at-least-32-chars",
      MATCHER_SEAL_KEYS: `k1:${randomKey().toBase64()}`,
      MATCHER_PUBLIC_URL: "https://matcher.example.com",
      OTEL_DENO: "true",
    },
    problems: [/^OTEL_DENO=true traces every request with its URL/],
  },
];

for (const { name, env, problems } of REFUSED_STARTS) {
  Deno.test(`production mode refuses to start with ${name} and lists every problem in one message`, async () => {
    const result = await runTask(["start"], cleanEnv({ MATCHER_ENV: "production", ...env }));
    assert.equal(result.code, 1);
    assert.doesNotMatch(result.stdout, /listening on/);
    assert.equal(result.stderr.match(/Invalid configuration:/g)?.length, 1, result.stderr);
    const listed = result.stderr.split("\n").filter((l) => l.startsWith("  - ")).map((l) =>
      l.slice(4)
    );
    assert.equal(listed.length, problems.length, listed.join("\n"));
    for (const problem of problems) {
      assert.ok(listed.some((l) => problem.test(l)), `${problem} in:\n${listed.join("\n")}`);
    }
    for (const value of Object.values(env)) {
      if (/canary/.test(value)) assert.ok(!result.stderr.includes(value), "no secret is echoed");
    }
  });
}

Deno.test({
  name: "production mode starts on Postgres with complete settings and writes nothing locally",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const dataDir = await Deno.makeTempDir({ prefix: "matcher-prod-" });
    try {
      const service = await startService(cleanEnv({
        MATCHER_ENV: "production",
        PORT: "0",
        DATABASE_URL: db.url,
        DENO_KV_PATH: ":memory:",
        MATCHER_DATA_DIR: dataDir,
        AUTH_JWT_SECRET: randomKey().toBase64(),
        MATCHER_SEAL_KEYS: `prod1:${randomKey().toBase64()}`,
        MATCHER_PUBLIC_URL: "https://matcher.example.com",
      }));
      const ready = await fetch(`${service.baseUrl}/ready`);
      assert.equal(ready.status, 200);
      await ready.body?.cancel();
      assert.equal((await service.stop()).code, 0);
      const output = service.lines.join("\n");
      assert.match(output, /"env":"production"/);
      assert.doesNotMatch(output, /embedded database|development secrets/);
      assert.deepEqual([...Deno.readDirSync(dataDir)], [], "nothing is written to the data dir");
    } finally {
      await Deno.remove(dataDir, { recursive: true });
      await db.drop();
    }
  },
});

Deno.test("on the runtime's import map alone, a start without DATABASE_URL says how to get the embedded database", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "matcher-runtime-" });
  try {
    // The image's command (deno.json, no deno.dev.json), in development mode: PGlite is not there.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--config", "deno.json", "--allow-all", "--frozen", "src/main.ts"],
      cwd: new URL("../../", import.meta.url).pathname,
      env: cleanEnv({ MATCHER_DATA_DIR: dataDir, PORT: "0" }),
      clearEnv: true,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.notEqual(out.code, 0);
    assert.match(stderr, /DATABASE_URL is not set, and the embedded database \(PGlite\) is not in/);
    assert.match(stderr, /deno task start/);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
