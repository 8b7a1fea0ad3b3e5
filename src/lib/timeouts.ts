// Timeouts of one duration kept in a list with one timer for them all, as Node keeps its timers.

/** Cancels a timeout; a no-op once it has fired or been cancelled. */
export type Cancel = () => void;

/** The clock and the timer the lists use: the real ones, or a test's. */
export interface TimerClock {
  now(): number;
  set(fn: () => void, ms: number): unknown;
  clear(timer: unknown): void;
}

const realClock: TimerClock = {
  now: () => performance.now(),
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
};

interface Entry {
  /** When it is due, on the clock's time. */
  at: number;
  fn: () => void;
  prev: Entry | undefined;
  next: Entry | undefined;
  linked: boolean;
}

/**
 * The pending timeouts of one duration, in the order they were set, which is also the order they
 * come due; one timer is armed for the first of them while any is pending.
 */
class TimeoutList {
  #head: Entry | undefined;
  #tail: Entry | undefined;
  #timer: unknown;

  constructor(readonly ms: number, readonly clock: TimerClock) {}

  add(fn: () => void): Cancel {
    const entry: Entry = {
      at: this.clock.now() + this.ms,
      fn,
      prev: this.#tail,
      next: undefined,
      linked: true,
    };
    if (this.#tail) this.#tail.next = entry;
    else this.#head = entry;
    this.#tail = entry;
    if (this.#timer === undefined) this.#arm();
    return () => this.#remove(entry);
  }

  #remove(entry: Entry): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev) entry.prev.next = entry.next;
    else this.#head = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.#tail = entry.prev;
    entry.prev = entry.next = undefined;
    // Nothing pending: no timer is left to keep the process (or a test) waiting.
    if (!this.#head && this.#timer !== undefined) {
      this.clock.clear(this.#timer);
      this.#timer = undefined;
    }
  }

  #arm(): void {
    const wait = Math.max(0, Math.ceil(this.#head!.at - this.clock.now()));
    this.#timer = this.clock.set(() => this.#fire(), wait);
  }

  #fire(): void {
    this.#timer = undefined;
    const now = this.clock.now();
    const due: Entry[] = [];
    while (this.#head && this.#head.at <= now) {
      due.push(this.#head);
      this.#remove(this.#head);
    }
    if (this.#head) this.#arm();
    for (const entry of due) {
      try {
        entry.fn();
      } catch (err) {
        reportError(err); // as an uncaught error in a timer's callback, and the others still run
      }
    }
  }
}

/**
 * Answers `timeout(ms, fn)`, which calls `fn` once `ms` have passed unless cancelled first. Meant
 * for the timeouts set on every request (a body's arrival, a wait for the group commit), almost
 * all of them cancelled: a Deno timer set and cleared costs about 3.5 µs of CPU, a list entry
 * about 0.5. Durations should be few (settings, not computed values): each has its list.
 */
export function createTimeouts(
  clock: TimerClock = realClock,
): (ms: number, fn: () => void) => Cancel {
  const lists = new Map<number, TimeoutList>();
  return (ms, fn) => {
    let list = lists.get(ms);
    if (!list) lists.set(ms, list = new TimeoutList(ms, clock));
    return list.add(fn);
  };
}

/** The process's timeouts, on the real clock. */
export const timeout = createTimeouts();
