// A second, independent generator (@hey-api/openapi-ts with its fetch client) must turn openapi.yaml
// into a client without an error or a warning, and the client must type-check.
import assert from "node:assert/strict";
import { parse } from "yaml";

const ROOT = new URL("../../", import.meta.url).pathname;
const SPEC = `${ROOT}openapi.yaml`;
const RUNNER = new URL("../support/hey_api_client.ts", import.meta.url).pathname;

// Everything the generator prints at "info" level when all goes well; anything else is a finding.
const INFO_LINES = [
  /^$/,
  /^@hey-api\/openapi-ts v\d+\.\d+\.\d+$/,
  /^\[Job \d+\] ~ Generating\.\.\.$/,
  /^\[Job \d+\] +\[\d+\] \S+$/,
  /^\[Job \d+\] ✓ \S+ · \d+ files? · [\d.]+m?s$/,
];

// deno-lint-ignore no-control-regex
const stripColors = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** Runs the generator in its own process and answers its exit code and output. */
async function generate(spec: string, outDir: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "--config", `${ROOT}deno.dev.json`, RUNNER, spec, outDir],
    cwd: outDir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => stripColors(new TextDecoder().decode(bytes));
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

/** Standard error without Deno's own "Download <url>" lines (a cold npm cache), which are not the generator's. */
const generatorStderr = (stderr: string) =>
  stderr.split("\n").filter((l) => !/^Download https?:\/\/\S+$/.test(l.trim())).join("\n").trim();

/** The output lines that are not plain progress information. */
function findings(stdout: string): string[] {
  return stdout.split("\n").map((l) => l.trimEnd()).filter((l) =>
    !INFO_LINES.some((info) => info.test(l))
  );
}

async function withTempDir(use: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "matcher-second-generator-" });
  try {
    await use(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("@hey-api/openapi-ts generates a client from openapi.yaml with no error or warning, and it type-checks", async () => {
  await withTempDir(async (dir) => {
    const result = await generate(SPEC, dir);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(generatorStderr(result.stderr), "", "nothing on standard error");
    assert.deepEqual(findings(result.stdout), [], "no warnings or errors in its log");
    assert.match(result.stdout, /✓ .* files? · /, "it reports the files written");

    // One SDK function per operation of the spec.
    const spec = parse(await Deno.readTextFile(SPEC));
    const operationIds = Object.values(spec.paths).flatMap((item) =>
      Object.values(item as Record<string, { operationId?: string }>).flatMap((op) =>
        op?.operationId ? [op.operationId] : []
      )
    );
    const sdk = await Deno.readTextFile(`${dir}/sdk.gen.ts`);
    for (const id of operationIds) {
      assert.match(sdk, new RegExp(`export const ${id} = `), `the SDK has ${id}`);
    }

    const check = await new Deno.Command(Deno.execPath(), {
      args: ["check", "--no-config", `${dir}/index.ts`],
      cwd: dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const checkOutput = new TextDecoder().decode(check.stderr);
    assert.equal(check.code, 0, `the generated client does not type-check:\n${checkOutput}`);
  });
});

Deno.test("the second-generator check notices a spec problem (a repeated operationId)", async () => {
  await withTempDir(async (dir) => {
    const broken = (await Deno.readTextFile(SPEC)).replace(
      "operationId: getApiDocs",
      "operationId: getHealth",
    );
    assert.notEqual(broken, await Deno.readTextFile(SPEC), "the spec was changed");
    await Deno.writeTextFile(`${dir}/broken.yaml`, broken);
    const result = await generate(`${dir}/broken.yaml`, `${dir}`);
    const problems = [...findings(result.stdout), result.stderr.trim()].filter(Boolean);
    assert.ok(problems.some((p) => /Duplicate `operationId`/.test(p)), problems.join("\n"));
  });
});
