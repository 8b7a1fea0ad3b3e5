// Ctrl-C on `deno task start` sends SIGINT twice (the terminal's, and the one deno task forwards):
// the service stops once, cleanly.
import assert from "node:assert/strict";
import { createTestDatabase } from "../support/database.ts";
import { serviceSetup } from "../support/service.ts";

Deno.test({
  name: "two SIGINTs in quick succession stop the service once, with exit code 0",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const setup = await serviceSetup(db.url, []);
    try {
      for (const signals of [["SIGINT", "SIGINT"], ["SIGTERM", "SIGINT"]] as const) {
        const service = await setup.start();
        // A request served, so that the server has a connection to close as well.
        const ready = await fetch(`${service.baseUrl}/ready`);
        assert.equal(ready.status, 200);
        await ready.body?.cancel();
        Deno.kill(service.pid, signals[0]);
        const status = await service.stop(signals[1]);
        const output = service.lines.join("\n");
        assert.doesNotMatch(output, /Uncaught|BadResource|error:/, output);
        assert.equal(status.code, 0, `${signals.join(" + ")}: ${output}`);
      }
    } finally {
      await setup.cleanup();
      await db.drop();
    }
  },
});
