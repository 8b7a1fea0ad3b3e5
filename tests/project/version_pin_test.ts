// Deno's version is pinned once, in .deno-version; everything that names it must agree.
import assert from "node:assert/strict";

const root = new URL("../../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));
const pinned = (await read(".deno-version")).trim();

Deno.test("the tests run on the pinned Deno version", () => {
  assert.equal(Deno.version.deno, pinned);
});

Deno.test("the README, the Dockerfile and CI use the pinned Deno version", async () => {
  const readme = await read("README.md");
  assert.ok(readme.includes(`npx -y deno@${pinned} task start`));
  assert.ok(readme.includes(`npx -y deno@${pinned} task test`));
  for (const other of readme.matchAll(/deno@(\d+\.\d+\.\d+)/g)) assert.equal(other[1], pinned);
  assert.match(
    await read("Dockerfile"),
    new RegExp(`ARG DENO_VERSION=${pinned.replaceAll(".", "\\.")}\\n`),
  );
  assert.match(await read(".ci/run"), /version=\$\(cat \.deno-version\)/);
});
