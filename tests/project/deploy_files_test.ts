// The Dockerfile and deploy/compose.yaml, read as text: no Docker engine is needed to catch a
// dependency layer that stops being cacheable, a root user, or settings the service does not read.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { settingNames } from "../../src/config/config.ts";

const root = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));

/** The Dockerfile's instructions, continuation lines joined, comments dropped. */
async function dockerInstructions(): Promise<{ op: string; args: string }[]> {
  const text = (await read("Dockerfile")).replace(/\\\n\s*/g, " ");
  return text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")).map((l) => {
    const [op, ...rest] = l.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(" ") };
  });
}

/** The setting names src/config/config.ts reads from the environment. */
function configSettings(): Set<string> {
  return new Set(settingNames);
}

Deno.test("the Dockerfile installs dependencies from deno.json and deno.lock alone, before any code", async () => {
  const steps = await dockerInstructions();
  const install = steps.findIndex((s) => s.op === "RUN" && /^deno install\b/.test(s.args));
  assert.ok(install > 0, "there is a deno install step");
  const copiesBefore = steps.slice(0, install).filter((s) => s.op === "COPY");
  // deno.lock records each workspace member's manifests, so those would come too (the runtime's
  // deno.json has none: the client package is a member of deno.dev.json's workspace).
  const { workspace = [] } = JSON.parse(await read("deno.json"));
  const members = (workspace as string[]).map((m) => m.replace(/^\.\//, "").replace(/\/?$/, "/"));
  assert.deepEqual(copiesBefore.map((s) => s.args), [
    "deno.json deno.lock ./",
    ...members.map((m) => `${m}deno.json ${m}package.json ${m}`),
  ]);
  assert.match(steps[install].args, /--frozen/, "the lock is not rewritten in the build");
  const cache = steps.findIndex((s) => s.op === "RUN" && /^deno cache\b/.test(s.args));
  assert.ok(cache > install, "the code is cached after the dependency layer");
  assert.ok(
    steps.slice(install + 1, cache).some((s) => s.op === "COPY" && /\bsrc\//.test(s.args)),
    "src/ is copied between the two",
  );
});

Deno.test("every path the Dockerfile copies exists in the repository", async () => {
  for (const step of (await dockerInstructions()).filter((s) => s.op === "COPY")) {
    const sources = step.args.split(" ").filter((a) => !a.startsWith("--")).slice(0, -1);
    for (const source of sources) {
      await Deno.stat(new URL(source, root)); // throws NotFound
    }
  }
});

Deno.test("the image runs as the non-root deno user in production mode on all interfaces", async () => {
  const steps = await dockerInstructions();
  const users = steps.filter((s) => s.op === "USER").map((s) => s.args);
  assert.deepEqual(users, ["deno"], "one USER, and it is deno");
  const userAt = steps.findIndex((s) => s.op === "USER");
  const lastRun = steps.findLastIndex((s) => s.op === "RUN");
  assert.ok(userAt < lastRun, "dependencies are cached as deno, so deno owns the cache");
  const env = steps.filter((s) => s.op === "ENV").map((s) => s.args).join(" ");
  assert.match(env, /\bHOST=0\.0\.0\.0\b/);
  assert.match(env, /\bMATCHER_ENV=production\b/);
  const health = steps.find((s) => s.op === "HEALTHCHECK");
  assert.ok(health && /\/health\b/.test(health.args), "the health check calls /health");
});

Deno.test("the image starts main.ts with the permissions of `deno task start`, from the cache only", async () => {
  const deno = JSON.parse(await read("deno.json"));
  const taskFlags = deno.tasks.start.split(" ").filter((a: string) => a.startsWith("--allow"));
  const cmd = (await dockerInstructions()).filter((s) => s.op === "CMD").at(-1);
  assert.ok(cmd, "there is a CMD");
  const args: string[] = JSON.parse(cmd.args);
  assert.deepEqual(args.slice(0, 2), ["deno", "run"]);
  assert.equal(args.at(-1), "src/main.ts");
  assert.deepEqual(args.filter((a) => a.startsWith("--allow")).sort(), [...taskFlags].sort());
  assert.ok(args.includes("--cached-only"), "a production start never downloads");
});

Deno.test("the compose example sets only settings the service reads, and all that production needs", async () => {
  const compose = parse(await read("deploy/compose.yaml"));
  const env: Record<string, string> = compose.services.matcher.environment;
  const known = configSettings();
  for (const name of Object.keys(env)) {
    if (name === "DENO_KV_ACCESS_TOKEN") continue; // read by Deno itself for KV Connect
    assert.ok(known.has(name), `${name} is not a setting of src/config/config.ts`);
  }
  for (
    const required of ["DATABASE_URL", "AUTH_JWT_SECRET", "MATCHER_SEAL_KEYS", "MATCHER_PUBLIC_URL"]
  ) {
    assert.ok(required in env, `${required} is set`);
  }
  assert.match(env.DENO_KV_PATH, /^http:\/\/denokv:4512$/, "KV is the shared denokv");
  assert.ok(compose.services.matcher.deploy.replicas > 1, "several replicas");
  assert.match(env.DATABASE_URL, /@postgres:5432\//, "one Postgres for all of them");
});

Deno.test("the dependency layer installs from exactly what the Dockerfile copies before it", async () => {
  const steps = await dockerInstructions();
  const install = steps.findIndex((s) => s.op === "RUN" && /^deno install\b/.test(s.args));
  const dir = await Deno.makeTempDir({ prefix: "matcher-image-deps-" });
  try {
    for (const step of steps.slice(0, install).filter((s) => s.op === "COPY")) {
      const [target, ...sources] = step.args.split(" ").filter((a) => !a.startsWith("--"))
        .reverse();
      await Deno.mkdir(`${dir}/${target}`, { recursive: true });
      for (const source of sources) {
        await Deno.copyFile(new URL(source, root), `${dir}/${target}/${source.split("/").pop()}`);
      }
    }
    // The same command as the image, on the same lock; packages come from the local cache.
    const out = await new Deno.Command(Deno.execPath(), {
      args: steps[install].args.split(" ").slice(1),
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
