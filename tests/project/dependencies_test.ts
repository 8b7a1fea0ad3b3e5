// The two import maps, read as files: deno.json is the runtime's (what the image, Deno Deploy and
// the image's scripts install), deno.dev.json is the runtime's plus the tools' and tests'. They
// cannot drift apart, and the runtime's names exactly what the service's code imports.
import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url);
const readJson = async (path: string) => JSON.parse(await Deno.readTextFile(new URL(path, ROOT)));

// Loaded only by a development start without DATABASE_URL, through a computed specifier, so its
// PGlite comes from deno.dev.json and stays out of what the image and Deno Deploy ship.
const DEV_ONLY = "src/db/embedded.ts";

/** The files the service runs: src/ and generated/ without tests, and the image's scripts. */
async function runtimeFiles(): Promise<string[]> {
  const files = ["scripts/token.ts", "scripts/keys_rewrap.ts"];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
      const path = `${dir}${entry.name}`;
      if (entry.isDirectory) await walk(`${path}/`);
      else if (path.endsWith(".ts") && !path.endsWith("_test.ts")) files.push(path);
    }
  };
  await walk("src/");
  await walk("generated/");
  return files;
}

/** The bare specifiers a file imports (static, dynamic or re-exported; not node:, ./ or npm:). */
async function bareImports(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  const found = text.matchAll(/(?:\bfrom|^import|\bimport\()\s*["']([^"']+)["']/gm);
  return [...found].map((m) => m[1]).filter((s) => !/^(\.|\/|node:|npm:|jsr:|https?:)/.test(s));
}

/** The import-map key that maps `specifier`: itself, the longest "prefix/" key, or its package's
 * name (Deno maps an npm package's subpaths through the package's own key). */
function mapKey(imports: Record<string, string>, specifier: string): string | undefined {
  if (specifier in imports) return specifier;
  const prefix = Object.keys(imports).filter((k) => k.endsWith("/") && specifier.startsWith(k))
    .sort((a, b) => b.length - a.length)[0];
  const name = specifier.split("/").slice(0, specifier.startsWith("@") ? 2 : 1).join("/");
  return prefix ?? (name in imports ? name : undefined);
}

Deno.test("the development import map pins every runtime package at the runtime's version", async () => {
  const runtime = await readJson("deno.json");
  const dev = await readJson("deno.dev.json");
  for (const [name, target] of Object.entries(runtime.imports)) {
    assert.equal(dev.imports[name], target, `deno.dev.json pins ${name} as deno.json does`);
  }
});

Deno.test("the runtime's import map names what the service imports, and nothing else", async () => {
  const { imports } = await readJson("deno.json");
  const dev = await readJson("deno.dev.json");
  const used = new Set<string>();
  for (const file of await runtimeFiles()) {
    for (const specifier of await bareImports(file)) {
      const key = mapKey(file === DEV_ONLY ? dev.imports : imports, specifier);
      assert.ok(key, `${file} imports ${specifier}, which its import map does not name`);
      if (file !== DEV_ONLY) used.add(key);
    }
  }
  assert.deepEqual(Object.keys(imports).sort(), [...used].sort(), "no package the service leaves");
});

Deno.test("both locks are frozen and resolve the packages they share the same way", async () => {
  const runtime = await readJson("deno.json");
  const dev = await readJson("deno.dev.json");
  assert.deepEqual(runtime.lock, { path: "./deno.lock", frozen: true });
  assert.deepEqual(dev.lock, { path: "./deno.dev.lock", frozen: true });
  const runtimeLock = await readJson("deno.lock");
  const devLock = await readJson("deno.dev.lock");
  const named = Object.values<string>(runtime.imports).map((t) => t.replace(/^npm:\/?|\/$/g, ""));
  assert.deepEqual(
    runtimeLock.workspace.dependencies.sort(),
    [...new Set(named)].map((t) => `npm:${t}`).sort(),
    "deno.lock is the lock of deno.json's import map",
  );
  for (const [id, entry] of Object.entries(runtimeLock.npm)) {
    assert.deepEqual(devLock.npm[id], entry, `deno.dev.lock resolves ${id} as deno.lock does`);
  }
});

Deno.test("the graph of main.ts and the image's scripts on the runtime config leaves PGlite out", async () => {
  const { npm } = await readJson("deno.lock");
  for (const entry of ["src/main.ts", "scripts/token.ts", "scripts/keys_rewrap.ts"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", "--config", "deno.json", entry],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    const files: string[] = info.modules.map((m: { specifier: string }) => m.specifier);
    assert.ok(!files.some((f) => f.endsWith(`/${DEV_ONLY}`)), `${entry} reaches ${DEV_ONLY}`);
    for (const id of Object.keys(info.npmPackages)) {
      assert.ok(id in npm, `${entry} reaches npm:${id}, which deno.lock does not hold`);
    }
  }
});
