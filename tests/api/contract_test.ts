// The served API and openapi.yaml must agree on every operation, parameter, body and status code.
import assert from "node:assert/strict";
import { parse } from "yaml";
import { startHarness } from "../support/harness.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;
const METHODS = ["get", "put", "post", "delete", "patch"];

const spec: Json = parse(await Deno.readTextFile(new URL("../../openapi.yaml", import.meta.url)));

function deref(value: Json | undefined, doc: Json): Json | undefined {
  let v = value;
  while (v?.$ref) v = v.$ref.slice(2).split("/").reduce((o: Json, k: string) => o[k], doc);
  return v;
}

/** What a schema promises at its top level: type, property names, required names (and, for
 * request bodies, whether unknown fields are refused). */
function outline(schema: Json | undefined, doc: Json, request = false) {
  const s = deref(schema, doc) ?? {};
  return {
    type: s.type ?? null,
    properties: Object.keys(s.properties ?? {}).sort(),
    required: [...(s.required ?? [])].sort(),
    ...(request ? { closed: s.additionalProperties === false } : {}),
  };
}

/** Everything the contract fixes about one operation, in a comparable form. */
function describe(path: string, method: string, doc: Json) {
  const item = doc.paths[path];
  const op = item[method];
  const params = [...(item.parameters ?? []), ...(op.parameters ?? [])]
    .map((p: Json) => deref(p, doc)!)
    .map((p: Json) => `${p.in}:${p.name}:${p.required === true ? "required" : "optional"}`)
    .sort();
  const body = deref(op.requestBody, doc);
  return {
    operationId: op.operationId,
    params,
    body: body
      ? {
        required: body.required === true,
        content: Object.fromEntries(
          Object.entries(body.content).map((
            [type, m],
          ) => [type, outline((m as Json).schema, doc, true)]),
        ),
      }
      : null,
    responses: Object.fromEntries(
      Object.entries(op.responses).map(([status, r]) => {
        const res = deref(r as Json, doc)!;
        const content = Object.fromEntries(
          Object.entries(res.content ?? {}).map((
            [type, m],
          ) => [type, outline((m as Json).schema, doc)]),
        );
        return [status, content];
      }),
    ),
  };
}

function operations(doc: Json): string[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => (item as Json)[m]).map((m) => `${m.toUpperCase()} ${path}`)
  ).sort();
}

Deno.test("the served API and openapi.yaml agree", async (t) => {
  // /metrics is on, so that it answers like every other guarded route (401 without its token).
  const h = await startHarness({ metricsToken: crypto.randomUUID() });
  try {
    const served = h.app.getOpenAPI31Document({
      openapi: "3.1.0",
      info: { title: "served", version: "0" },
    });

    await t.step("the routes the app answers are exactly the spec's operations", () => {
      const routes = new Set(
        [...h.app.routes.filter((r) => r.method !== "ALL"), ...h.direct.routes].map((r) =>
          `${r.method} ${r.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`
        ),
      );
      assert.deepEqual([...routes].sort(), operations(spec));
      assert.deepEqual(operations(served), operations(spec));
    });

    for (const key of operations(spec)) {
      const [method, path] = key.split(" ");
      await t.step(`${key} has the spec's parameters, body and status codes`, () => {
        assert.deepEqual(
          describe(path, method.toLowerCase(), served),
          describe(path, method.toLowerCase(), spec),
        );
      });
    }

    await t.step(
      "every operation except the operational ones requires a bearer token",
      async () => {
        for (const key of operations(spec)) {
          const [method, path] = key.split(" ");
          const op = spec.paths[path][method.toLowerCase()];
          const open = Array.isArray(op.security) && op.security.length === 0;
          const res = await h.request(path.replace("{id}", crypto.randomUUID()), { method });
          await res.body?.cancel();
          if (open) assert.notEqual(res.status, 401, key);
          else {
            assert.equal(res.status, 401, key);
            assert.ok("401" in op.responses, `${key} declares its 401`);
          }
        }
      },
    );

    await t.step("/openapi.json serves the spec itself", async () => {
      const res = await h.request("/openapi.json");
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), spec);
    });

    await t.step("/docs serves an HTML page that loads /openapi.json", async () => {
      const res = await h.request("/docs");
      assert.equal(res.status, 200);
      assert.match(res.headers.get("content-type") ?? "", /text\/html/);
      assert.match(await res.text(), /\/openapi\.json/);
    });
  } finally {
    await h.close();
  }
});
