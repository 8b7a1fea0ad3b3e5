// What counts as the same request for an Idempotency-Key: JSON by meaning, everything else exactly.
import assert from "node:assert/strict";
import { canonicalJson, fingerprintBytes, type RequestParts } from "./fingerprint.ts";

const text = (s: string) => new TextEncoder().encode(s);
const request = (overrides: Partial<RequestParts> = {}): RequestParts => ({
  method: "PUT",
  route: "/v1/discovery/aggregator-connections/{id}",
  params: { id: "0b6f0f0e-8a0f-4c1a-9d8e-2f7c3b1a9e55" },
  body: text('{"configName":"a","accountRef":"b"}'),
  ...overrides,
});
const same = (a: RequestParts, b: RequestParts) =>
  assert.deepEqual(fingerprintBytes(a), fingerprintBytes(b));
const differ = (a: RequestParts, b: RequestParts) =>
  assert.notDeepEqual(fingerprintBytes(a), fingerprintBytes(b));

Deno.test("a JSON body counts by its meaning: key order and white space do not matter", () => {
  same(request(), request({ body: text('{ "accountRef": "b",\n  "configName": "a" }') }));
  same(
    request({ body: text('{"a":{"y":[1,{"d":2,"c":3}],"x":null}}') }),
    request({ body: text('{"a":{"x":null,"y":[1,{"c":3,"d":2}]}}') }),
  );
  assert.equal(canonicalJson(text('{"b":1,"a":[true,"x"]}')), '{"a":[true,"x"],"b":1}');
});

Deno.test("a different value, field, method, route or path parameter is a different request", () => {
  differ(request(), request({ body: text('{"configName":"a","accountRef":"c"}') }));
  differ(request(), request({ body: text('{"configName":"a"}') }));
  differ(request(), request({ body: text('{"configName":"a","accountRef":["b"]}') }));
  differ(request(), request({ method: "POST" }));
  differ(request(), request({ route: "/v1/discovery/aggregator-connections" }));
  differ(request(), request({ params: { id: "another" } }));
  differ(request({ body: new Uint8Array() }), request({ body: text("{}") }));
});

Deno.test("a body that is not JSON counts byte for byte, and never as the JSON it resembles", () => {
  assert.equal(canonicalJson(text("{not json")), undefined);
  assert.equal(canonicalJson(new Uint8Array([0x7b, 0xff, 0x7d])), undefined);
  same(request({ body: text("{not json") }), request({ body: text("{not json") }));
  differ(request({ body: text("{not json") }), request({ body: text("{not json ") }));
});

Deno.test("no key is special: __proto__ and constructor count like any other field", () => {
  assert.equal(canonicalJson(text('{"__proto__":{"x":1},"a":2}')), '{"__proto__":{"x":1},"a":2}');
  differ(request({ body: text('{"__proto__":{"x":1}}') }), request({ body: text("{}") }));
  differ(
    request({ body: text('{"constructor":1}') }),
    request({ body: text('{"constructor":2}') }),
  );
});

Deno.test("the order path parameters are given in does not matter", () => {
  same(
    request({ params: { a: "1", b: "2" } }),
    request({ params: { b: "2", a: "1" } }),
  );
});
