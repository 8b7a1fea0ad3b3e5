// Runs `deno task sandbox` as a newcomer would and reads the values it prints.
import { TextLineStream } from "../support/text_lines.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** What the sandbox tells the reader to type, read back from its output. */
export interface SandboxValues {
  /** The `MATCHER_EGRESS_ALLOW_HOSTS` and `MATCHER_EGRESS_ALLOW_HTTP` it says to set. */
  env: Record<string, string>;
  pluggy: { baseUrl: string; accountRef: string; clientId: string; secret: string };
  belvo: { baseUrl: string; accountRef: string; clientId: string; secret: string };
}

export interface Sandbox {
  values: SandboxValues;
  output: string;
  /** Writes a line to the sandbox's standard input and answers the next line it prints. */
  send(line: string): Promise<string>;
  stop(): Promise<void>;
}

function vendorBlock(text: string, name: string) {
  const block = new RegExp(`${name}\\s+Type: ${name}\\n([\\s\\S]*?)(?:\\n\\n|$)`).exec(text)?.[1];
  if (!block) throw new Error(`the sandbox printed no ${name} values:\n${text}`);
  const value = (label: string) => {
    const found = new RegExp(`${label}: (\\S+)`).exec(block)?.[1];
    if (!found) throw new Error(`the sandbox printed no ${name} ${label}:\n${text}`);
    return found;
  };
  return {
    baseUrl: value("Base URL"),
    accountRef: value("Account reference"),
    clientId: value("Client id"),
    secret: value("Secret"),
  };
}

/** Parses the sandbox's instructions. */
export function parseSandboxOutput(text: string): SandboxValues {
  const env = /(MATCHER_EGRESS_ALLOW_HOSTS=\S+) (MATCHER_EGRESS_ALLOW_HTTP=\S+)/.exec(text);
  if (!env) throw new Error(`the sandbox printed no egress setting:\n${text}`);
  return {
    env: Object.fromEntries(env.slice(1).map((pair) => pair.split("=") as [string, string])),
    pluggy: vendorBlock(text, "Pluggy"),
    belvo: vendorBlock(text, "Belvo"),
  };
}

/**
 * Starts the sandbox task's own `deno run` (so that stopping it stops the fakes) on free ports,
 * and waits for its instructions.
 */
export async function startSandbox(env: Record<string, string>): Promise<Sandbox> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const [deno, ...args] = (config.tasks.sandbox as string).split(/\s+/);
  if (deno !== "deno" || args[0] !== "run") throw new Error("the sandbox task is not `deno run`");
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, "--pluggy-port=0", "--belvo-port=0"],
    cwd: ROOT,
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(new TextLineStream())
    .getReader();
  const output: string[] = [];
  for (;;) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the sandbox stopped:\n${output.join("\n")}\n${await stderr}`);
    output.push(value);
    if (value.startsWith("Ctrl-C stops the sandbox")) break;
  }
  const text = output.join("\n");
  const stdin = child.stdin.getWriter();
  return {
    values: parseSandboxOutput(text),
    output: text,
    async send(line) {
      await stdin.write(new TextEncoder().encode(`${line}\n`));
      const { value, done } = await lines.read();
      if (done) throw new Error(`the sandbox stopped: ${await stderr}`);
      return value;
    },
    async stop() {
      await stdin.close().catch(() => {});
      child.kill("SIGTERM");
      await child.status;
      await lines.cancel().catch(() => {});
      await stderr;
    },
  };
}
