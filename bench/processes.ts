// Child processes of the bench (fakes, baselines) and what /proc says about any process's memory and CPU.
import { TextLineStream } from "../tests/support/text_lines.ts";

const HERE = new URL("./", import.meta.url).pathname;
const DEV_CONFIG = new URL("../deno.dev.json", import.meta.url).pathname;

export interface Child<T> {
  /** What the child printed as its first line, parsed. */
  info: T;
  pid: number;
  stop(): Promise<void>;
}

/** Runs `deno run --allow-all bench/<script> ...args` (on the development import map) and waits for
 * its first (JSON) line. */
export async function startChild<T>(script: string, args: string[] = []): Promise<Child<T>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--config", DEV_CONFIG, "--allow-all", `${HERE}${script}`, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    .getReader();
  const first = await reader.read();
  if (first.done) throw new Error(`${script} exited before it was ready`);
  const rest = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) { /* drained */ }
  })();
  return {
    info: JSON.parse(first.value) as T,
    pid: child.pid,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
      await rest;
    },
  };
}

/** A field of /proc/<pid>/status in bytes (VmRSS: resident now; VmHWM: the peak so far). */
export function memoryBytes(pid: number, field: "VmRSS" | "VmHWM"): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1];
  if (kb === undefined) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Number(kb) * 1024;
}

/** User plus system CPU seconds a process has used so far (0 when it is gone). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may hold spaces) start at state, field 3.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/** Linux's USER_HZ: /proc times count in these ticks (100 on every mainstream build). */
const CLOCK_TICKS = 100;

/** Samples `pid`'s VmRSS every `everyMs` until stopped; answers the samples and their maximum. */
export function sampleRss(pid: number, everyMs = 100) {
  const samples: Array<{ atMs: number; rssBytes: number }> = [];
  const start = performance.now();
  const take = () => {
    try {
      samples.push({
        atMs: Math.round(performance.now() - start),
        rssBytes: memoryBytes(pid, "VmRSS"),
      });
    } catch { /* the process ended */ }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop() {
      clearInterval(timer);
      take();
      return { samples, maxBytes: Math.max(...samples.map((s) => s.rssBytes)) };
    },
  };
}
