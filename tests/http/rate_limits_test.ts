// Per-tenant limits by route class over HTTP: the RateLimit fields on every limited answer, 429
// with Retry-After past the quota, each class and each tenant apart, whole again the next minute.
import assert from "node:assert/strict";
import { type Harness, newTenant, pluggyBody, startHarness } from "../support/harness.ts";
import { testClock } from "../support/pulls.ts";

const API = "/v1/discovery";
const MINUTE = 60_000;

/** The request, its status and the two fields (and Retry-After), body read. */
async function limited(h: Harness, path: string, init: Parameters<Harness["request"]>[1]) {
  const res = await h.request(`${API}${path}`, init);
  const body = await res.text();
  return {
    status: res.status,
    body: body ? JSON.parse(body) : null,
    policy: res.headers.get("RateLimit-Policy"),
    limit: res.headers.get("RateLimit"),
    retryAfter: res.headers.get("Retry-After"),
  };
}

Deno.test("each class of the tenant API has its quota a minute, with the RateLimit fields", async (t) => {
  // 15 s into a minute: 45 s are left in it.
  const clock = testClock(Math.ceil(Date.now() / MINUTE) * MINUTE + 15_000);
  const h = await startHarness({
    now: clock.now,
    rateLimits: { perTenant: { reads: 3, writes: 2, liveTests: 1, pulls: 2 } },
  });
  const tenant = newTenant();
  const other = newTenant();
  try {
    let connectionId = "";
    await t.step("reads: three answers counting down, then 429 on any read", async () => {
      const answers = [
        await limited(h, "/aggregator-connections", { tenant }),
        await limited(h, "/connector-types", { tenant }),
        // An answer after the limiter that is not a success still counts and still says so.
        await limited(h, `/aggregator-connections/${crypto.randomUUID()}`, { tenant }),
      ];
      assert.deepEqual(answers.map((a) => a.status), [200, 200, 404]);
      assert.ok(answers.every((a) => a.policy === '"reads";q=3;w=60'));
      assert.deepEqual(answers.map((a) => a.limit), [
        '"reads";r=2;t=45',
        '"reads";r=1;t=45',
        '"reads";r=0;t=45',
      ]);
      const refused = await limited(h, "/webhooks/tokens", { tenant });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.code, "MTCH-1429");
      assert.equal(refused.body.title, "Too Many Requests");
      assert.match(refused.body.message, /Too many reads requests/);
      assert.equal(refused.retryAfter, "45");
      assert.equal(refused.policy, '"reads";q=3;w=60');
      assert.equal(refused.limit, '"reads";r=0;t=45');
    });

    await t.step("writes, live tests and pulls are counted apart from reads", async () => {
      const created = await limited(h, "/aggregator-connections", {
        method: "POST",
        tenant,
        json: pluggyBody(),
      });
      assert.equal(created.status, 201);
      assert.equal(created.policy, '"writes";q=2;w=60');
      assert.equal(created.limit, '"writes";r=1;t=45');
      connectionId = created.body.id;
      // A bad body is refused after it was counted: the quota protects before the body is read.
      const bad = await limited(h, "/webhooks/tokens", { method: "POST", tenant, json: {} });
      assert.equal(bad.status, 400);
      assert.equal(bad.limit, '"writes";r=0;t=45');
      const third = await limited(h, `/aggregator-connections/${connectionId}`, {
        method: "DELETE",
        tenant,
      });
      assert.equal(third.status, 429);
      assert.equal(third.policy, '"writes";q=2;w=60');

      const test = { method: "POST", tenant, json: { vendor: "pluggy", configName: "nope" } };
      const tested = await limited(h, "/aggregator-connections/test", test);
      assert.equal(tested.status, 404);
      assert.equal(tested.policy, '"live-tests";q=1;w=60');
      assert.equal((await limited(h, "/aggregator-connections/test", test)).status, 429);

      const pull = { method: "POST", tenant };
      const pulls = [
        await limited(h, `/aggregator-connections/${connectionId}/pulls`, pull),
        await limited(h, `/pulls/${crypto.randomUUID()}/retry`, pull),
        await limited(h, `/aggregator-connections/${connectionId}/pulls`, pull),
      ];
      assert.deepEqual(pulls.map((p) => p.status), [202, 404, 429]);
      assert.deepEqual(pulls.map((p) => p.limit), [
        '"pulls";r=1;t=45',
        '"pulls";r=0;t=45',
        '"pulls";r=0;t=45',
      ]);
    });

    await t.step("another tenant has its own quotas", async () => {
      const answer = await limited(h, "/aggregator-connections", { tenant: other });
      assert.equal(answer.status, 200);
      assert.equal(answer.limit, '"reads";r=2;t=45');
    });

    await t.step("a refused bearer token is not counted and gets no RateLimit fields", async () => {
      const res = await limited(h, "/aggregator-connections", {
        headers: { Authorization: "Bearer nonsense" },
      });
      assert.equal(res.status, 401);
      assert.equal(res.policy, null);
      assert.equal(res.limit, null);
    });

    await t.step("the next minute each quota is whole again, refusals not counted", async () => {
      clock.advance(45_000);
      const read = await limited(h, `/aggregator-connections/${connectionId}`, { tenant });
      assert.equal(read.status, 200);
      assert.equal(read.limit, '"reads";r=2;t=60');
      assert.equal(
        (await limited(h, `/aggregator-connections/${connectionId}/pulls`, {
          method: "POST",
          tenant,
        })).status,
        202,
      );
    });

    await t.step("counts of past minutes are pruned from KV", async () => {
      const windows = async () => {
        const seen = new Set<unknown>();
        for await (const e of h.kv.list({ prefix: ["tenant_requests"] })) seen.add(e.key[1]);
        return [...seen];
      };
      /** Polls until `holds` is true of the minutes KV holds counts of (written every 100 ms). */
      const until = async (holds: (minutes: unknown[], now: number) => boolean) => {
        for (let i = 0; i < 300; i++) {
          if (holds(await windows(), Math.floor(clock.now() / MINUTE))) return;
          await new Promise((r) => setTimeout(r, 10));
        }
        assert.fail(`KV holds the counts of minutes ${await windows()}`);
      };
      // This minute's counts, and perhaps the last minute's: a prune keeps the window before this
      // one (and the last minute's counts are dropped if it ended before they were written).
      await until((minutes, now) =>
        String(minutes) === String([now]) || String(minutes) === String([now - 1, now])
      );
      clock.advance(2 * MINUTE);
      assert.equal((await limited(h, "/connector-types", { tenant })).status, 200);
      // Two minutes on: only the new minute's counts are left.
      await until((minutes, now) => String(minutes) === String([now]));
    });
  } finally {
    await h.close();
  }
});

Deno.test("a class whose limit is off is neither counted nor announced", async () => {
  const h = await startHarness({ rateLimits: { perTenant: { reads: 0, writes: 1 } } });
  const tenant = newTenant();
  try {
    for (let i = 0; i < 5; i++) {
      const read = await limited(h, "/aggregator-connections", { tenant });
      assert.equal(read.status, 200);
      assert.equal(read.policy, null);
      assert.equal(read.limit, null);
    }
    const keys = [];
    for await (const e of h.kv.list({ prefix: ["tenant_requests"] })) keys.push(e.key);
    assert.deepEqual(keys, []);
    const write = { method: "POST", tenant, json: pluggyBody() };
    assert.equal((await limited(h, "/aggregator-connections", write)).status, 201);
    assert.equal((await limited(h, "/aggregator-connections", write)).status, 429);
  } finally {
    await h.close();
  }
});
