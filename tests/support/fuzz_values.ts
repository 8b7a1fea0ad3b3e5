// Seeded values for the fuzzer: schema-valid values, wrong types, nasty strings, junk cursors and ids.
import { pick, type Random, randomInt, randomUuid } from "../fakes/random.ts";
import { deref, type Json } from "./openapi_check.ts";

export type { Random } from "../fakes/random.ts";
export { mulberry32, pick, randomInt } from "../fakes/random.ts";

/** True with probability `p`. */
export const chance = (r: Random, p: number) => r() < p;

/** Strings that break naive code: unicode of every kind, lone surrogates, NUL, injections. */
export const NASTY_STRINGS: readonly string[] = [
  "",
  " ",
  "\t\n",
  "👩‍👩‍👧‍👦🏳️‍🌈",
  "\u202Egnp.exe",
  "مرحبا بالعالم",
  "שָׁלוֹם",
  "e\u0301\u0301\u0301\u0301\u0301",
  "Z̴̡̛͖̟a̶̧͝l̵̢̛g̸o̷",
  "\ud800",
  "\udc00x",
  "a\ud83d",
  "\u0000",
  "a\u0000b",
  "\u0007\u001b[31m",
  "\u2028\u2029",
  "\ufeffbom",
  "' OR '1'='1' --",
  "'; drop table connections; --",
  "%00%2F..%2F",
  "../../../etc/passwd",
  "${jndi:ldap://x}",
  "<script>alert(1)</script>",
  "null",
  "-1",
  "1e309",
  "NaN",
  "𝕳𝖊𝖑𝖑𝖔",
  "\uffff\ufffe",
];

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export function randomText(r: Random, length: number, alphabet = ALNUM): string {
  let out = "";
  for (let i = 0; i < length; i++) out += alphabet[Math.floor(r() * alphabet.length)];
  return out;
}

/** A seeded UUID (v4 shape). */
export const uuid = (r: Random) => randomUuid(r);

/** A string of `n` code units or more, of one repeated nasty or plain piece. */
export function hugeString(r: Random, n: number): string {
  const piece = pick(r, ["x", "é", "👍", "\u202E", "a\u0301", "%", "\\", '"']);
  return piece.repeat(Math.ceil(n / piece.length));
}

/** Any string a fuzzer would try where a plain one is expected. */
export function nastyString(r: Random): string {
  const roll = r();
  if (roll < 0.6) return pick(r, NASTY_STRINGS);
  if (roll < 0.8) return randomText(r, randomInt(r, 1, 300), ALNUM + "-_ .~!*'();:@&=+$,/?#[]");
  return hugeString(r, pick(r, [201, 1025, 5_000, 20_000]));
}

/** A value of a JSON type other than the schema's. */
export function wrongTypeValue(r: Random, schema: Json): unknown {
  const type = [schema?.type ?? "object"].flat();
  const options: unknown[] = [
    ...(type.includes("string") ? [] : ["a string", ""]),
    ...(type.includes("integer") || type.includes("number") ? [] : [42, -1, 1.5, 1e308]),
    ...(type.includes("boolean") ? [] : [true, false]),
    ...(type.includes("null") ? [] : [null]),
    ...(type.includes("array") ? [] : [[], ["a"], [1, { a: 1 }]]),
    ...(type.includes("object") ? [] : [{}, { nested: { deep: [1] } }]),
  ];
  return pick(r, options);
}

/** Per-field candidates the fuzzer prefers to pure schema values (real names, hosts, ids). */
export type Hints = Record<string, () => unknown>;

/** A value valid under `schema` (as far as the schema says), drawn from `hints` where given. */
export function validValue(r: Random, schema: Json, doc: Json, hints: Hints, name = ""): unknown {
  const s = deref(schema, doc) ?? {};
  if (name && hints[name] && chance(r, 0.85)) return hints[name]();
  if (s.enum) return pick(r, s.enum);
  const type = [s.type ?? "object"].flat().filter((t: string) => t !== "null")[0] ?? "null";
  switch (type) {
    case "string":
      return validString(r, s);
    case "integer":
      return randomInt(r, s.minimum ?? 0, Math.min(s.maximum ?? 1000, 1_000_000));
    case "number":
      return r() * 1000;
    case "boolean":
      return chance(r, 0.5);
    case "array":
      return Array.from(
        { length: randomInt(r, 0, 3) },
        () => validValue(r, s.items ?? {}, doc, hints),
      );
    case "object":
      return validObject(r, s, doc, hints);
    default:
      return null;
  }
}

function validString(r: Random, s: Json): string {
  if (s.format === "uuid") return uuid(r);
  if (s.format === "date-time") {
    return new Date(Date.UTC(2026, 0, 1) + randomInt(r, 0, 1e9)).toISOString();
  }
  if (s.format === "uri") return `https://${randomText(r, 8).toLowerCase()}.example.com/`;
  const min = Math.max(s.minLength ?? 0, 3);
  const max = Math.min(s.maxLength ?? 40, 40);
  return randomText(r, randomInt(r, min, Math.max(min, max)), ALNUM + "-_");
}

function validObject(r: Random, s: Json, doc: Json, hints: Hints): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const required = new Set<string>(s.required ?? []);
  for (const [key, sub] of Object.entries(s.properties ?? {})) {
    if (required.has(key) || chance(r, 0.4)) out[key] = validValue(r, sub, doc, hints, key);
  }
  // dependentRequired: a property present brings its partners.
  for (const [key, partners] of Object.entries(s.dependentRequired ?? {})) {
    if (!(key in out)) continue;
    for (const partner of partners as string[]) {
      out[partner] ??= validValue(r, s.properties[partner], doc, hints, partner);
    }
  }
  return out;
}

/** A cursor as this API makes them: base64url of `{t, i}`. */
export function makeCursor(t: unknown, i: unknown): string {
  return (new TextEncoder().encode(JSON.stringify({ t, i }))).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** Cursors that are not the API's: junk, tampered real ones, well-formed ones at odd positions. */
export function badCursor(r: Random, real: string[]): string {
  const base = real.length ? pick(r, real) : makeCursor(new Date().toISOString(), uuid(r));
  const flip = (s: string, at: number) =>
    s.slice(0, at) + (s[at] === "A" ? "B" : "A") + s.slice(at + 1);
  return pick(r, [
    () => flip(base, randomInt(r, 0, base.length - 1)),
    () => base.slice(0, randomInt(r, 1, base.length - 1)),
    () => base + "=",
    () => base + "!!",
    () => base.split("").reverse().join(""),
    () =>
      (crypto.getRandomValues(new Uint8Array(randomInt(r, 1, 60)))).toBase64({
        alphabet: "base64url",
        omitPadding: true,
      }),
    () => btoa("not json at all"),
    () => makeCursor(42, uuid(r)),
    () => makeCursor("yesterday", uuid(r)),
    () => makeCursor(new Date().toISOString(), "not-a-uuid"),
    () => makeCursor(new Date().toISOString(), null),
    () => makeCursor("-271821-04-20T00:00:00.000Z", uuid(r)),
    () => makeCursor("+275760-09-13T00:00:00.000Z", uuid(r)),
    () => makeCursor("-000001-01-01T00:00:00.000Z", uuid(r)),
    () => makeCursor("0000-01-01T00:00:00.000Z", uuid(r)),
    () => makeCursor("1970-01-01T00:00:00.000Z", uuid(r).toUpperCase()),
    () => makeCursor("2999-12-31T23:59:59.999Z", uuid(r)),
    () =>
      (new TextEncoder().encode('{"t":"2026-01-01T00:00:00Z","i":"' + uuid(r) + '","x":1}'))
        .toBase64({ alphabet: "base64url", omitPadding: true }),
    () =>
      (new TextEncoder().encode("[1,2,3]")).toBase64({ alphabet: "base64url", omitPadding: true }),
    () => (new TextEncoder().encode("null")).toBase64({ alphabet: "base64url", omitPadding: true }),
    () => nastyString(r),
    () => "a".repeat(513),
  ])();
}

/** Values for `limit`: out of range, not numbers, odd spellings of numbers. */
export function badLimit(r: Random): string {
  return pick(r, [
    "0",
    "-1",
    "-200",
    "201",
    "1000000",
    "99999999999999999999999",
    "1.5",
    "1e2",
    "0x10",
    " 5",
    "5 ",
    "",
    "abc",
    "NaN",
    "Infinity",
    "null",
    "true",
    "[1]",
    "٣",
    "+5",
    "05",
    "20abc",
    nastyString(r),
  ]);
}

/** Ids that are not UUIDs, and UUID-like strings that no row has. */
export function badId(r: Random): string {
  return pick(r, [
    () => uuid(r),
    () => uuid(r).toUpperCase(),
    () => "00000000-0000-0000-0000-000000000000",
    () => uuid(r).replaceAll("-", ""),
    () => `{${uuid(r)}}`,
    () => uuid(r) + "0",
    () => uuid(r).slice(0, 35),
    () => "not-a-uuid",
    () => "1",
    () => "-1",
    () => "test",
    () => "%",
    () => "..",
    () => nastyString(r) || "x",
  ])();
}
