// Ends an operation that has not answered in time with a 503 and Retry-After.
import type { MiddlewareHandler } from "hono";
import { AppError } from "../lib/app_error.ts";
import { timeout } from "../lib/timeouts.ts";

/**
 * Answers 503 with Retry-After when the rest of the request has not finished within `ms`. While
 * Postgres hangs (a stopped server, a backend that no longer answers) postgres.js waits for as
 * long as it does, and no statement_timeout can fire; without this the request, and its client,
 * waited just as long. The abandoned work finishes or fails on its own; its answer is dropped.
 */
export function deadline(ms: number): MiddlewareHandler {
  return async function withDeadline(_c, next) {
    const { promise: late, reject } = Promise.withResolvers<never>();
    const cancel = timeout(ms, () => {
      reject(
        new AppError("unavailable", "The request could not be completed in time; try again.", {
          retryAfterSeconds: 5,
        }),
      );
    });
    const work = next();
    work.catch(() => {}); // a failure after the 503 has nobody left to answer
    try {
      await Promise.race([work, late]);
    } finally {
      cancel();
    }
  };
}
