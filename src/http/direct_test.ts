// The direct lane: which requests it takes, and that its answers are the app's (id, headers,
// error envelope, one record per request).
import assert from "node:assert/strict";
import { AppError } from "../lib/app_error.ts";
import type { LogRecord } from "../lib/logger.ts";
import { directLane, type DirectRoute } from "./direct.ts";
import type { AnsweredRequest } from "./request_log.ts";
import { HARDENING_HEADERS } from "./secure_headers.ts";

function lane(handle: DirectRoute["handle"]) {
  const records: AnsweredRequest[] = [];
  const errors: LogRecord[] = [];
  const logger = { info: () => {}, warn: () => {}, error: (r: LogRecord) => errors.push(r) };
  const route: DirectRoute = { method: "POST", path: "/hooks/:vendor/:token", handle };
  const served = directLane([route], { logger, record: (r) => records.push(r) });
  return { served, records, errors };
}

const request = (headers: Record<string, string> = {}) => new Request("http://x/", { headers });

Deno.test("a direct route takes its method and path only, with its parameters decoded", () => {
  const { served } = lane(() => Promise.resolve({ status: 202, body: {} }));
  assert.deepEqual(served.match("POST", "/hooks/pluggy/a%2Fb")?.params, {
    vendor: "pluggy",
    token: "a/b",
  });
  assert.deepEqual(served.match("POST", "/hooks/pluggy/%E0%A4%A")?.params.token, "%E0%A4%A");
  for (
    const path of ["/hooks/pluggy", "/hooks/pluggy/", "/hooks//t", "/hooks/pluggy/t/", "/x/a/b"]
  ) {
    assert.equal(served.match("POST", path), undefined, path);
  }
  assert.equal(served.match("GET", "/hooks/pluggy/t"), undefined);
});

Deno.test("a direct answer carries the request id, the hardening headers and the handler's own", async () => {
  const { served, records } = lane((c) => {
    c.header("RateLimit", "r=1");
    c.log({ msg: "seen", token: c.params.token });
    return Promise.resolve({ status: 202, body: { ok: true } });
  });
  const matched = served.match("POST", "/hooks/pluggy/t1")!;
  const answer = await served.answer(matched, "POST", request({ "X-Request-Id": "req-1" }));
  assert.equal(answer.status, 202);
  assert.equal(answer.body, '{"ok":true}');
  const headers = new Map(answer.headers);
  assert.equal(headers.get("x-request-id"), "req-1");
  assert.equal(headers.get("ratelimit"), "r=1");
  assert.equal(headers.get("content-type"), "application/json");
  for (const [name, value] of HARDENING_HEADERS) assert.equal(headers.get(name), value, name);
  assert.ok(headers.has("x-content-type-options"));
  assert.equal(records.length, 1);
  assert.deepEqual(
    { ...records[0], started: 0 },
    {
      requestId: "req-1",
      method: "POST",
      route: "/hooks/:vendor/:token",
      status: 202,
      started: 0,
      log: { msg: "seen", token: "t1" },
    },
  );
});

Deno.test("what a direct route throws is answered in the error envelope, a 5xx logged without detail", async () => {
  const refused = lane(() => {
    throw new AppError("too_many_requests", "Slow down.", { retryAfterSeconds: 7 });
  });
  const answer = await refused.served.answer(
    refused.served.match("POST", "/hooks/a/b")!,
    "POST",
    request({ "X-Request-Id": "not a valid id!" }),
  );
  assert.equal(answer.status, 429);
  assert.deepEqual(JSON.parse(answer.body), {
    code: "MTCH-1429",
    title: "Too Many Requests",
    message: "Slow down.",
  });
  const headers = new Map(answer.headers);
  assert.equal(headers.get("retry-after"), "7");
  assert.match(headers.get("x-request-id")!, /^[0-9a-f-]{36}$/, "a new id for an unusable one");
  assert.equal(refused.errors.length, 0);

  const broken = lane(() => Promise.reject(new Error("password=hunter2")));
  const failed = await broken.served.answer(
    broken.served.match("POST", "/hooks/a/b")!,
    "POST",
    request(),
  );
  assert.equal(failed.status, 500);
  assert.equal(JSON.parse(failed.body).code, "MTCH-9500");
  assert.ok(!failed.body.includes("hunter2"));
  assert.equal(broken.errors.length, 1);
  assert.equal(broken.records[0].status, 500);
});

Deno.test("a Fetch API request reaches a direct route through fetch, and only when it is one", async () => {
  const { served } = lane((c) => Promise.resolve({ status: 202, body: c.params }));
  const res = await served.fetch(new Request("http://h:1/hooks/v/t?x=1", { method: "POST" }))!;
  assert.equal(res.status, 202);
  assert.deepEqual(await res.json(), { vendor: "v", token: "t" });
  assert.equal(res.headers.get("x-frame-options"), "DENY");
  assert.equal(served.fetch(new Request("http://h:1/hooks/v/t")), undefined);
  assert.equal(served.fetch(new Request("http://h:1/other", { method: "POST" })), undefined);
});
