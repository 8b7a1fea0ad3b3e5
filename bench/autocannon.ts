// Runs autocannon (from npm, through npx) as a separate load-generator process and reads its JSON.

/** Pinned here and recorded in results.json. */
export const AUTOCANNON = "autocannon@9.0.0";

/** One request of the load; `[<id>]` in its body becomes a unique id each time it is sent. */
export interface LoadRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
}

/** The parts of autocannon's `-j` result the bench reads. */
export interface AutocannonResult {
  duration: number;
  start: string;
  finish: string;
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  latency: { p50: number; p99: number; average: number; max: number };
  requests: { sent: number };
}

const LOAD_SCRIPT = new URL("./load.cjs", import.meta.url).pathname;

/**
 * Sends the requests with `connections` connections, connection i always sending request
 * i mod n, for `seconds` or, when `amount` is given, until exactly that many answers came back.
 * autocannon runs in Node, in its own process.
 */
export async function autocannon(options: {
  requests: LoadRequest[];
  connections: number;
  seconds?: number;
  amount?: number;
}): Promise<AutocannonResult> {
  const file = await Deno.makeTempFile({ prefix: "matcher-bench-load-", suffix: ".json" });
  try {
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        origin: new URL(options.requests[0].url).origin,
        requests: options.requests.map((r) => {
          const url = new URL(r.url);
          return {
            method: r.method,
            path: url.pathname + url.search,
            headers: r.headers,
            body: r.body,
          };
        }),
        connections: options.connections,
        duration: options.seconds ?? 10,
        amount: options.amount,
      }),
    );
    const out = await new Deno.Command("npx", {
      args: ["-y", "-p", AUTOCANNON, "-c", `node ${LOAD_SCRIPT} ${file}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout).trim();
    if (out.code !== 0 || !stdout) {
      throw new Error(`autocannon failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
    }
    return JSON.parse(stdout.split("\n").at(-1)!);
  } finally {
    await Deno.remove(file);
  }
}

/** Answers per second over the run's own start and finish. */
export function rate(result: AutocannonResult): number {
  const seconds = (Date.parse(result.finish) - Date.parse(result.start)) / 1000;
  return result["2xx"] / seconds;
}
