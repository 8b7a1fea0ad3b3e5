// A consumer of the change feed: follows GET /v1/discovery/transactions/changes from the cursor it
// saved, applies each change to its copy of the transactions, and saves the cursor after each page.
//
//   MATCHER_URL=http://127.0.0.1:8080 MATCHER_TOKEN=<jwt> \
//     deno run --allow-net --allow-env --allow-read --allow-write examples/feed_consumer.ts [--once]
//
// STATE_FILE (default feed-state.json) holds the cursor and the copy; CONNECTION_ID follows one
// connection only. Without --once it polls every POLL_MS (default 2000) once up to date.

interface Change {
  change: "upserted" | "deleted";
  cursor: string;
  id: string;
  transaction: Record<string, unknown> | null;
}

interface State {
  cursor: string | null;
  transactions: Record<string, Record<string, unknown>>;
}

const baseUrl = Deno.env.get("MATCHER_URL") ?? "http://127.0.0.1:8080";
const token = Deno.env.get("MATCHER_TOKEN");
const stateFile = Deno.env.get("STATE_FILE") ?? "feed-state.json";
const connectionId = Deno.env.get("CONNECTION_ID");
const pollMs = Number(Deno.env.get("POLL_MS") ?? 2_000);
const once = Deno.args.includes("--once");
if (!token) throw new Error("set MATCHER_TOKEN to a bearer token of your tenant");

async function load(): Promise<State> {
  try {
    return JSON.parse(await Deno.readTextFile(stateFile));
  } catch {
    return { cursor: null, transactions: {} };
  }
}

/** Written to a temporary file and renamed: a crash leaves the old state or the new, never half. */
async function save(state: State): Promise<void> {
  await Deno.writeTextFile(`${stateFile}.tmp`, JSON.stringify(state));
  await Deno.rename(`${stateFile}.tmp`, stateFile);
}

const state = await load();
let applied = 0;
for (;;) {
  const query = new URLSearchParams({ limit: "200" });
  if (state.cursor) query.set("after", state.cursor);
  if (connectionId) query.set("connectionId", connectionId);
  const res = await fetch(`${baseUrl}/v1/discovery/transactions/changes?${query}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  if (!res.ok) throw new Error(`the feed answered ${res.status}: ${await res.text()}`);
  const page: { items: Change[]; nextCursor: string | null; hasMore: boolean } = await res.json();
  for (const item of page.items) {
    // Apply in order: a later item of the same transaction is its newer state.
    if (item.change === "deleted") delete state.transactions[item.id];
    else state.transactions[item.id] = item.transaction!;
  }
  applied += page.items.length;
  // Saved only after the page is applied: a crash in between reads the page again (harmless).
  if (page.nextCursor) state.cursor = page.nextCursor;
  await save(state);
  if (page.hasMore) continue;
  if (once) break;
  await new Promise((r) => setTimeout(r, pollMs));
}
console.log(JSON.stringify({ applied, transactions: Object.keys(state.transactions).length }));
