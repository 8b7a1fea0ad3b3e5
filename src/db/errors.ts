// What a Postgres or postgres.js error means for the caller, from its SQLSTATE or driver code.

const codeOf = (err: unknown) => (err as { code?: unknown })?.code;

/** True for Postgres's unique_violation (23505): a row with that unique key is already there. */
export function isUniqueViolation(err: unknown): boolean {
  return codeOf(err) === "23505";
}

/** postgres.js and socket error codes that mean the database cannot be reached right now. */
const UNAVAILABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE", // written to a connection the server had just closed
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
  "57014", // query_canceled: statement_timeout (the server is starved or a lock is held)
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now
  "53300", // too_many_connections
  "08000", // connection_exception
  "08003", // connection_does_not_exist
  "08006", // connection_failure
]);

/** True when the error says the database cannot be reached now (worth retrying later). */
export function isUnavailable(err: unknown): boolean {
  const code = codeOf(err);
  return typeof code === "string" && UNAVAILABLE_CODES.has(code);
}

/** Postgres refuses U+0000 in text (22021) and in jsonb (22P05); JSON may carry it as \u0000. */
export function isUnstorableText(err: unknown): boolean {
  const code = codeOf(err);
  return code === "22021" || code === "22P05";
}
