// One whole pull through the service's API: create the connection, request the pull, wait for it.
import type { Json } from "../tests/support/vendor_calls.ts";
import type { FakePluggyItemSummary } from "../tests/fakes/pluggy.ts";
import { type BenchService, expectStatus } from "./service.ts";

export interface FakeInfo {
  url: string;
  host: string;
  items: FakePluggyItemSummary[];
}

/** Creates a Pluggy connection on the fake's first item, as a tenant would; answers its id. */
export async function createConnection(
  service: BenchService,
  fake: FakeInfo,
  configName = "pluggy-main",
): Promise<string> {
  const created = await service.api("POST", "/v1/discovery/aggregator-connections", {
    vendor: "pluggy",
    configName,
    baseUrl: fake.url,
    accountRef: fake.items[0].id,
    clientId: "fake-client-id",
    secret: "fake-client-secret",
  });
  return expectStatus("create a connection", created, 201).id;
}

/**
 * Requests a pull of the connection and polls it until it succeeds; a pull that fails, dies or
 * takes longer than `timeoutMs` fails the run. `seconds` runs from the request to the answer
 * that showed it succeeded.
 */
export async function pullToEnd(
  service: BenchService,
  connectionId: string,
  options: { pollMs?: number; timeoutMs?: number } = {},
): Promise<{ seconds: number; pull: Json }> {
  const { pollMs = 50, timeoutMs = 240_000 } = options;
  const start = performance.now();
  const requested = await service.api(
    "POST",
    `/v1/discovery/aggregator-connections/${connectionId}/pulls`,
  );
  const { id } = expectStatus("request a pull", requested, 202);
  for (;;) {
    const pull = expectStatus(
      "read the pull",
      await service.api("GET", `/v1/discovery/pulls/${id}`),
      200,
    );
    if (pull.status === "succeeded") return { seconds: (performance.now() - start) / 1000, pull };
    if (pull.status === "failed" || pull.status === "dead" || pull.lastError) {
      throw new Error(`the pull ended ${pull.status}: ${JSON.stringify(pull.lastError)}`);
    }
    if (performance.now() - start > timeoutMs) {
      throw new Error(`the pull did not finish in ${timeoutMs / 1000} s: ${JSON.stringify(pull)}`);
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/**
 * Checks that the connection holds exactly `expected` live transactions, each once (SQL), and
 * that the transactions API serves them: a full first page.
 */
export async function verifyStored(
  service: BenchService,
  connectionId: string,
  expected: number,
): Promise<void> {
  const [row] = await service.sql`
    select count(*)::int as all, count(distinct external_id)::int as distinct
    from transactions where connection_id = ${connectionId} and deleted_at is null`;
  if (row.all !== expected || row.distinct !== expected) {
    throw new Error(`stored ${row.all} transactions (${row.distinct} distinct), not ${expected}`);
  }
  const page = expectStatus(
    "list the transactions",
    await service.api(
      "GET",
      `/v1/discovery/aggregator-connections/${connectionId}/transactions?limit=200`,
    ),
    200,
  );
  if (page.items.length !== Math.min(200, expected) || page.hasMore !== expected > 200) {
    throw new Error(`the transactions API served ${page.items.length} items on its first page`);
  }
}

/** CPU seconds of the Postgres backends serving `database`, from now until `stop()`. */
export async function watchPostgresCpu(
  service: BenchService,
  cpuSeconds: (pid: number) => number,
) {
  const backends = async () =>
    (await service.sql`select pid from pg_stat_activity where datname = ${service.databaseName}`)
      .map((r) => r.pid as number);
  const before = new Map((await backends()).map((pid) => [pid, cpuSeconds(pid)]));
  return {
    async stop(): Promise<number> {
      let total = 0;
      for (const pid of await backends()) total += cpuSeconds(pid) - (before.get(pid) ?? 0);
      return total;
    },
  };
}

export interface CpuWatch {
  /** CPU seconds of the service's process and of its Postgres backends since the watch began. */
  stop(): Promise<{ service: number; postgres: number }>;
}

/** CPU seconds of the service's process and of its Postgres backends, from now until `stop()`. */
export async function watchServiceCpu(
  service: BenchService,
  cpuSeconds: (pid: number) => number,
): Promise<CpuWatch> {
  const before = cpuSeconds(service.pid);
  const postgres = await watchPostgresCpu(service, cpuSeconds);
  return {
    async stop() {
      return { service: cpuSeconds(service.pid) - before, postgres: await postgres.stop() };
    },
  };
}
