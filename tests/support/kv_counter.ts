// A child process for kv_commit_test: adds 1 to a counter in a KV file N times with checked commits.
import { commitKv, openKv } from "../../src/db/kv.ts";

const [path, times] = Deno.args;
const kv = await openKv(path);
let added = 0;
while (added < Number(times)) {
  const entry = await kv.get<number>(["counter"]);
  const result = await commitKv(kv.atomic().check(entry).set(["counter"], (entry.value ?? 0) + 1));
  if (result.ok) added++;
}
kv.close();
console.log(JSON.stringify({ added }));
