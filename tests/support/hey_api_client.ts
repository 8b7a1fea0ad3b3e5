// Runs @hey-api/openapi-ts with its fetch client on a spec: `deno run -A hey_api_client.ts <spec>
// <out dir>`. The second-generator test runs it as a child process to read everything it prints.
import "typescript"; // the generator's peer dependency; importing it makes Deno resolve it
import { createClient } from "@hey-api/openapi-ts";

const [input, path] = Deno.args;
if (!input || !path) throw new Error("usage: hey_api_client.ts <spec> <out dir>");

await createClient({
  input,
  // Deno resolves only imports that name the file, so the output names `.ts` files.
  output: { path, importFileExtension: ".ts" },
  plugins: ["@hey-api/client-fetch", "@hey-api/typescript", "@hey-api/sdk"],
  // The generator's own spec validator: it prints each problem it finds as [WARNING] or [ERROR].
  parser: { validate_EXPERIMENTAL: "warn" },
  // "info" prints warnings and errors too; no log file is written.
  logs: { level: "info", file: false },
});
