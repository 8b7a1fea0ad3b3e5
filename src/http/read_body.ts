// Reads a request body as JSON within limits of size, time and nesting, before anything parses it.
import { mayBeUnstorable, storable } from "../db/storable_json.ts";
import { AppError } from "../lib/app_error.ts";
import { timeout } from "../lib/timeouts.ts";
import { nestsDeeperThan } from "./json_depth.ts";

/** What the readers use of a request: a Fetch API Request has it, and so has a direct route's. */
export interface BodyRequest {
  headers: { get(name: string): string | null };
  body: ReadableStream<Uint8Array> | null;
  /**
   * The body as node:http delivers it, when the request has one (a direct route's request): read
   * from its events, it costs no ReadableStream, no promise a chunk and no pause and resume of the
   * socket, about 7 µs of CPU a request. `body` is then not read.
   */
  events?: BodyEvents;
}

/** The part of node:http's IncomingMessage that a body is read from. */
export interface BodyEvents {
  on(event: string, listener: (chunk: Uint8Array) => void): unknown;
  off(event: string, listener: (chunk: Uint8Array) => void): unknown;
  pause(): unknown;
}

export interface BodyLimits {
  /** Largest body accepted: 413 beyond it. */
  maxBytes: number;
  /** Longest the whole body may take to arrive, from the first read: 408 past it. */
  timeoutMs: number;
  /** Deepest nesting of arrays and objects accepted: 400 beyond it. */
  maxDepth: number;
}

/**
 * The body's bytes, read no further than `maxBytes` (413) and for no longer than `timeoutMs` (408):
 * a client that trickles its body would otherwise hold the request, and its connection, open for
 * as long as it likes. Content-Length is trusted only to refuse early; the bytes read are what
 * count.
 */
export async function readBodyCapped(
  request: BodyRequest,
  limits: Pick<BodyLimits, "maxBytes" | "timeoutMs">,
): Promise<Uint8Array> {
  const { maxBytes } = limits;
  if (Number(request.headers.get("content-length")) > maxBytes) throw tooLarge(maxBytes);
  if (request.events) return readEvents(request.events, limits);
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  let late = false;
  // Cancelling ends the pending read at once (done), which the flag tells from a complete body.
  const cancelTimeout = timeout(limits.timeoutMs, () => {
    late = true;
    reader.cancel().catch(() => {});
  });
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch {
        // The client went away mid-body: nobody is left to read the answer, and it is no fault
        // of ours to log as one.
        if (!late) throw new AppError("unreadable_body", "The request body could not be read.");
        result = { done: true, value: undefined };
      }
      if (late) throw bodyTimeout(limits.timeoutMs);
      if (result.done) break;
      size += result.value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(maxBytes);
      }
      chunks.push(result.value);
    }
  } finally {
    cancelTimeout();
  }
  return joined(chunks, size);
}

/** readBodyCapped for a body read from node:http's events: the same bounds and answers. */
function readEvents(
  source: BodyEvents,
  limits: Pick<BodyLimits, "maxBytes" | "timeoutMs">,
): Promise<Uint8Array> {
  const { promise, resolve, reject } = Promise.withResolvers<Uint8Array>();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const onData = (chunk: Uint8Array) => {
    size += chunk.byteLength;
    if (size > limits.maxBytes) finish(tooLarge(limits.maxBytes));
    else chunks.push(chunk);
  };
  const onEnd = () => finish();
  // The client went away mid-body.
  const onGone = () =>
    finish(new AppError("unreadable_body", "The request body could not be read."));
  // Settles once. What is left of a refused body is not read: its answer closes the connection.
  function finish(error?: AppError) {
    cancelTimeout();
    source.off("data", onData);
    source.off("end", onEnd);
    source.off("close", onGone);
    source.off("error", onGone);
    if (!error) return resolve(joined(chunks, size));
    source.pause();
    reject(error);
  }
  const cancelTimeout = timeout(limits.timeoutMs, () => finish(bodyTimeout(limits.timeoutMs)));
  source.on("data", onData);
  source.on("end", onEnd);
  source.on("close", onGone);
  source.on("error", onGone);
  return promise;
}

function tooLarge(maxBytes: number): AppError {
  return new AppError("body_too_large", `The request body is larger than ${maxBytes} bytes.`);
}

function bodyTimeout(timeoutMs: number): AppError {
  return new AppError("body_timeout", `The request body did not arrive within ${timeoutMs} ms.`);
}

/** The chunks as one array of `size` bytes. */
function joined(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

/** The body as text that may be parsed as JSON: read within `limits`, UTF-8, nested no deeper. */
export async function readJsonText(request: BodyRequest, limits: BodyLimits): Promise<string> {
  const bytes = await readBodyCapped(request, limits);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new AppError("unreadable_body", "The request body is not valid JSON.");
  }
  // Checked on the text, so that no parser or serializer ever recurses into a hostile body.
  if (nestsDeeperThan(text, limits.maxDepth)) {
    throw new AppError(
      "unreadable_body",
      `The request body nests arrays and objects deeper than ${limits.maxDepth} levels.`,
    );
  }
  return text;
}

/** The body parsed as JSON, read within `limits`: 413, 408, or 400 when it is not such JSON. */
export async function readJsonCapped(request: BodyRequest, limits: BodyLimits): Promise<unknown> {
  const text = await readJsonText(request, limits);
  try {
    // Postgres cannot store U+0000 nor a lone UTF-16 surrogate (both only reach here as JSON
    // escapes); neither carries meaning in a vendor's payload, so NUL goes and a lone surrogate
    // becomes U+FFFD, in keys as in values.
    return mayBeUnstorable(text) ? JSON.parse(text, storable) : JSON.parse(text);
  } catch {
    throw new AppError("unreadable_body", "The request body is not valid JSON.");
  }
}
