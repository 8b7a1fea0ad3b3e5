// Keeps the process alive through a known postgres.js crash when Postgres closes a connection.

import type { Logger } from "../lib/logger.ts";

/**
 * True for postgres.js 3.4.9's `nextWrite` on a connection whose socket is already gone: a write
 * queued with setImmediate runs after the server closed the connection (a Postgres restart or
 * stop) and throws `TypeError: Cannot read properties of null (reading 'write')` outside any
 * promise, which would end the process (upstream porsager/postgres#1154 and #1208, unfixed in
 * 3.4.9). The queries of that connection have already failed with CONNECTION_CLOSED, and the
 * pool reconnects, so the error itself is safe to drop.
 */
export function isDriverWriteAfterClose(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const stack = error.stack ?? "";
  return error.message.includes("reading 'write'") && /\bnextWrite\b/.test(stack) &&
    /postgres[@/\\]/.test(stack);
}

/**
 * Installs a global `error` listener that stops only `isDriverWriteAfterClose` errors from
 * ending the process, logging each one; every other uncaught error still ends it. Answers a
 * function that removes the listener.
 */
export function guardDriverCrash(logger: Logger, target: EventTarget = globalThis): () => void {
  const listener: EventListener = (event) => {
    const error = (event as ErrorEvent).error;
    if (!isDriverWriteAfterClose(error)) return;
    event.preventDefault();
    logger.warn({ msg: "database connection closed under a queued write; the pool reconnects" });
  };
  target.addEventListener("error", listener);
  return () => target.removeEventListener("error", listener);
}
