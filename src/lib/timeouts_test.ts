// The timeout lists: one timer a duration, order, cancellation, and no timer left behind.
import assert from "node:assert/strict";
import { createTimeouts, timeout, type TimerClock } from "./timeouts.ts";

/**
 * Timeouts on a clock whose time moves only when the test says, and whose armed timers can be
 * counted.
 */
function manualClock() {
  let time = 0;
  const armed = new Map<number, { fn: () => void; at: number }>();
  let ids = 0;
  const clock: TimerClock = {
    now: () => time,
    set(fn, ms) {
      armed.set(++ids, { fn, at: time + ms });
      return ids;
    },
    clear: (id) => armed.delete(id as number),
  };
  return {
    timeout: createTimeouts(clock),
    armed,
    /** Moves the time to `to`, running the timers due by then, as the event loop would. */
    advance(to: number) {
      time = to;
      for (const [id, timer] of [...armed]) {
        if (timer.at <= time && armed.delete(id)) timer.fn();
      }
    },
  };
}

Deno.test("timeouts of one duration share one timer and fire in order, never early", () => {
  const m = manualClock();
  const { timeout } = m;
  const fired: string[] = [];
  timeout(30, () => fired.push("a"));
  m.advance(5);
  timeout(30, () => fired.push("b"));
  m.advance(10);
  timeout(30, () => fired.push("c"));
  assert.equal(m.armed.size, 1);
  m.advance(29);
  assert.deepEqual(fired, []);
  m.advance(30);
  assert.deepEqual(fired, ["a"]);
  assert.equal(m.armed.size, 1); // armed again, for b (due at 35)
  m.advance(34);
  assert.deepEqual(fired, ["a"]);
  m.advance(35);
  assert.deepEqual(fired, ["a", "b"]);
  m.advance(40);
  assert.deepEqual(fired, ["a", "b", "c"]);
  assert.equal(m.armed.size, 0);
});

Deno.test("a cancelled timeout never fires, and cancelling the last one clears the timer", () => {
  const m = manualClock();
  const { timeout } = m;
  const fired: string[] = [];
  const cancelA = timeout(20, () => fired.push("a"));
  const cancelB = timeout(20, () => fired.push("b"));
  timeout(20, () => fired.push("c"));
  cancelA(); // the first: the timer armed for it stays, and then waits for c
  cancelB();
  cancelB(); // a second cancel is a no-op
  m.advance(20);
  assert.deepEqual(fired, ["c"]);
  const cancelD = timeout(20, () => fired.push("d"));
  const cancelE = timeout(20, () => fired.push("e"));
  assert.equal(m.armed.size, 1);
  cancelE();
  cancelD();
  assert.equal(m.armed.size, 0);
  m.advance(100);
  assert.deepEqual(fired, ["c"]);
});

Deno.test("a timer that fires before the first timeout is due arms again for the rest", () => {
  const m = manualClock();
  const { timeout } = m;
  const fired: string[] = [];
  timeout(10, () => fired.push("a"));
  const [[id, timer]] = [...m.armed];
  m.armed.delete(id);
  timer.fn(); // early, at time 0
  assert.deepEqual(fired, []);
  assert.equal([...m.armed.values()][0].at, 10);
  m.advance(10);
  assert.deepEqual(fired, ["a"]);
});

Deno.test("durations keep lists of their own: a shorter one set later fires first", () => {
  const m = manualClock();
  const { timeout } = m;
  const fired: string[] = [];
  timeout(50, () => fired.push("long"));
  timeout(10, () => fired.push("short"));
  assert.equal(m.armed.size, 2);
  m.advance(10);
  m.advance(50);
  assert.deepEqual(fired, ["short", "long"]);
});

Deno.test("a callback that throws is reported, and the others due with it still run", () => {
  const m = manualClock();
  const { timeout } = m;
  const reported: unknown[] = [];
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    reported.push(event.error);
  };
  globalThis.addEventListener("error", onError);
  try {
    const fired: string[] = [];
    timeout(15, () => {
      throw new Error("boom");
    });
    timeout(15, () => fired.push("after"));
    m.advance(15);
    assert.deepEqual(fired, ["after"]);
    assert.equal((reported[0] as Error).message, "boom");
  } finally {
    globalThis.removeEventListener("error", onError);
  }
});

Deno.test("the process's timeouts run on the real timers", async () => {
  const { promise, resolve } = Promise.withResolvers<number>();
  const started = performance.now();
  timeout(5, () => resolve(performance.now() - started));
  const cancel = timeout(5, () => assert.fail("a cancelled timeout fired"));
  cancel();
  assert.ok((await promise) >= 5);
});
