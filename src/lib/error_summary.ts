// What a log line of a background path may say about an error: its name and code, nothing else.

/**
 * The error's `name` and `code` only. postgres.js errors carry query parameters (sealed
 * credentials among them) in their other fields, so a log line never holds the error itself.
 */
export function errorSummary(err: unknown): { name?: string; code?: string } {
  const e = err as { name?: unknown; code?: unknown } | null | undefined;
  return {
    name: typeof e?.name === "string" ? e.name : undefined,
    code: typeof e?.code === "string" ? e.code : undefined,
  };
}
