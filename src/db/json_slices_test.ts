// arrayElementSlices finds exactly the elements JSON.parse finds, or answers null.
import assert from "node:assert/strict";
import { arrayElementSlices } from "./json_slices.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Each slice's text parsed, which must be what JSON.parse gives for the page's `results`. */
function parsedSlices(text: string): unknown[] | null {
  const bytes = encoder.encode(text);
  const slices = arrayElementSlices(bytes, "results");
  return slices &&
    slices.map(([start, end]) => JSON.parse(decoder.decode(bytes.slice(start, end))));
}

Deno.test("the slices of a page are its elements, as JSON.parse reads them", () => {
  const pages = [
    '{"results":[]}',
    ' \n{ "results" : [ 1 , -2.5e3,true,false,null, "a" ] , "next" : null }\n',
    '{"page":1,"results":[{"id":"x","nested":{"a":[1,{"b":"]}"}]},"s":"q\\"uote \\\\"}],"n":2}',
    '{"next":"https://x/?after=\\"1\\"","results":[{"d":"é 💸 \\u00e9 \\ud83d\\udcb8"},["[",{"}":"{"}]]}',
    // Duplicate keys: JSON.parse keeps the last, and so does Postgres.
    '{"results":[1,2],"other":{"results":[9]},"results":[{"k":3},"4\\\\"]}',
    '{"results":[""],"empty":{},"list":[],"str":"\\\\","num":0}',
  ];
  for (const text of pages) {
    assert.deepEqual(parsedSlices(text), JSON.parse(text).results, text);
  }
});

Deno.test("random pages: every slice is its element", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  const strings = ["", "plain", 'q"uote', "back\\slash\\", "é💸", "\u2028", "]}[{,:", "\\u0041"];
  const value = (depth: number): unknown => {
    const kind = depth > 3 ? Math.floor(random() * 4) : Math.floor(random() * 6);
    if (kind === 0) return pick(strings);
    if (kind === 1) return Math.round(random() * 1e6) / 100 - 5000;
    if (kind === 2) return pick([true, false, null]);
    if (kind === 3) return pick(strings) + String(depth);
    if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: Math.floor(random() * 4) }, () => [pick(strings), value(depth + 1)]),
    );
  };
  for (let n = 0; n < 300; n++) {
    const page = {
      ...(random() < 0.5 ? { before: value(1) } : {}),
      results: Array.from({ length: Math.floor(random() * 6) }, () => value(1)),
      after: value(1),
    };
    const text = JSON.stringify(page, null, random() < 0.3 ? 2 : undefined);
    assert.deepEqual(parsedSlices(text), JSON.parse(text).results, text);
  }
});

Deno.test("a page without a plainly spelled results array answers null", () => {
  for (
    const text of [
      "[1,2]",
      '"results"',
      '{"results":{"a":1}}',
      '{"results":"[1]"}',
      '{"\\u0072esults":[1]}',
      '\ufeff{"results":[1]}',
      '{"next":null}',
    ]
  ) {
    assert.equal(arrayElementSlices(encoder.encode(text), "results"), null, text);
  }
});
