// The load generator: autocannon's API in Node, each connection posting to one path of its own.
// Run by autocannon.ts as `npx -p autocannon@<pin> -c "node bench/load.cjs <options.json>"`; npx
// puts the package's .bin on PATH, next to which its module lives.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

const bin = process.env.PATH.split(path.delimiter).find((dir) =>
  fs.existsSync(path.join(dir, "autocannon"))
);
if (!bin) throw new Error("autocannon is not on PATH: run this through npx -p autocannon@...");
const autocannon = require(path.join(bin, "..", "autocannon"));

/** { origin, requests: [{method, path, headers, body}], connections, duration?, amount? } */
const options = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
let next = 0;
autocannon({
  url: options.origin,
  connections: options.connections,
  ...(options.amount ? { amount: options.amount } : { duration: options.duration }),
  idReplacement: true, // [<id>] in a body becomes a unique id on every request
  requests: [options.requests[0]],
  // Connection i sends request i mod n, so the load spreads evenly over the paths (tokens).
  setupClient(client) {
    client.setRequests([options.requests[next++ % options.requests.length]]);
  },
}, (err, result) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(JSON.stringify(result));
  process.exit(0);
});
