// What the bench ran on: CPU, cores, memory, versions, load; recorded beside every figure.
import postgres from "postgres";
import { TEST_DATABASE_URL } from "../tests/support/database.ts";
import { AUTOCANNON } from "./autocannon.ts";

export interface Machine {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  os: string;
  deno: string;
  v8: string;
  postgres: string;
  node: string;
  autocannon: string;
}

function cpuModel(): string {
  const info = Deno.readTextFileSync("/proc/cpuinfo");
  return /^model name\s*:\s*(.+)$/m.exec(info)?.[1].trim() ?? "unknown";
}

function memoryGb(): number {
  const kb = /^MemTotal:\s+(\d+) kB/m.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1];
  return Number((Number(kb) / 1024 / 1024).toFixed(1));
}

async function commandLine(cmd: string, args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "null" }).output();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "unknown";
  }
}

export async function describeMachine(): Promise<Machine> {
  const sql = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  let server = "unknown";
  try {
    server = (await sql`select version()`)[0].version;
  } finally {
    await sql.end();
  }
  return {
    cpuModel: cpuModel(),
    cores: navigator.hardwareConcurrency,
    memoryGb: memoryGb(),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    postgres: server,
    node: await commandLine("node", ["--version"]),
    autocannon: AUTOCANNON,
  };
}

/** The commit the bench measured, with "+changes" when the worktree differs from it. */
export async function describeCommit(): Promise<string> {
  const root = new URL("../", import.meta.url).pathname;
  const head = await commandLine("git", ["-C", root, "rev-parse", "--short", "HEAD"]);
  const dirty = await commandLine("git", ["-C", root, "status", "--porcelain", "--", "src"]);
  return dirty ? `${head}+changes` : head;
}
