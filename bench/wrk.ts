// Runs wrk (Debian's package, C, one thread) as the load generator: it saturates a server long
// before the server saturates it, unlike autocannon in Node, so ratios against a bare server hold.
import type { AutocannonResult, LoadRequest } from "./autocannon.ts";

const SCRIPT = new URL("./wrk_load.lua", import.meta.url).pathname;

/** Installs wrk from Debian's packages when it is missing (the bench runs as root here). */
async function ensureWrk(): Promise<void> {
  const found = await new Deno.Command("sh", { args: ["-c", "command -v wrk"] }).output();
  if (found.success) return;
  const apt = await new Deno.Command("apt-get", {
    args: ["install", "-y", "wrk"],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!apt.success) {
    throw new Error(`wrk is missing and apt-get could not install it (apt-get install -y wrk)`);
  }
}

/**
 * POSTs the requests (all to one origin) with `connections` connections for `seconds`, each body's
 * `[<id>]` unique; answers the figures in autocannon's shape, 2xx being every answer wrk did not
 * count as an error or a non-2xx status.
 */
export async function wrk(options: {
  requests: LoadRequest[];
  connections: number;
  seconds: number;
}): Promise<AutocannonResult> {
  await ensureWrk();
  const file = await Deno.makeTempFile({ prefix: "matcher-bench-wrk-", suffix: ".json" });
  try {
    // A line per request: path, a tab, the body (JSON has neither tabs nor line feeds unescaped),
    // then each header of its own after a tab; wrk_load.lua sets the content type.
    const lines = options.requests.map((r) => {
      const own = Object.entries(r.headers).filter(([name]) =>
        name.toLowerCase() !== "content-type"
      );
      const headers = own.map(([name, value]) => `\t${name}: ${value}`).join("");
      return `${new URL(r.url).pathname}\t${r.body ?? ""}${headers}\n`;
    });
    await Deno.writeTextFile(file, lines.join(""));
    const start = new Date();
    const out = await new Deno.Command("wrk", {
      args: [
        "-t1",
        `-c${options.connections}`,
        `-d${options.seconds}s`,
        "--timeout",
        "10s",
        "-s",
        SCRIPT,
        new URL(options.requests[0].url).origin,
      ],
      env: { WRK_REQUESTS: file, WRK_ID_PREFIX: crypto.randomUUID() },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const line = stdout.split("\n").find((l) => l.startsWith("WRK_RESULT "));
    if (!out.success || !line) {
      throw new Error(`wrk failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
    }
    const r = JSON.parse(line.slice("WRK_RESULT ".length));
    const errors = r.connectErrors + r.readErrors + r.writeErrors;
    return {
      duration: r.durationUs / 1e6,
      start: start.toISOString(),
      finish: new Date(start.getTime() + r.durationUs / 1000).toISOString(),
      errors,
      timeouts: r.timeouts,
      non2xx: r.non2xx,
      "2xx": r.requests - r.non2xx - errors - r.timeouts,
      latency: { p50: r.p50Us / 1000, p99: r.p99Us / 1000, average: 0, max: r.maxUs / 1000 },
      // wrk counts the requests answered; when the run stops, each connection may have one more
      // sent and unanswered, which the server may still store.
      requests: { sent: r.requests + options.connections },
    };
  } finally {
    await Deno.remove(file);
  }
}
