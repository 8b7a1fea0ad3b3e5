// Production refuses every environment in which Deno exports trace spans, as the real process shows.
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../src/config/config.ts";
import { createTestDatabase } from "../support/database.ts";
import { randomKey } from "../support/harness.ts";
import { cleanEnv, startService } from "../support/process.ts";

type Env = Record<string, string>;

/**
 * Environments in which Deno 2.9 exports spans. It reads OTEL_SDK_DISABLED, OTEL_DENO_TRACING and
 * OTEL_DENO as "true"/"false" in any letter case, untrimmed, and ignores any other value.
 */
const TRACING: Env[] = [
  { OTEL_DENO: "true" },
  { OTEL_DENO: "TRUE" },
  { OTEL_DENO: "True" },
  { OTEL_DENO_TRACING: "true" },
  { OTEL_DENO_TRACING: "tRuE" },
  { OTEL_DENO: "false", OTEL_DENO_TRACING: "true" },
  { OTEL_DENO: "true", OTEL_DENO_TRACING: " false" }, // not "false" to Deno, so OTEL_DENO decides
  { OTEL_DENO: "true", OTEL_DENO_TRACING: "no" },
  { OTEL_DENO: "true", OTEL_SDK_DISABLED: "1" }, // only "true" disables
];

/** Environments that mention OpenTelemetry and in which Deno exports no span. */
const NOT_TRACING: Env[] = [
  { OTEL_DENO: "true", OTEL_DENO_TRACING: "false" },
  { OTEL_DENO: "true", OTEL_DENO_TRACING: "FALSE" },
  { OTEL_DENO: "true", OTEL_SDK_DISABLED: "true" },
  { OTEL_DENO_TRACING: "true", OTEL_SDK_DISABLED: "True" },
  { OTEL_DENO: "1" },
  { OTEL_DENO: " true" },
];

/** The operator's word that the collector redacts webhook URLs: tracing, and production starts. */
const REDACTED: Env = { OTEL_DENO: "true", MATCHER_TRACES_REDACTED: "true" };

const REFUSAL = /^OTEL_DENO=true traces every request with its URL/;

const b64 = (bytes: Uint8Array) => bytes.toBase64();

/** Complete settings for the mode; production only lacks a verdict on tracing. */
function settings(production: boolean, databaseUrl: string, dataDir: string): Env {
  return {
    ...(production ? { MATCHER_ENV: "production" } : {}),
    PORT: "0",
    DATABASE_URL: databaseUrl,
    DENO_KV_PATH: ":memory:",
    MATCHER_DATA_DIR: dataDir,
    AUTH_JWT_SECRET: b64(randomKey()),
    MATCHER_SEAL_KEYS: `k1:${b64(randomKey())}`,
    MATCHER_PUBLIC_URL: "https://matcher.example.com",
    // The console exporter prints every span, metric and log record to stderr.
    OTEL_EXPORTER_OTLP_PROTOCOL: "console",
    NO_COLOR: "1",
  };
}

/**
 * Starts the service with `env`, posts to a webhook URL holding a token-shaped canary (404: no
 * such token), stops it, and answers everything it printed and the canary.
 */
async function deliverAndStop(env: Env): Promise<{ output: string; canary: string }> {
  const service = await startService(cleanEnv(env), { direct: true });
  const canary = `mwh_${b64(randomKey()).replace(/[^A-Za-z0-9]/g, "")}`;
  try {
    const res = await fetch(`${service.baseUrl}/v1/discovery/webhooks/pluggy/${canary}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    assert.equal(res.status, 404);
    await res.body?.cancel();
  } finally {
    assert.equal((await service.stop()).code, 0);
  }
  return { output: service.lines.join("\n"), canary };
}

const label = (env: Env) => JSON.stringify(env);

/**
 * Starts the service as `deno task start` does and answers the problems it lists when it refuses;
 * fails the test when it starts instead (after stopping it).
 */
async function refusedStart(env: Env): Promise<string[]> {
  let output: string;
  try {
    const service = await startService(cleanEnv(env), { direct: true });
    await service.stop();
    assert.fail(`production started with ${label(env)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    output = String(err); // startService's error holds what the process printed
  }
  // The problems under the first heading (the console exporter may print them again).
  const lines = output.split("\n");
  const from = lines.indexOf("Invalid configuration:") + 1;
  assert.ok(from > 0, output);
  const end = lines.findIndex((l, i) => i >= from && !l.startsWith("  - "));
  return lines.slice(from, end < 0 ? undefined : end).map((l) => l.slice(4));
}

Deno.test("parseConfig refuses in production exactly the environments in which Deno traces", () => {
  const production = settings(true, "postgres://postgres@127.0.0.1:1/unused", ".matcher");
  for (const env of TRACING) {
    let problems: string[] = [];
    try {
      parseConfig({ ...production, ...env });
    } catch (err) {
      assert.ok(err instanceof ConfigError, label(env));
      problems = err.problems;
    }
    assert.equal(problems.length, 1, `${label(env)} is refused: ${problems.join(" | ")}`);
    assert.match(problems[0], REFUSAL);
    parseConfig({ ...production, ...env, MATCHER_TRACES_REDACTED: "true" });
    parseConfig({ ...settings(false, production.DATABASE_URL, ".matcher"), ...env });
  }
  for (const env of NOT_TRACING) parseConfig({ ...production, ...env });
  parseConfig({ ...production, ...REDACTED });
});

Deno.test({
  name:
    "the real process: Deno traces with each refused environment, and production will not start",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const db = await createTestDatabase();
    const dataDir = await Deno.makeTempDir({ prefix: "matcher-tracing-" });
    try {
      for (const env of TRACING) {
        await t.step(label(env), async () => {
          // Development starts with it, and Deno exports the webhook URL, token and all.
          const { output, canary } = await deliverAndStop({
            ...settings(false, db.url, dataDir),
            ...env,
          });
          assert.match(output, /^SPAN POST /m, "Deno exported the request's span");
          assert.ok(output.includes(`url.path: /v1/discovery/webhooks/pluggy/${canary}`));

          const problems = await refusedStart({ ...settings(true, db.url, dataDir), ...env });
          assert.equal(problems.length, 1, problems.join("\n"));
          assert.match(problems[0], REFUSAL);
        });
      }
    } finally {
      await Deno.remove(dataDir, { recursive: true });
      await db.drop();
    }
  },
});

Deno.test({
  name: "the real process: production starts where Deno exports no span, or the collector redacts",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const db = await createTestDatabase();
    const dataDir = await Deno.makeTempDir({ prefix: "matcher-tracing-" });
    try {
      for (const env of NOT_TRACING) {
        await t.step(label(env), async () => {
          const { output, canary } = await deliverAndStop({
            ...settings(true, db.url, dataDir),
            ...env,
          });
          assert.match(output, /"env":"production"/);
          assert.doesNotMatch(output, /^SPAN /m, "Deno exported no span");
          assert.ok(!output.includes(canary), "the webhook URL is in nothing exported");
        });
      }
      await t.step(label(REDACTED), async () => {
        const { output } = await deliverAndStop({
          ...settings(true, db.url, dataDir),
          ...REDACTED,
        });
        assert.match(output, /"env":"production"/);
        assert.match(output, /^SPAN POST /m, "the spans go to the collector that redacts them");
      });
    } finally {
      await Deno.remove(dataDir, { recursive: true });
      await db.drop();
    }
  },
});
