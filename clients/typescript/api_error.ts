// The error the client throws when a call it makes for the caller (such as paginate) fails.
import { retryAfterSeconds } from "./rate_limit.ts";
import type { components } from "./types.ts";

type Envelope = components["schemas"]["Error"];

/**
 * A failed answer from the service, thrown where a loop cannot hand back `{ data, error }`: a
 * `for await` over `paginate` would otherwise end as if the list were complete.
 */
export class MatcherApiError extends Error {
  /** The HTTP status of the failed answer. */
  readonly status: number;
  /** The service's error envelope; undefined when the answer was not one (a proxy's 502 page). */
  readonly envelope: Envelope | undefined;
  /** The envelope's `code` (e.g. `MTCH-1002`), or undefined without an envelope. */
  readonly code: string | undefined;
  /** The envelope's `title` (the status text), or undefined without an envelope. */
  readonly title: string | undefined;
  /** When to try again, in seconds: a 429's (a quota used up) or a 503's `Retry-After`. */
  readonly retryAfterSeconds: number | undefined;

  constructor(response: Response, error: unknown) {
    const envelope = isEnvelope(error) ? error : undefined;
    super(
      envelope
        ? `${response.status} ${envelope.code}: ${envelope.message}`
        : `${response.status} ${response.statusText || "unexpected answer"}`,
    );
    this.name = "MatcherApiError";
    this.status = response.status;
    this.envelope = envelope;
    this.code = envelope?.code;
    this.title = envelope?.title;
    this.retryAfterSeconds = retryAfterSeconds(response.headers);
  }
}

function isEnvelope(value: unknown): value is Envelope {
  const e = value as Partial<Envelope> | null;
  return typeof e?.code === "string" && typeof e.title === "string" &&
    typeof e.message === "string";
}
