// The kill -9 test at scale: a 200-page pull killed at five random pages (the seed is printed,
// and CHAOS_SEED replays it); the stored transactions equal the vendor's, none stored twice.
import { mulberry32 } from "../tests/fakes/random.ts";
import { runKillScenario } from "../tests/support/kill_scenario.ts";

const PAGE_SIZE = 10;
const ACCOUNTS = [700, 550, 450, 300]; // 70 + 55 + 45 + 30 = 200 pages

Deno.test({
  name:
    "a 200-page pull killed with SIGKILL at five random pages ends with exactly the vendor's data",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const seed = Number(Deno.env.get("CHAOS_SEED") ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`CHAOS_SEED=${seed}`);
    const random = mulberry32(seed);
    const pages = ACCOUNTS.reduce((n, t) => n + Math.ceil(t / PAGE_SIZE), 0);
    const kills = new Set<number>();
    // Five distinct pages, at least 5 apart so each restart gets going before the next kill.
    while (kills.size < 5) {
      const k = 1 + Math.floor(random() * (pages - 2));
      if ([...kills].every((other) => Math.abs(other - k) >= 5)) kills.add(k);
    }
    const report = await runKillScenario({
      accounts: ACCOUNTS,
      pageSize: PAGE_SIZE,
      killAfterPages: [...kills].sort((a, b) => a - b),
      seed,
      pageDelayMs: 100,
    });
    console.log(
      `kill -9 at pages ${report.killedAt.join(", ")} of ${report.pages}; ` +
        `${report.transactions} transactions`,
    );
  },
});
