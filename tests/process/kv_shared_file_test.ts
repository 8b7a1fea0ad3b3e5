// Several processes adding to one counter in a shared KV file, as replicas sharing one do: the
// retried opens and commits of src/db/kv.ts lose no update and fail none.
import assert from "node:assert/strict";

Deno.test("two processes adding to one counter in a shared KV file lose no update and fail none", async () => {
  const dir = await Deno.makeTempDir({ prefix: "matcher-kv-" });
  const path = `${dir}/kv.sqlite3`;
  const script = new URL("../support/kv_counter.ts", import.meta.url).pathname;
  try {
    const run = () =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "--unstable-kv", "--allow-read", "--allow-write", script, path, "300"],
        stdout: "piped",
        stderr: "piped",
      }).output();
    const outputs = await Promise.all([run(), run(), run()]);
    for (const out of outputs) {
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    const kv = await Deno.openKv(path);
    assert.equal((await kv.get(["counter"])).value, 900);
    kv.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
