// Runs the project's deno tasks as child processes, the way the README tells a newcomer to.
import { TextLineStream } from "./text_lines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The parent's PATH, HOME and Deno/npm settings, without any MATCHER_, AUTH_ or DATABASE_ setting. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = Object.entries(Deno.env.toObject()).filter(([k]) =>
    k === "PATH" || k === "HOME" || k.startsWith("DENO_") || k.startsWith("NPM_CONFIG_")
  );
  return { ...Object.fromEntries(keep), ...extra };
}

/** `deno task <args>` in the project, with only the given environment. */
export function denoTask(args: string[], env: Record<string, string>): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["task", "--quiet", "--config", `${ROOT}deno.json`, ...args],
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/** Runs a task to its end and answers its exit code and output. */
export async function runTask(args: string[], env: Record<string, string>) {
  const out = await denoTask(args, env).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/**
 * `deno task start`'s own `deno run` command, run directly: a signal then reaches the service
 * itself (SIGKILL to the task runner would leave the service running as an orphan).
 */
function startCommand(env: Record<string, string>): Deno.Command {
  const config = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const [deno, ...args] = (config.tasks.start as string).split(/\s+/);
  if (deno !== "deno" || args[0] !== "run") throw new Error("the start task is not `deno run`");
  return new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * Starts the service as `deno task start` would and waits for its "listening on" log line;
 * answers the base URL. `{ direct: true }` runs the task's command itself, so that `stop` can
 * SIGKILL the service.
 */
export async function startService(
  env: Record<string, string>,
  options: { direct?: boolean } = {},
) {
  const child = (options.direct ? startCommand(env) : denoTask(["start"], env)).spawn();
  const lines: string[] = [];
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    .getReader();
  let baseUrl: string | undefined;
  while (!baseUrl) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`the service exited before listening:\n${lines.join("\n")}\n${await stderr}`);
    }
    lines.push(value);
    baseUrl = /listening on (http:\/\/[^" ]+)/.exec(value)?.[1];
  }
  const rest = (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) lines.push(r.value);
  })();
  return {
    baseUrl,
    /** The service's own process id (with `direct: true`; else the task runner's). */
    pid: child.pid,
    lines,
    /** SIGTERM (a graceful stop) by default; SIGKILL is a crash. */
    async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
      child.kill(signal);
      const status = await child.status;
      await rest;
      lines.push(await stderr);
      return status;
    },
  };
}
