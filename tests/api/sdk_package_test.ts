// The client as its users get it: a Deno project that links clients/typescript and imports
// @matcher/discovery-client, and a Node project that npm-installs the packed tarball; each pages
// through the live service's connections with paginate, through the manifests' exports only.
import assert from "node:assert/strict";
import { type Harness, newTenant, pluggyBody, startHarness } from "../support/harness.ts";

const ROOT = new URL("../../", import.meta.url);
const CLIENT = new URL("clients/typescript/", ROOT);
const FIXTURES = new URL("sdk_package/", import.meta.url);
const CONNECTIONS = "/v1/discovery/aggregator-connections";
const COUNT = 45;

interface Manifest {
  name: string;
  version: string;
  license?: string;
  imports?: Record<string, string>;
  dependencies?: Record<string, string>;
}

const readJson = async (url: URL): Promise<Manifest> => JSON.parse(await Deno.readTextFile(url));

/** What a consumer script printed: the ids paginate yielded, and the error of a refused page. */
interface Outcome {
  ids: string[];
  failure: Record<string, unknown>;
}

/** Runs a command to its end (two minutes at most) and answers its stdout; fails with its output. */
async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(
    out.code,
    0,
    `${cmd} ${args.join(" ")} in ${cwd}:\n${text(out.stdout)}${text(out.stderr)}`,
  );
  return text(out.stdout);
}

/** The service with COUNT connections of a fresh tenant; answers their ids as one page lists them. */
async function withConnections(
  use: (h: Harness, env: Record<string, string>, ids: string[]) => Promise<void>,
): Promise<void> {
  const h = await startHarness();
  try {
    const tenant = newTenant();
    for (let i = 0; i < COUNT; i++) {
      const res = await h.request(CONNECTIONS, {
        method: "POST",
        tenant,
        json: pluggyBody({ configName: `pluggy-${i}` }),
      });
      assert.equal(res.status, 201, await res.text());
    }
    const all = await h.request(`${CONNECTIONS}?limit=200`, { tenant });
    const ids = (await all.json()).items.map((c: { id: string }) => c.id);
    assert.equal(ids.length, COUNT);
    await use(h, { MATCHER_URL: h.baseUrl, MATCHER_TOKEN: await h.token(tenant) }, ids);
  } finally {
    await h.close();
  }
}

/** Counts the list requests the service logged after `from`, by status. */
function listRequests(h: Harness, from: number): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const line of h.logs.slice(from)) {
    const entry = JSON.parse(line);
    if (entry.msg === "request" && entry.method === "GET" && entry.route === CONNECTIONS) {
      counts[entry.status] = (counts[entry.status] ?? 0) + 1;
    }
  }
  return counts;
}

/** Both consumers must see every connection once, in the service's order, over three pages of 20,
 * and a refused page as a thrown MatcherApiError carrying the envelope. */
function assertOutcome(h: Harness, from: number, ids: string[], stdout: string): void {
  const outcome: Outcome = JSON.parse(stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(outcome.ids, ids, "every connection exactly once, newest first");
  assert.deepEqual(listRequests(h, from), { 200: 3, 400: 1 }, "pages of 20, then the refused one");
  assert.equal(outcome.failure.name, "MatcherApiError");
  assert.equal(outcome.failure.status, 400);
  assert.equal(outcome.failure.code, "MTCH-1002");
  assert.equal(outcome.failure.title, "Bad Request");
  assert.equal(typeof outcome.failure.message, "string");
}

Deno.test("the Deno and npm manifests name one package, and the openapi-fetch the root pins", async () => {
  const root = await readJson(new URL("deno.dev.json", ROOT));
  const deno = await readJson(new URL("deno.json", CLIENT));
  const npm = await readJson(new URL("package.json", CLIENT));
  assert.equal(npm.name, deno.name);
  assert.equal(npm.version, deno.version);
  assert.equal(npm.license, deno.license);
  const pinned = root.imports?.["openapi-fetch"];
  assert.ok(pinned);
  assert.equal(deno.imports?.["openapi-fetch"], pinned);
  assert.equal(`npm:openapi-fetch@${npm.dependencies?.["openapi-fetch"]}`, pinned);
});

Deno.test("a Deno project that links the client folder pages through 45 connections", async () => {
  const { name, version } = await readJson(new URL("deno.json", CLIENT));
  const dir = await Deno.makeTempDir({ prefix: "matcher-sdk-deno-" });
  try {
    // What a Deno user does before a JSR release: import the package by name and link the folder;
    // resolution goes through its deno.json (name, version, exports, its own openapi-fetch).
    await Deno.writeTextFile(
      `${dir}/deno.json`,
      JSON.stringify({
        imports: { [name]: `jsr:${name}@${version}` },
        links: [new URL(CLIENT).pathname],
      }),
    );
    for (const file of ["consumer.ts", "types_check.ts"]) {
      await Deno.copyFile(new URL(file, FIXTURES), `${dir}/${file}`);
    }
    await run(Deno.execPath(), ["check", "--quiet", "consumer.ts", "types_check.ts"], dir);
    await withConnections(async (h, env, ids) => {
      const from = h.logs.length;
      const host = new URL(h.baseUrl).host;
      const stdout = await run(
        Deno.execPath(),
        [
          "run",
          "--quiet",
          `--allow-net=${host}`,
          "--allow-env=MATCHER_URL,MATCHER_TOKEN",
          "consumer.ts",
        ],
        dir,
        env,
      );
      assertOutcome(h, from, ids, stdout);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a Node project that npm-installs the packed client pages through 45 connections", async () => {
  const dir = await Deno.makeTempDir({ prefix: "matcher-sdk-node-" });
  try {
    // The maintainer's side: a clean copy of the folder, its locked build tools, `npm pack` (whose
    // prepack builds dist/ with tsc).
    const build = `${dir}/build`;
    const app = `${dir}/app`;
    await Deno.mkdir(build);
    await Deno.mkdir(app);
    for await (const entry of Deno.readDir(CLIENT)) {
      if (entry.isFile) await Deno.copyFile(new URL(entry.name, CLIENT), `${build}/${entry.name}`);
    }
    await run("npm", ["ci", "--no-audit", "--no-fund"], build);
    await run("npm", ["pack", "--pack-destination", app], build);
    const [tarball] = [...Deno.readDirSync(app)].filter((e) => e.name.endsWith(".tgz"));
    assert.ok(tarball, "npm pack wrote no tarball");

    // The user's side: an ES module project that installs the tarball, as it would the registry's.
    await Deno.writeTextFile(
      `${app}/package.json`,
      JSON.stringify({ private: true, type: "module" }),
    );
    await run("npm", ["install", "--no-audit", "--no-fund", `./${tarball.name}`], app);
    for (const file of ["consumer.mjs", "types_check.ts"]) {
      await Deno.copyFile(new URL(file, FIXTURES), `${app}/${file}`);
    }
    // tsc resolves the package as a TypeScript user's project would: through exports' "types".
    await Deno.writeTextFile(
      `${app}/tsconfig.json`,
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          lib: ["ES2022", "DOM", "DOM.Iterable"],
          strict: true,
          noEmit: true,
        },
        files: ["types_check.ts"],
      }),
    );
    await run("node", [`${build}/node_modules/typescript/bin/tsc`, "-p", "tsconfig.json"], app);

    await withConnections(async (h, env, ids) => {
      const from = h.logs.length;
      const stdout = await run("node", ["consumer.mjs"], app, env);
      assertOutcome(h, from, ids, stdout);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
