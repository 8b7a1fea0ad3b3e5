// nestsDeeperThan: brackets counted outside strings only, in one pass.
import assert from "node:assert/strict";
import { nestsDeeperThan } from "./json_depth.ts";

const arrays = (n: number) => "[".repeat(n) + "]".repeat(n);
const objects = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

Deno.test("nesting up to the limit passes, one level more does not", () => {
  for (const nest of [arrays, objects]) {
    assert.equal(nestsDeeperThan(nest(64), 64), false);
    assert.equal(nestsDeeperThan(nest(65), 64), true);
  }
  assert.equal(nestsDeeperThan('{"a":[{"b":[1,2]},{"c":{}}],"d":[]}', 4), false);
  assert.equal(nestsDeeperThan('{"a":[{"b":[1,2]},{"c":{}}],"d":[]}', 3), true);
  assert.equal(nestsDeeperThan("42", 0), false);
  assert.equal(nestsDeeperThan("{}", 0), true);
});

Deno.test("brackets inside strings do not count, escaped quotes included", () => {
  assert.equal(nestsDeeperThan(JSON.stringify({ a: "[[[[{{{{" }), 1), false);
  assert.equal(nestsDeeperThan(JSON.stringify({ a: 'x"[[[[\\"{{{{' }), 1), false);
  assert.equal(nestsDeeperThan(JSON.stringify(['"', "\\", "[[["]), 1), false);
  // After an escaped backslash the quote ends the string, so the brackets count again.
  assert.equal(nestsDeeperThan('["\\\\",[[1]]]', 2), true);
});

Deno.test("the depths of real payloads: JSON.stringify of a nested value agrees", () => {
  let value: unknown = "leaf";
  for (let depth = 1; depth <= 70; depth++) {
    value = depth % 2 ? [value, "]"] : { "{": value };
    assert.equal(nestsDeeperThan(JSON.stringify(value), 64), depth > 64, String(depth));
  }
});
