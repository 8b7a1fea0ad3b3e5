// The environment as parseConfig reads it: defaults, development secrets and production refusals.
import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError, type DevSecrets, parseConfig } from "./config.ts";
import { loadDevSecrets } from "./dev_secrets.ts";

type Env = Record<string, string | undefined>;

const key32 = () => crypto.getRandomValues(new Uint8Array(32));
const b64 = (bytes: Uint8Array) => bytes.toBase64();

const DEV: DevSecrets = {
  jwtSecret: "dev-secret-".padEnd(48, "x"),
  sealKeys: `dev1:${b64(key32())}`,
};

/** A production environment that parses; each refusal test breaks exactly one thing in it. */
function productionEnv(overrides: Env = {}): Env {
  return {
    MATCHER_ENV: "production",
    DATABASE_URL: "postgres://matcher@db.internal:5432/matcher",
    AUTH_JWT_SECRET: "a-production-secret-of-at-least-32-chars",
    MATCHER_SEAL_KEYS: `k2:${b64(key32())},k1:${b64(key32())}`,
    MATCHER_PUBLIC_URL: "https://matcher.example.com",
    ...overrides,
  };
}

/** The ConfigError that `parse` throws; fails the test when it does not throw one. */
function configError(parse: () => unknown): ConfigError {
  try {
    parse();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.ok(err.problems.length > 0);
    for (const problem of err.problems) assert.ok(err.message.includes(problem));
    return err;
  }
  assert.fail("the configuration was accepted");
}

/** Asserts that exactly one problem is reported and that it matches `pattern`. */
function refusedFor(env: Env, pattern: RegExp): ConfigError {
  const err = configError(() => parseConfig(env));
  assert.equal(err.problems.length, 1, `one problem expected, got: ${err.problems.join(" | ")}`);
  assert.match(err.problems[0], pattern);
  return err;
}

Deno.test("an empty development environment takes the documented defaults", () => {
  const config = parseConfig({}, () => DEV);
  assert.equal(config.env, "development");
  assert.equal(config.port, 8080);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.databaseUrl, undefined);
  assert.equal(config.dataDir, ".matcher");
  assert.equal(config.kvPath, join(".matcher", "kv.sqlite3"));
  assert.equal(config.publicUrl, "http://localhost:8080");
  assert.deepEqual(config.egress, { allowHosts: [], allowHttp: false });
  assert.deepEqual(config.vendorHttp, {
    connectTimeoutMs: 5_000,
    timeoutMs: 30_000,
    maxResponseBytes: 32 * 1024 * 1024,
  });
  assert.equal(config.connectionTestsPerMinute, 10);
  assert.deepEqual(config.pulls, {
    concurrency: 4,
    maxAttempts: 8,
    leaseMs: 120_000,
    retentionMs: 30 * 86_400_000,
    webhookDelayMs: 2_000,
    webhookMinIntervalMs: 10_000,
    idsPerAccount: 1_000,
    maxPagesPerWalk: 10_000,
  });
  assert.equal(config.webhookTokenCacheMs, 2_000);
  assert.equal(config.auth.jwksUrl, undefined);
  assert.equal(config.auth.issuer, undefined);
  assert.equal(config.auth.audience, undefined);
});

Deno.test("the default public URL follows PORT and the KV path follows the data dir", () => {
  const config = parseConfig({ PORT: "9090", MATCHER_DATA_DIR: "/var/lib/matcher" }, () => DEV);
  assert.equal(config.port, 9090);
  assert.equal(config.publicUrl, "http://localhost:9090");
  assert.equal(config.dataDir, "/var/lib/matcher");
  assert.equal(config.kvPath, join("/var/lib/matcher", "kv.sqlite3"));
});

Deno.test("explicit settings override the defaults", () => {
  const config = parseConfig({
    PORT: "3000",
    HOST: "0.0.0.0",
    DATABASE_URL: "postgresql://u@localhost/db",
    DENO_KV_PATH: ":memory:",
    MATCHER_PUBLIC_URL: "https://hooks.example.com/base/",
    AUTH_JWT_ISSUER: "https://issuer.example.com",
    AUTH_JWT_AUDIENCE: "matcher",
    MATCHER_PULL_CONCURRENCY: "16",
    MATCHER_PULL_MAX_ATTEMPTS: "3",
    MATCHER_PULL_LEASE_SECONDS: "30",
    MATCHER_RETENTION_DAYS: "7",
    MATCHER_PULL_WEBHOOK_DELAY_MS: "0",
    MATCHER_PULL_WEBHOOK_MIN_INTERVAL_MS: "30000",
    MATCHER_PULL_IDS_PER_ACCOUNT: "50",
    MATCHER_WEBHOOK_TOKEN_CACHE_MS: "0",
  }, () => DEV);
  assert.deepEqual(config.pulls, {
    concurrency: 16,
    maxAttempts: 3,
    leaseMs: 30_000,
    retentionMs: 7 * 86_400_000,
    webhookDelayMs: 0,
    webhookMinIntervalMs: 30_000,
    idsPerAccount: 50,
    maxPagesPerWalk: 10_000,
  });
  assert.equal(config.webhookTokenCacheMs, 0);
  assert.equal(config.port, 3000);
  assert.equal(config.host, "0.0.0.0");
  assert.equal(config.databaseUrl, "postgresql://u@localhost/db");
  assert.equal(config.kvPath, ":memory:");
  assert.equal(config.publicUrl, "https://hooks.example.com/base", "trailing slashes are dropped");
  assert.equal(config.auth.issuer, "https://issuer.example.com");
  assert.equal(config.auth.audience, "matcher");
});

Deno.test("on Deno Deploy without DENO_KV_PATH the KV is the platform's own, not a file", () => {
  assert.equal(parseConfig({ DENO_DEPLOY: "true" }, () => DEV).kvPath, undefined);
  assert.equal(parseConfig(productionEnv({ DENO_DEPLOY: "true" })).kvPath, undefined);
  const connect = "https://api.deno.com/v2/databases/0b6f0f0e/connect";
  assert.equal(
    parseConfig({ DENO_DEPLOY: "true", DENO_KV_PATH: connect }, () => DEV).kvPath,
    connect,
    "an explicit DENO_KV_PATH still wins",
  );
  assert.equal(
    parseConfig({ DENO_DEPLOY: "false" }, () => DEV).kvPath,
    join(".matcher", "kv.sqlite3"),
  );
});

Deno.test("production with an empty environment lists every problem at once", () => {
  let devSecretsCalled = false;
  const err = configError(() =>
    parseConfig({ MATCHER_ENV: "production" }, () => {
      devSecretsCalled = true;
      return DEV;
    })
  );
  assert.equal(devSecretsCalled, false, "production never falls back to development secrets");
  const has = (pattern: RegExp) =>
    assert.ok(
      err.problems.some((p) => pattern.test(p)),
      `${pattern} not in: ${err.problems.join(" | ")}`,
    );
  has(/DATABASE_URL/);
  has(/AUTH_JWT_SECRET or AUTH_JWKS_URL/);
  has(/MATCHER_SEAL_KEYS/);
  has(/MATCHER_PUBLIC_URL.*https/);
  assert.equal(err.problems.length, 4, err.problems.join(" | "));
  for (
    const name of ["DATABASE_URL", "AUTH_JWT_SECRET", "MATCHER_SEAL_KEYS", "MATCHER_PUBLIC_URL"]
  ) {
    assert.ok(err.message.includes(name), `the one message names ${name}`);
  }
});

Deno.test("a fully valid production environment parses", () => {
  const k2 = key32();
  const k1 = key32();
  const config = parseConfig(
    productionEnv({
      MATCHER_SEAL_KEYS: `k2:${b64(k2)}, k1:${b64(k1)}`,
      MATCHER_PUBLIC_URL: "https://matcher.example.com/",
      MATCHER_EGRESS_ALLOW_HOSTS: "sandbox.example.com",
      MATCHER_EGRESS_ALLOW_HTTP: "false",
    }),
    () => assert.fail("production never asks for development secrets"),
  );
  assert.equal(config.env, "production");
  assert.equal(config.databaseUrl, "postgres://matcher@db.internal:5432/matcher");
  assert.deepEqual(
    config.auth.secret,
    new TextEncoder().encode("a-production-secret-of-at-least-32-chars"),
  );
  assert.deepEqual(config.sealKeys, [{ id: "k2", key: k2 }, { id: "k1", key: k1 }]);
  assert.equal(config.sealKeys[0].id, "k2", "the first key is the primary");
  assert.equal(config.publicUrl, "https://matcher.example.com");
  assert.deepEqual(config.egress, { allowHosts: ["sandbox.example.com"], allowHttp: false });
});

Deno.test("production accepts an https JWKS URL instead of a secret", () => {
  const config = parseConfig(
    productionEnv({
      AUTH_JWT_SECRET: undefined,
      AUTH_JWKS_URL: "https://idp.example.com/.well-known/jwks.json",
    }),
  );
  assert.equal(config.auth.secret, undefined);
  assert.equal(config.auth.jwksUrl?.href, "https://idp.example.com/.well-known/jwks.json");
});

Deno.test("production refuses to start without DATABASE_URL", () => {
  refusedFor(productionEnv({ DATABASE_URL: undefined }), /^DATABASE_URL is required/);
});

Deno.test("production refuses to start without a JWT secret or JWKS URL", () => {
  refusedFor(productionEnv({ AUTH_JWT_SECRET: undefined }), /AUTH_JWT_SECRET or AUTH_JWKS_URL/);
});

Deno.test("production refuses a JWT secret shorter than 32 characters", () => {
  const err = refusedFor(
    productionEnv({ AUTH_JWT_SECRET: "short-secret-31-characters-long" }),
    /AUTH_JWT_SECRET must be at least 32 characters/,
  );
  assert.ok(!err.message.includes("short-secret-31-characters-long"), "the secret is not echoed");
});

Deno.test("production accepts a JWT secret of exactly 32 characters", () => {
  const config = parseConfig(productionEnv({ AUTH_JWT_SECRET: "s".repeat(32) }));
  assert.equal(config.auth.secret?.length, 32);
});

Deno.test("production refuses a metrics token shorter than 32 characters", () => {
  const token = "metrics-token-of-31-characters!";
  const err = refusedFor(
    productionEnv({ MATCHER_METRICS_TOKEN: token }),
    /^MATCHER_METRICS_TOKEN must be at least 32 characters/,
  );
  assert.ok(!err.message.includes(token), "the token is not echoed");
});

Deno.test("a metrics token turns /metrics on; without one it stays off", () => {
  assert.equal(parseConfig(productionEnv()).metricsToken, undefined);
  const token = "m".repeat(32);
  assert.equal(
    parseConfig(productionEnv({ MATCHER_METRICS_TOKEN: ` ${token} ` })).metricsToken,
    token,
  );
  assert.equal(
    parseConfig({ MATCHER_METRICS_TOKEN: "dev" }, () => DEV).metricsToken,
    "dev",
    "development takes a token of any length",
  );
});

Deno.test("production refuses to start without seal keys", () => {
  refusedFor(productionEnv({ MATCHER_SEAL_KEYS: undefined }), /^MATCHER_SEAL_KEYS is required/);
});

Deno.test("a seal key that is not 32 bytes is refused without echoing the key", () => {
  for (const size of [16, 31, 33, 64]) {
    const material = b64(crypto.getRandomValues(new Uint8Array(size)));
    const err = refusedFor(
      productionEnv({ MATCHER_SEAL_KEYS: `k1:${material}` }),
      /key "k1" must be 32 bytes/,
    );
    assert.ok(!err.message.includes(material), `the ${size}-byte key material is not echoed`);
    assert.ok(!err.problems.some((p) => p.includes(material)));
  }
});

Deno.test("a seal key that is not base64 is refused without echoing it", () => {
  const material = "not*base64!".padEnd(44, "?");
  const err = refusedFor(productionEnv({ MATCHER_SEAL_KEYS: `k1:${material}` }), /key "k1"/);
  assert.ok(!err.message.includes(material));
});

Deno.test("a malformed key ring entry is refused without echoing it", () => {
  const material = b64(key32());
  const cases = [
    material, // no key id at all
    `:${material}`, // empty key id
    `bad id!:${material}`, // key id outside A-Z a-z 0-9 _ -
    `${"k".repeat(33)}:${material}`, // key id longer than 32
  ];
  for (const entry of cases) {
    const err = refusedFor(productionEnv({ MATCHER_SEAL_KEYS: entry }), /entry 1 must be keyId/);
    assert.ok(!err.message.includes(material), `the key material of "${entry}" is not echoed`);
  }
});

Deno.test("a key ring that repeats a key id is refused", () => {
  refusedFor(
    productionEnv({ MATCHER_SEAL_KEYS: `k1:${b64(key32())},k1:${b64(key32())}` }),
    /repeats key id "k1"/,
  );
});

Deno.test("production refuses an http public URL", () => {
  refusedFor(
    productionEnv({ MATCHER_PUBLIC_URL: "http://matcher.example.com" }),
    /MATCHER_PUBLIC_URL must be an https URL/,
  );
});

Deno.test("production refuses an http JWKS URL", () => {
  refusedFor(
    productionEnv({ AUTH_JWT_SECRET: undefined, AUTH_JWKS_URL: "http://idp.example.com/jwks" }),
    /AUTH_JWKS_URL must be https/,
  );
});

Deno.test("production refuses Deno's tracing unless the webhook URLs it records are redacted", () => {
  const tracing = { OTEL_DENO: "true" };
  refusedFor(productionEnv(tracing), /^OTEL_DENO=true traces every request with its URL/);
  refusedFor(
    productionEnv({ ...tracing, OTEL_DENO_TRACING: "true", MATCHER_TRACES_REDACTED: "yes" }),
    /MATCHER_TRACES_REDACTED=true/,
  );
  // Metrics and logs only, or the operator's word that the collector redacts: both start.
  parseConfig(productionEnv({ ...tracing, OTEL_DENO_TRACING: "false" }));
  parseConfig(productionEnv({ ...tracing, MATCHER_TRACES_REDACTED: "true" }));
  parseConfig(productionEnv({ OTEL_DENO: "false" }));
  // Development traces freely: it holds no tenant's real tokens.
  parseConfig({ OTEL_DENO: "true" }, () => DEV);
});

Deno.test("production refuses MATCHER_EGRESS_ALLOW_HTTP=true", () => {
  refusedFor(
    productionEnv({ MATCHER_EGRESS_ALLOW_HTTP: "true" }),
    /MATCHER_EGRESS_ALLOW_HTTP=true is refused in production/,
  );
});

Deno.test("development allows plain http egress when asked", () => {
  const config = parseConfig({ MATCHER_EGRESS_ALLOW_HTTP: "true" }, () => DEV);
  assert.equal(config.egress.allowHttp, true);
});

Deno.test("both a JWT secret and a JWKS URL are refused", () => {
  const err = configError(() =>
    parseConfig({
      AUTH_JWT_SECRET: "x".repeat(40),
      AUTH_JWKS_URL: "https://idp.example.com/jwks",
      MATCHER_SEAL_KEYS: DEV.sealKeys,
    })
  );
  assert.deepEqual(err.problems, ["set AUTH_JWT_SECRET or AUTH_JWKS_URL, not both"]);
});

Deno.test("malformed scalar settings are refused", () => {
  const cases: [Env, RegExp][] = [
    [{ MATCHER_ENV: "staging" }, /MATCHER_ENV/],
    [{ PORT: "80.5" }, /PORT/],
    [{ PORT: "70000" }, /PORT/],
    [{ PORT: "eighty" }, /PORT/],
    [{ DATABASE_URL: "mysql://db/x" }, /DATABASE_URL must be a postgres/],
    [{ MATCHER_PUBLIC_URL: "ftp://x.example.com" }, /MATCHER_PUBLIC_URL must be an absolute/],
    [{ MATCHER_EGRESS_ALLOW_HTTP: "yes" }, /MATCHER_EGRESS_ALLOW_HTTP must be "true" or "false"/],
    [{ MATCHER_PULL_CONCURRENCY: "0" }, /MATCHER_PULL_CONCURRENCY must be a whole number above 0/],
    [{ MATCHER_PULL_MAX_ATTEMPTS: "-1" }, /MATCHER_PULL_MAX_ATTEMPTS must be a whole number/],
    [{ MATCHER_PULL_LEASE_SECONDS: "1.5" }, /MATCHER_PULL_LEASE_SECONDS must be a whole number/],
    [{ MATCHER_RETENTION_DAYS: "0" }, /MATCHER_RETENTION_DAYS must be a whole number above 0/],
    [
      { MATCHER_PULL_WEBHOOK_DELAY_MS: "-5" },
      /MATCHER_PULL_WEBHOOK_DELAY_MS must be a whole number/,
    ],
  ];
  for (const [env, pattern] of cases) {
    const err = configError(() => parseConfig(env, () => DEV));
    assert.ok(err.problems.some((p) => pattern.test(p)), `${JSON.stringify(env)}: ${err.message}`);
  }
});

Deno.test("development takes missing secrets from the devSecrets callback", () => {
  const config = parseConfig({}, () => DEV);
  assert.deepEqual(config.auth.secret, new TextEncoder().encode(DEV.jwtSecret));
  assert.equal(config.sealKeys.length, 1);
  assert.equal(config.sealKeys[0].id, "dev1");
  assert.equal(config.sealKeys[0].key.length, 32);
  assert.equal(`dev1:${b64(config.sealKeys[0].key)}`, DEV.sealKeys);
});

Deno.test("development keeps given settings and takes only the missing ones from devSecrets", () => {
  const sealKeys = `mine:${b64(key32())}`;
  const withKeys = parseConfig({ MATCHER_SEAL_KEYS: sealKeys }, () => DEV);
  assert.equal(withKeys.sealKeys[0].id, "mine");
  assert.deepEqual(withKeys.auth.secret, new TextEncoder().encode(DEV.jwtSecret));

  const withSecret = parseConfig({ AUTH_JWT_SECRET: "my-own-secret" }, () => DEV);
  assert.deepEqual(withSecret.auth.secret, new TextEncoder().encode("my-own-secret"));
  assert.equal(withSecret.sealKeys[0].id, "dev1");

  const withJwks = parseConfig({ AUTH_JWKS_URL: "http://127.0.0.1:9999/jwks" }, () => DEV);
  assert.equal(withJwks.auth.secret, undefined, "a JWKS URL is not joined by a dev secret");
  assert.equal(withJwks.auth.jwksUrl?.href, "http://127.0.0.1:9999/jwks");
});

Deno.test("development does not ask for dev secrets when everything is given", () => {
  const config = parseConfig(
    { AUTH_JWT_SECRET: "my-own-secret", MATCHER_SEAL_KEYS: DEV.sealKeys },
    () => assert.fail("devSecrets was called although nothing was missing"),
  );
  assert.equal(config.sealKeys[0].id, "dev1");
});

Deno.test("development without seal keys and without devSecrets is refused", () => {
  const err = configError(() => parseConfig({ AUTH_JWT_SECRET: "my-own-secret" }));
  assert.ok(err.problems.some((p) => /MATCHER_SEAL_KEYS/.test(p)), err.message);
});

Deno.test("loadDevSecrets writes dev-secrets.json with mode 0600 once and reuses it", async () => {
  const root = await Deno.makeTempDir({ prefix: "matcher-config-test-" });
  try {
    const dataDir = join(root, "nested", "data");
    const warnings: string[] = [];
    const first = loadDevSecrets(dataDir, (m) => warnings.push(m));
    const path = join(dataDir, "dev-secrets.json");
    const stat = await Deno.stat(path);
    assert.ok(stat.isFile);
    if (Deno.build.os !== "windows") assert.equal(stat.mode! & 0o777, 0o600);
    const written = await Deno.readTextFile(path);
    assert.deepEqual(JSON.parse(written), first);

    const second = loadDevSecrets(dataDir, (m) => warnings.push(m));
    assert.deepEqual(second, first);
    assert.equal(await Deno.readTextFile(path), written, "the file is not rewritten");
    assert.equal(warnings.length, 2, "both calls warn that these are development secrets");
    assert.match(warnings[0], /generated/);
    assert.match(warnings[1], /using/);

    const config = parseConfig({}, () => loadDevSecrets(dataDir, () => {}));
    assert.deepEqual(config.auth.secret, new TextEncoder().encode(first.jwtSecret));
    assert.equal(config.sealKeys.length, 1);
    assert.equal(config.sealKeys[0].key.length, 32);
    assert.ok(first.jwtSecret.length >= 32, "the generated secret would pass production's length");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("loadDevSecrets generates different secrets for different data dirs", async () => {
  const root = await Deno.makeTempDir({ prefix: "matcher-config-test-" });
  try {
    const a = loadDevSecrets(join(root, "a"), () => {});
    const b = loadDevSecrets(join(root, "b"), () => {});
    assert.notEqual(a.jwtSecret, b.jwtSecret);
    assert.notEqual(a.sealKeys, b.sealKeys);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("egress allow hosts are trimmed, lowercased and empty entries dropped", () => {
  const config = parseConfig({
    MATCHER_EGRESS_ALLOW_HOSTS: " Sandbox.Example.COM , localhost:8443,,[::1]:9000 , 10.0.0.5 ",
  }, () => DEV);
  assert.deepEqual(config.egress.allowHosts, [
    "sandbox.example.com",
    "localhost:8443",
    "[::1]:9000",
    "10.0.0.5",
  ]);
});

Deno.test("egress allow host entries that are not host[:port] are refused", () => {
  const bad = [
    "https://sandbox.example.com",
    "sandbox.example.com/path",
    "user@sandbox.example.com",
    "sandbox example.com",
    "sandbox.example.com:",
    "sandbox.example.com:port",
    "sandbox.example.com:443:1",
    "*.example.com",
  ];
  for (const entry of bad) {
    const err = configError(() =>
      parseConfig({ MATCHER_EGRESS_ALLOW_HOSTS: `good.example.com,${entry}` }, () => DEV)
    );
    assert.deepEqual(
      err.problems,
      [`MATCHER_EGRESS_ALLOW_HOSTS entry "${entry.toLowerCase()}" is not host[:port]`],
      entry,
    );
  }
});

Deno.test({
  name: "an egress allow host with a port above 65535 is refused",
  // Regression: the allow-host pattern once took any 1-5 digit port.
  fn() {
    const err = configError(() =>
      parseConfig({ MATCHER_EGRESS_ALLOW_HOSTS: "sandbox.example.com:70000" }, () => DEV)
    );
    assert.equal(err.problems.length, 1);
  },
});

Deno.test({
  name: "a PORT written other than in decimal digits is refused",
  // Regression: PORT was once read with Number(), so "0x50" became 80.
  fn() {
    for (const port of ["0x50", "1e3", "0b1010"]) {
      const err = configError(() => parseConfig({ PORT: port }, () => DEV));
      assert.ok(err.problems.some((p) => /^PORT/.test(p)), port);
    }
  },
});

Deno.test("vendor timeouts, the response cap and the test limit can be set", () => {
  const config = parseConfig({
    MATCHER_VENDOR_CONNECT_TIMEOUT_MS: "2000",
    MATCHER_VENDOR_TIMEOUT_MS: "9000",
    MATCHER_VENDOR_MAX_RESPONSE_BYTES: "1048576",
    MATCHER_CONNECTION_TESTS_PER_MINUTE: "3",
  }, () => DEV);
  assert.deepEqual(config.vendorHttp, {
    connectTimeoutMs: 2000,
    timeoutMs: 9000,
    maxResponseBytes: 1048576,
  });
  assert.equal(config.connectionTestsPerMinute, 3);
});

Deno.test("vendor limits that are not positive whole numbers are refused", () => {
  for (const value of ["0", "-5", "1.5", "10s", "0x10"]) {
    const err = configError(() =>
      parseConfig(
        { MATCHER_VENDOR_TIMEOUT_MS: value, MATCHER_VENDOR_CONNECT_TIMEOUT_MS: "1" },
        () => DEV,
      )
    );
    assert.deepEqual(err.problems, ["MATCHER_VENDOR_TIMEOUT_MS must be a whole number above 0"]);
  }
  refusedFor(
    productionEnv({ MATCHER_CONNECTION_TESTS_PER_MINUTE: "none" }),
    /MATCHER_CONNECTION_TESTS_PER_MINUTE must be a whole number above 0/,
  );
});

Deno.test("a connect timeout longer than the total timeout is refused", () => {
  const err = configError(() =>
    parseConfig({
      MATCHER_VENDOR_CONNECT_TIMEOUT_MS: "10000",
      MATCHER_VENDOR_TIMEOUT_MS: "5000",
    }, () => DEV)
  );
  assert.match(err.problems.join("\n"), /must not exceed MATCHER_VENDOR_TIMEOUT_MS/);
});

Deno.test({
  name: "Deno Deploy is recognised by what it sets: DENO_DEPLOYMENT_ID, or DENO_DEPLOY=1 or true",
  // Regression: only DENO_DEPLOY === "true" counted, so Deploy Classic (which sets
  // DENO_DEPLOYMENT_ID and DENO_REGION only) or DENO_DEPLOY=1 put the KV in a .matcher/ file.
  fn() {
    const deploys: Env[] = [
      { DENO_DEPLOYMENT_ID: "b6xnhrjhbrb0", DENO_REGION: "gcp-europe-west3" },
      { DENO_DEPLOYMENT_ID: "9f3c2a1e", DENO_DEPLOY: "true", DENO_TIMELINE: "production" },
      { DENO_DEPLOY: "1" },
      { DENO_DEPLOY: "TRUE" },
    ];
    for (const env of deploys) {
      assert.equal(parseConfig(env, () => DEV).kvPath, undefined, JSON.stringify(env));
      assert.equal(parseConfig(productionEnv(env)).kvPath, undefined, JSON.stringify(env));
    }
    for (
      const env of [{ DENO_DEPLOY: "0" }, { DENO_DEPLOY: "false" }, { DENO_DEPLOYMENT_ID: " " }]
    ) {
      assert.equal(
        parseConfig(env, () => DEV).kvPath,
        join(".matcher", "kv.sqlite3"),
        JSON.stringify(env),
      );
    }
  },
});

Deno.test("AUTH_JWT_MAX_AGE_SECONDS sets the oldest token accepted; unset, there is no limit", () => {
  assert.equal(parseConfig({}, () => DEV).auth.maxAgeSeconds, undefined);
  assert.equal(
    parseConfig(productionEnv({ AUTH_JWT_MAX_AGE_SECONDS: "3600" })).auth.maxAgeSeconds,
    3600,
  );
  for (const value of ["0", "-1", "1h", "1.5"]) {
    refusedFor(
      productionEnv({ AUTH_JWT_MAX_AGE_SECONDS: value }),
      /^AUTH_JWT_MAX_AGE_SECONDS must be a whole number above 0$/,
    );
  }
});

Deno.test("AUTH_JWKS_RETRY_SECONDS sets how long a failed JWKS fetch holds off the next", () => {
  assert.equal(parseConfig({}, () => DEV).auth.jwksRetrySeconds, undefined, "auth's default: 5");
  const config = parseConfig(
    productionEnv({
      AUTH_JWT_SECRET: undefined,
      AUTH_JWKS_URL: "https://idp.example.com/jwks",
      AUTH_JWKS_RETRY_SECONDS: "30",
    }),
  );
  assert.equal(config.auth.jwksRetrySeconds, 30);
  refusedFor(
    productionEnv({ AUTH_JWKS_RETRY_SECONDS: "0" }),
    /^AUTH_JWKS_RETRY_SECONDS must be a whole number above 0$/,
  );
});

Deno.test({
  name: "a public URL of only slashes is refused, not taken as an empty base",
  // Regression: the trailing slashes were stripped before the URL check, which skipped an empty
  // value, so even production minted relative webhook URLs.
  fn() {
    for (const url of ["/", "///"]) {
      refusedFor(
        productionEnv({ MATCHER_PUBLIC_URL: url }),
        /^MATCHER_PUBLIC_URL must be an absolute http\(s\) URL$/,
      );
    }
  },
});
