// A database outage maps to 503 and never ends the process: error codes and the driver crash guard.
import assert from "node:assert/strict";
import { guardDriverCrash, isDriverWriteAfterClose } from "../../src/db/driver_guard.ts";
import { pingDatabase, reconnectDelaySeconds, type Sql } from "../../src/db/pool.ts";
import { isUnavailable } from "../../src/db/errors.ts";
import { errorAnswer } from "../../src/http/errors.ts";
import { jsonLogger } from "../../src/lib/logger.ts";

/** The error postgres.js 3.4.9 throws from its queued write once the server closed the socket. */
function driverWriteAfterClose(): TypeError {
  const error = new TypeError("Cannot read properties of null (reading 'write')");
  error.stack = `${error.name}: ${error.message}
    at nextWrite (file:///root/.cache/deno/npm/registry.npmjs.org/postgres/3.4.9/src/connection.js:255:22)
    at Immediate.callback (ext:deno_node/internal/timers.mjs:4:3069)`;
  return error;
}

Deno.test("the driver's write after a closed connection is recognised, and nothing else", () => {
  assert.equal(isDriverWriteAfterClose(driverWriteAfterClose()), true);
  assert.equal(isDriverWriteAfterClose(new TypeError("Cannot read properties of null")), false);
  const ours = new TypeError("Cannot read properties of null (reading 'write')");
  assert.equal(isDriverWriteAfterClose(ours), false, "the same message from our own code");
  assert.equal(isDriverWriteAfterClose(new Error("nextWrite postgres reading 'write'")), false);
});

Deno.test("the guard stops only the driver's crash from ending the process, and logs it", () => {
  const lines: string[] = [];
  const target = new EventTarget();
  const remove = guardDriverCrash(jsonLogger((line) => lines.push(line)), target);
  const dispatch = (error: unknown) =>
    target.dispatchEvent(new ErrorEvent("error", { error, cancelable: true }));
  try {
    assert.equal(dispatch(driverWriteAfterClose()), false, "the driver's crash is stopped");
    assert.equal(lines.length, 1);
    assert.match(lines[0], /connection closed under a queued write/);
    assert.equal(dispatch(new TypeError("a bug of ours")), true, "any other error still ends it");
    assert.equal(lines.length, 1);
  } finally {
    remove();
  }
  assert.equal(dispatch(driverWriteAfterClose()), true, "removed");
});

Deno.test("every way postgres.js reports a database going away is a 503 with Retry-After", () => {
  // Each seen while a private cluster was restarted and stopped under load (chaos/), or listed
  // by Postgres for a server shutting down or a connection lost.
  const codes = [
    "ECONNREFUSED",
    "ECONNRESET",
    "EPIPE",
    "CONNECTION_CLOSED",
    "CONNECTION_ENDED",
    "CONNECTION_DESTROYED",
    "CONNECT_TIMEOUT",
    "57P01",
    "57P02",
    "57P03",
    "53300",
    "08000",
    "08003",
    "08006",
  ];
  for (const code of codes) {
    const err = Object.assign(new Error(`write ${code}`), { code });
    assert.equal(isUnavailable(err), true, code);
    const answer = errorAnswer(err);
    assert.equal(answer.status, 503, code);
    assert.equal(answer.headers["Retry-After"], "5", code);
    assert.equal(answer.body.code, "MTCH-9503", code);
  }
  for (const code of ["23505", "42P01", "22P02", undefined]) {
    assert.equal(errorAnswer(Object.assign(new Error("x"), { code })).status, 500, String(code));
  }
});

Deno.test("a pool reconnects within 2 s of the database coming back, however long it was away", () => {
  assert.equal(reconnectDelaySeconds(0), 0.05);
  assert.equal(reconnectDelaySeconds(1), 0.1);
  for (let retries = 0; retries < 60; retries++) {
    assert.ok(reconnectDelaySeconds(retries) <= 2, String(retries));
  }
  assert.equal(reconnectDelaySeconds(1_000), 2);
});

Deno.test("the readiness ping answers false when the database does not answer in time", async () => {
  // A query that never settles, as postgres.js leaves one while it waits to reconnect.
  const hanging = (() => new Promise(() => {})) as unknown as Sql;
  const started = performance.now();
  assert.equal(await pingDatabase(hanging, 50), false);
  assert.ok(performance.now() - started < 5_000, "bounded by its timeout, not the query");
  const answering = (() => Promise.resolve([{ "?column?": 1 }])) as unknown as Sql;
  assert.equal(await pingDatabase(answering, 50), true);
});
