// Benchmark 4: list latency for a tenant with 10,000 connections (sealed as the service seals
// them), over real HTTP, against a bare Deno.serve answering a body of the same size; the tenant's
// read limit is counted on every request, and compared with a replica that has it off.
import { sealCredential, unsealCredential } from "../src/connections/credential.ts";
import { createKeyRing } from "../src/crypto/seal.ts";
import { startChild } from "./processes.ts";
import { type BenchService, expectStatus, startBenchService } from "./service.ts";

const LIST = "/v1/discovery/aggregator-connections";

export interface LatencyFigures {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ListResult {
  connections: number;
  otherTenantsConnections: number;
  seedSeconds: number;
  limit: number;
  pageBytes: number;
  /** Every request: the walks and the first pages together. */
  service: LatencyFigures & { walks: LatencyFigures; firstPage: LatencyFigures };
  bare: LatencyFigures;
  ratio: number;
  /**
   * The first page from the service (its read limit counted in KV: a read and a sum per request)
   * and from a replica on the same database with the limit off, in alternating blocks.
   */
  limits: { on: LatencyFigures; off: LatencyFigures; p50Ratio: number };
}

/** The tenant's reads counted against a quota no run reaches, so none is refused. */
const READS_ON = { MATCHER_RATE_LIMIT_READS_PER_MINUTE: "1000000000" };

/** The q-quantile (0..1) of sorted numbers, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function figures(ms: number[]): LatencyFigures {
  const sorted = [...ms].sort((a, b) => a - b);
  const r = (n: number) => Number(n.toFixed(2));
  return {
    requests: ms.length,
    p50Ms: r(quantile(sorted, 0.5)),
    p99Ms: r(quantile(sorted, 0.99)),
    maxMs: r(sorted[sorted.length - 1]),
  };
}

/** Inserts `count` aggregator connections of `tenantId`, each credential sealed for its row. */
async function seed(service: BenchService, tenantId: string, count: number): Promise<string[]> {
  const ring = await createKeyRing(service.sealKeys);
  const base = Date.now() - count * 1_000;
  const ids: string[] = [];
  for (let start = 0; start < count; start += 1_000) {
    const rows = await Promise.all(
      Array.from({ length: Math.min(1_000, count - start) }, async (_, k) => {
        const i = start + k;
        const id = crypto.randomUUID();
        ids.push(id);
        const at = new Date(base + i * 1_000);
        return {
          id,
          tenant_id: tenantId,
          kind: "aggregator",
          connector_type: "pluggy",
          config_name: `pluggy-${i}`,
          base_url: "https://api.pluggy.ai",
          account_ref: crypto.randomUUID(),
          sealed_credential: await sealCredential(ring, {
            tenantId,
            connectionId: id,
            vendor: "pluggy",
          }, { clientId: `client-${i}`, secret: `secret-${crypto.randomUUID()}` }),
          created_at: at,
          updated_at: at,
        };
      }),
    );
    await service.sql`insert into connections ${service.sql(rows)}`;
  }
  return ids;
}

/** Times one GET, body read included. */
async function timedGet(url: string, headers: HeadersInit): Promise<{ ms: number; body: string }> {
  const start = performance.now();
  const res = await fetch(url, { headers });
  const body = await res.text();
  const ms = performance.now() - start;
  if (res.status !== 200) throw new Error(`GET ${new URL(url).pathname}: ${res.status} ${body}`);
  return { ms, body };
}

/** Checks the seeded rows through the service: every id listed once, and a credential opens. */
async function verifySeed(service: BenchService, ids: string[], limit: number) {
  const seen = new Set<string>();
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${cursor}` : "";
    const page: { items: Array<{ id: string }>; nextCursor: string | null } = expectStatus(
      "list connections",
      await service.api("GET", `${LIST}?limit=${limit}${query}`),
      200,
    );
    for (const item of page.items) seen.add(item.id);
    cursor = page.nextCursor;
  } while (cursor);
  if (seen.size !== ids.length || !ids.every((id) => seen.has(id))) {
    throw new Error(`the walk listed ${seen.size} connections, not the ${ids.length} seeded`);
  }
  const [row] = await service.sql`
    select id, sealed_credential from connections where id = ${ids[0]}`;
  const credential = await unsealCredential(await createKeyRing(service.sealKeys), {
    tenantId: service.tenant,
    connectionId: row.id,
    vendor: "pluggy",
  }, row.sealed_credential);
  if (credential.clientId !== "client-0") throw new Error("a seeded credential does not open");
}

export async function benchList(
  options: { connections?: number; limit?: number; requests?: number } = {},
): Promise<ListResult> {
  const { connections = 10_000, limit = 50, requests = 2_000 } = options;
  const others = 10_000;
  const service = await startBenchService({ env: READS_ON });
  try {
    const seedStart = performance.now();
    const ids = await seed(service, service.tenant, connections);
    // Other tenants' rows share the table and its indexes, as in production.
    for (let t = 0; t < 10; t++) await seed(service, crypto.randomUUID(), others / 10);
    await service.sql`analyze connections`;
    const seedSeconds = (performance.now() - seedStart) / 1000;
    await verifySeed(service, ids, limit);

    const headers = { Authorization: service.authorization };
    const first = `${service.baseUrl}${LIST}?limit=${limit}`;
    const { body: firstBody } = await timedGet(first, headers);
    for (let i = 0; i < 100; i++) await timedGet(first, headers); // warm-up

    // Half the requests walk the pages with the cursor (over and over); half ask for page one.
    const walks: number[] = [];
    let cursor: string | null = null;
    while (walks.length < requests / 2) {
      const { ms, body } = await timedGet(cursor ? `${first}&cursor=${cursor}` : first, headers);
      walks.push(ms);
      cursor = JSON.parse(body).nextCursor;
    }
    const firstPage: number[] = [];
    for (let i = 0; i < requests / 2; i++) firstPage.push((await timedGet(first, headers)).ms);

    const pageFile = await Deno.makeTempFile({ prefix: "matcher-bench-page-" });
    await Deno.writeTextFile(pageFile, firstBody);
    const bareServer = await startChild<{ url: string }>("bare_server.ts", ["file", pageFile]);
    const bare: number[] = [];
    try {
      const url = `${bareServer.info.url}${LIST}?limit=${limit}`;
      for (let i = 0; i < 100; i++) await timedGet(url, headers);
      for (let i = 0; i < requests; i++) bare.push((await timedGet(url, headers)).ms);
    } finally {
      await bareServer.stop();
      await Deno.remove(pageFile);
    }
    const limits = await compareReadLimit(service, first.replace(service.baseUrl, ""), requests);
    const all = figures([...walks, ...firstPage]);
    const baseline = figures(bare);
    return {
      connections,
      otherTenantsConnections: others,
      seedSeconds: Number(seedSeconds.toFixed(2)),
      limit,
      pageBytes: new TextEncoder().encode(firstBody).length,
      service: { ...all, walks: figures(walks), firstPage: figures(firstPage) },
      bare: baseline,
      ratio: Number((all.p99Ms / baseline.p99Ms).toFixed(2)),
      limits,
    };
  } finally {
    await service.close();
  }
}

/**
 * `requests` first pages from the service and as many from a replica with the read limit off,
 * in blocks of 100 (on, off, off, on, ...), so that the machine's drift falls on both alike.
 */
async function compareReadLimit(service: BenchService, path: string, requests: number) {
  const off = await startBenchService({ share: service });
  try {
    const headers = { Authorization: service.authorization };
    const urls = [`${service.baseUrl}${path}`, `${off.baseUrl}${path}`];
    for (let i = 0; i < 100; i++) await timedGet(urls[1], headers); // warm-up
    const times: number[][] = [[], []];
    for (let block = 0; block < (2 * requests) / 100; block++) {
      const side = [0, 1, 1, 0][block % 4];
      for (let i = 0; i < 100; i++) times[side].push((await timedGet(urls[side], headers)).ms);
    }
    const [on, offFigures] = [figures(times[0]), figures(times[1])];
    return { on, off: offFigures, p50Ratio: Number((on.p50Ms / offFigures.p50Ms).toFixed(2)) };
  } finally {
    await off.close();
  }
}

if (import.meta.main) console.log(JSON.stringify(await benchList(), null, 2));
