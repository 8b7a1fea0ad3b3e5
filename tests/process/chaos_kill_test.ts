// SIGKILL of the real service five times during a multi-page pull: after the restarts the stored
// transactions equal the vendor's, none stored twice, and the pull succeeded.
import { runKillScenario } from "../support/kill_scenario.ts";

Deno.test({
  name: "a pull killed with SIGKILL at five different pages ends with exactly the vendor's data",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // Three accounts, 8 a page: 13 + 10 + 8 = 31 pages; kills spread over all three accounts.
    const report = await runKillScenario({
      accounts: [100, 80, 60],
      pageSize: 8,
      killAfterPages: [3, 9, 14, 21, 28],
      seed: 5,
    });
    console.log(`kill -9 at pages ${report.killedAt.join(", ")} of ${report.pages}`);
  },
});
