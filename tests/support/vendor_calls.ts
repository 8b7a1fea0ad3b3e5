// Helpers shared by the fake-vendor suites: SDK clients, JSON fetches and setup wrappers.
import assert from "node:assert/strict";
import belvo from "belvo";
import { PluggyClient } from "pluggy-sdk";
import { type FakeBelvo, type FakeBelvoOptions, startFakeBelvo } from "../fakes/belvo.ts";
import { type FakePluggy, type FakePluggyOptions, startFakePluggy } from "../fakes/pluggy.ts";

/** The parts of belvo@0.28.0's untyped Client these tests use. */
export interface BelvoSdkClient {
  connect(): Promise<void>;
  links: BelvoResource;
  accounts: BelvoResource;
  transactions: BelvoResource;
}
export interface BelvoResource {
  list(
    args?: { limit?: number; filters?: Record<string, unknown> },
  ): Promise<Record<string, unknown>[]>;
  detail(id: string): Promise<Record<string, unknown>>;
}
export type BelvoClientClass = new (id: string, password: string, url: string) => BelvoSdkClient;
/** The CommonJS module's `exports.default`; Deno hands the whole `module.exports` as default. */
export const BelvoClient = (belvo as unknown as { default: BelvoClientClass }).default;

/** pluggy-sdk reads its base URL only from PLUGGY_API_URL, once, in the constructor. */
export function pluggyClient(
  fake: FakePluggy,
  clientId = "fake-client-id",
  clientSecret = "fake-client-secret",
) {
  const previous = Deno.env.get("PLUGGY_API_URL");
  Deno.env.set("PLUGGY_API_URL", fake.url);
  try {
    return new PluggyClient({ clientId, clientSecret });
  } finally {
    if (previous === undefined) Deno.env.delete("PLUGGY_API_URL");
    else Deno.env.set("PLUGGY_API_URL", previous);
  }
}

/** Runs `fn` with console.log/error silenced: both SDKs log whole error objects on failures. */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const { log, error } = console;
  console.log = console.error = () => {};
  try {
    return await fn();
  } finally {
    Object.assign(console, { log, error });
  }
}

/** Dates (pluggy-sdk revives ISO strings into Date) back to the JSON the fake served. */
export function asJson<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value));
}

export async function pluggyKey(fake: FakePluggy): Promise<string> {
  const res = await fetch(`${fake.url}/auth`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ clientId: "fake-client-id", clientSecret: "fake-client-secret" }),
  });
  assert.equal(res.status, 200);
  return (await res.json()).apiKey;
}

/** A parsed body whose shape each assertion pins down. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** got may hand an error's body over as text or already parsed, depending on the request. */
export function gotBody(error: { response: { body: unknown } }): Json {
  const body = error.response.body;
  return typeof body === "string" ? JSON.parse(body) : body;
}

export async function getJson(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // left as text
  }
  return { status: res.status, headers: res.headers, body: body as Json };
}

export const BELVO_AUTH = { authorization: `Basic ${btoa("fake-secret-id:fake-secret-password")}` };
export const HEX32 = /^[0-9a-f]{32}$/;

export function belvoGet(fake: FakeBelvo, pathAndQuery: string, headers = BELVO_AUTH) {
  return getJson(`${fake.url}${pathAndQuery}`, headers);
}

/** Asserts a Belvo error array with one error, ignoring its fresh request_id. */
export function assertBelvoError(body: unknown, expected: Record<string, string>) {
  assert.ok(Array.isArray(body), `expected an array, got ${JSON.stringify(body)}`);
  assert.equal(body.length, 1);
  const { request_id, ...rest } = body[0];
  assert.match(request_id, HEX32);
  assert.deepEqual(rest, expected);
}

export async function withPluggy(
  options: FakePluggyOptions,
  fn: (fake: FakePluggy) => Promise<void>,
) {
  const fake = await startFakePluggy(options);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}

export async function withBelvo(options: FakeBelvoOptions, fn: (fake: FakeBelvo) => Promise<void>) {
  const fake = await startFakeBelvo(options);
  try {
    await fn(fake);
  } finally {
    await fake.close();
  }
}
