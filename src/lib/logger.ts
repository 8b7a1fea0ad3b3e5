// Structured JSON-line logging; the logger is passed in so tests can capture what is written.

export type LogRecord = { msg: string } & Record<string, unknown>;
export interface Logger {
  info(record: LogRecord): void;
  warn(record: LogRecord): void;
  error(record: LogRecord): void;
}

/** Writes one JSON object a line to standard output (info) or standard error (warn, error). */
export function jsonLogger(
  write: (line: string, level: string) => void = standardStreams(),
): Logger {
  const emit = (level: string) => (record: LogRecord) =>
    write(JSON.stringify({ time: new Date().toISOString(), level, ...record }), level);
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

/**
 * One console call a line: what Deno's OpenTelemetry export (OTEL_DENO=true) needs, as it makes a
 * log record of each console call and sees nothing written to the streams directly.
 */
export function consoleLines(line: string, level: string): void {
  if (level === "info") console.log(line);
  else console.error(line);
}

/** Every byte of `bytes` to a blocking stream (a pipe may take fewer at a time). */
function writeAll(stream: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let at = 0; at < bytes.byteLength;) at += stream.writeSync(bytes.subarray(at));
}

/**
 * Info lines gathered and written together once per turn of the event loop: a write to a pipe
 * costs a system call, and at a few thousand requests a second one per line was a sixth of the
 * process's CPU. Warnings and errors are written at once (after the lines before them), and what
 * is gathered is written before the process exits or an uncaught error ends it.
 */
export function standardStreams(): (line: string, level: string) => void {
  const encoder = new TextEncoder();
  let pending: string[] = [];
  let scheduled = false;
  function flush() {
    scheduled = false;
    if (pending.length === 0) return;
    const text = pending.join("\n") + "\n";
    pending = [];
    writeAll(Deno.stdout, encoder.encode(text));
  }
  globalThis.addEventListener("unload", flush);
  globalThis.addEventListener("error", flush); // an uncaught error ends the process: no unload
  globalThis.addEventListener("unhandledrejection", flush);
  return (line, level) => {
    if (level !== "info") {
      flush();
      writeAll(Deno.stderr, encoder.encode(line + "\n"));
      return;
    }
    pending.push(line);
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, 0);
    }
  };
}
