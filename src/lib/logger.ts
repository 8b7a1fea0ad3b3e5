// Structured JSON-line logging; the logger is passed in so tests can capture what is written.

export type LogRecord = { msg: string } & Record<string, unknown>;
export interface Logger {
  info(record: LogRecord): void;
  warn(record: LogRecord): void;
  error(record: LogRecord): void;
}

/** Writes one JSON object a line to standard output (info) or standard error (warn, error). */
export function jsonLogger(write: (line: string, level: string) => void = defaultWrite): Logger {
  const emit = (level: string) => (record: LogRecord) =>
    write(JSON.stringify({ time: new Date().toISOString(), level, ...record }), level);
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}

function defaultWrite(line: string, level: string): void {
  if (level === "info") console.log(line);
  else console.error(line);
}
