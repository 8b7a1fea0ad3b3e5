// The baseline server: a bare Deno.serve in its own process that answers every request at once.
// Usage: deno run --allow-net --allow-read bare_server.ts webhook
//        deno run --allow-net --allow-read bare_server.ts file <path of the body to answer>
const [mode, path] = Deno.args;
const fixed = mode === "file" ? await Deno.readFile(path) : undefined;

const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
  // The service reads every webhook body, so the baseline reads it too.
  if (request.body) await request.arrayBuffer();
  if (fixed) {
    return new Response(fixed, { headers: { "content-type": "application/json" } });
  }
  // The same shape and size as the service's receipt.
  return Response.json({ status: "accepted", pullId: crypto.randomUUID() }, { status: 202 });
});
console.log(JSON.stringify({ url: `http://127.0.0.1:${server.addr.port}` }));
Deno.addSignalListener("SIGTERM", async () => {
  await server.shutdown();
  Deno.exit(0);
});
