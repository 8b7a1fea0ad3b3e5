// Two service processes on one Postgres and one KV file get each keyed write at the same moment:
// every operation runs once (counted in the database and KV), and both answer the same.
import assert from "node:assert/strict";
import postgres from "postgres";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { createSharedTestDatabase } from "../support/database.ts";
import { startService } from "../support/process.ts";
import { sharedReplicas } from "../support/replicas.ts";
import { forEachBounded, jsonLines } from "../support/replica_burst.ts";

const ROUNDS = 30;
const IN_FLIGHT = 6; // rounds at once, each sending its request to both replicas together

type Service = Awaited<ReturnType<typeof startService>>;
type Answer = { status: number; text: string; replayed: string | null };

Deno.test({
  name: "two replicas given the same Idempotency-Key at once run the operation once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const db = await createSharedTestDatabase(t);
    if (!db) return;
    const pluggy = await startFakePluggy({ items: Array.from({ length: ROUNDS }, () => ({})) });
    const { dir, env, jwt: bearer } = await sharedReplicas({
      databaseUrl: db.url,
      prefix: "matcher-idempotency-",
      egressHosts: [pluggy.host],
    });
    const sql = postgres(db.url, { max: 2, onnotice: () => {} });
    let replicas: Service[] = [];
    try {
      replicas = await Promise.all([0, 1].map((r) => startService(env(r), { direct: true })));
      const tenant = crypto.randomUUID();
      const jwt = await bearer(tenant);
      const send = async (
        replica: number,
        method: string,
        path: string,
        key: string,
        body?: unknown,
      ) => {
        const res = await fetch(`${replicas[replica].baseUrl}/v1/discovery${path}`, {
          method,
          headers: {
            Authorization: `Bearer ${jwt}`,
            "Idempotency-Key": key,
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
        return {
          status: res.status,
          text: await res.text(),
          replayed: res.headers.get("Idempotency-Replayed"),
        };
      };
      /** The same request, with one key, to both replicas at the same moment. */
      const both = (method: string, path: string, body?: unknown): Promise<Answer[]> => {
        const key = crypto.randomUUID();
        return Promise.all([0, 1].map((r) => send(r, method, path, key, body)));
      };
      /** Both answered `status` with the same body, and exactly one of them is the replay. */
      const once = (answers: Answer[], status: number, what: string) => {
        assert.deepEqual(
          answers.map((a) => a.status),
          [status, status],
          `${what}: ${answers[0].text}`,
        );
        assert.equal(answers[0].text, answers[1].text, `${what}: both answered the same`);
        assert.deepEqual(answers.map((a) => a.replayed).sort(), [null, "true"].sort(), what);
        return answers[0].text ? JSON.parse(answers[0].text) : null;
      };
      const rounds = Array.from({ length: ROUNDS }, (_, i) => i);

      const ids: string[] = [];
      await forEachBounded(rounds, IN_FLIGHT, async (i) => {
        const created = once(
          await both("POST", "/aggregator-connections", {
            vendor: "pluggy",
            configName: `pluggy-${i}`,
            baseUrl: pluggy.url,
            accountRef: pluggy.items[i].id,
            clientId: "fake-client-id",
            secret: "fake-client-secret",
          }),
          201,
          `create ${i}`,
        );
        ids[i] = created.id;
      });
      const [{ n: connections }] = await sql`select count(*)::int as n from connections
                                             where tenant_id = ${tenant}`;
      assert.equal(connections, ROUNDS, "one connection a round");

      const tokens: string[] = [];
      await forEachBounded(rounds, IN_FLIGHT, async (i) => {
        const minted = once(
          await both("POST", "/webhooks/tokens", {
            vendor: "pluggy",
            connection_config_name: `pluggy-${i}`,
          }),
          201,
          `mint ${i}`,
        );
        tokens.push(minted.token);
      });
      assert.equal(new Set(tokens).size, ROUNDS);
      const listed = JSON.parse((await send(0, "GET", "/webhooks/tokens?limit=200", "-")).text);
      assert.equal(listed.items.length, ROUNDS, "one token a round, in the shared KV");

      await forEachBounded(rounds, IN_FLIGHT, async (i) => {
        once(await both("POST", `/aggregator-connections/${ids[i]}/pulls`), 202, `pull ${i}`);
      });
      // The same key with two different bodies at once: one runs, the other is refused.
      await forEachBounded(rounds, IN_FLIGHT, async (i) => {
        const key = crypto.randomUUID();
        const body = (name: string) => ({
          vendor: "pluggy",
          configName: name,
          baseUrl: pluggy.url,
          accountRef: pluggy.items[i].id,
          clientId: "fake-client-id",
          secret: "fake-client-secret",
        });
        const answers = await Promise.all([
          send(0, "POST", "/aggregator-connections", key, body(`left-${i}`)),
          send(1, "POST", "/aggregator-connections", key, body(`right-${i}`)),
        ]);
        assert.deepEqual(answers.map((a) => a.status).sort(), [201, 422], `conflict ${i}`);
      });
      const [{ n: conflicts }] = await sql`select count(*)::int as n from connections
        where tenant_id = ${tenant} and (config_name like 'left-%' or config_name like 'right-%')`;
      assert.equal(conflicts, ROUNDS, "one connection a conflicting round");

      await forEachBounded(rounds, IN_FLIGHT, async (i) => {
        once(await both("DELETE", `/aggregator-connections/${ids[i]}`), 204, `delete ${i}`);
      });
      const [{ n: live }] = await sql`select count(*)::int as n from connections
        where tenant_id = ${tenant} and config_name like 'pluggy-%' and deleted_at is null`;
      assert.equal(live, 0);
      const [{ n: keys }] = await sql`select count(*)::int as n from idempotency_keys
                                      where tenant_id = ${tenant} and state = 'done'`;
      assert.equal(keys, 5 * ROUNDS, "every key kept its answer");

      const exits = await Promise.all(replicas.map((r) => r.stop()));
      assert.deepEqual(exits.map((s) => s.code), [0, 0], "both stop cleanly");
      for (const [r, service] of replicas.entries()) {
        const lines = jsonLines(service.lines);
        const replays = lines.filter((l) => l.idempotency === "replayed").length;
        assert.ok(replays > 0, `replica ${r} replayed some answers`);
        const bad = lines.filter((l) =>
          l.msg === "idempotency key not settled" ||
          (l.msg === "request" && (l.status as number) >= 500)
        );
        assert.deepEqual(bad, [], `replica ${r} settled every key and answered no 5xx`);
      }
    } finally {
      await Promise.all(replicas.map((r) => r.stop().catch(() => {})));
      await sql.end();
      await pluggy.close();
      await db.drop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
