// KV opens and commits that wait out a busy KV file: retried while busy, any other error thrown.
import assert from "node:assert/strict";
import { commitKv, openKv } from "./kv.ts";

const busy = () => new TypeError("database is locked");

/** An atomic operation whose commits answer from `script` in turn. */
function scripted(script: Array<Error | Deno.KvCommitResult>) {
  let calls = 0;
  const op = {
    commit() {
      const next = script[Math.min(calls++, script.length - 1)];
      return next instanceof Error ? Promise.reject(next) : Promise.resolve(next);
    },
  } as unknown as Deno.AtomicOperation;
  return { op, calls: () => calls };
}

const committed: Deno.KvCommitResult = { ok: true, versionstamp: "00000000000000010000" };
const noWait = () => Promise.resolve();

Deno.test("a commit that finds the KV file busy is committed again", async () => {
  const waits: number[] = [];
  const { op, calls } = scripted([busy(), busy(), committed]);
  const result = await commitKv(op, { wait: (ms) => (waits.push(ms), Promise.resolve()) });
  assert.deepEqual(result, committed);
  assert.equal(calls(), 3);
  assert.equal(waits.length, 2);
});

Deno.test("any other commit error is thrown at once, and a file busy for good in the end", async () => {
  const other = scripted([new TypeError("value too large"), committed]);
  await assert.rejects(commitKv(other.op, { wait: noWait }), /value too large/);
  assert.equal(other.calls(), 1);
  const stuck = scripted([busy()]);
  await assert.rejects(commitKv(stuck.op, { wait: noWait, attempts: 5 }), /database is locked/);
  assert.equal(stuck.calls(), 5);
});

Deno.test("opening a KV file another process is setting up is tried again", async () => {
  let calls = 0;
  const store = {} as Deno.Kv;
  const open = () => ++calls < 3 ? Promise.reject(busy()) : Promise.resolve(store);
  assert.equal(await openKv("/tmp/kv", { open, wait: noWait }), store);
  assert.equal(calls, 3);
  const refused = () => Promise.reject(new Error("permission denied"));
  await assert.rejects(openKv("/tmp/kv", { open: refused, wait: noWait }), /permission denied/);
});
