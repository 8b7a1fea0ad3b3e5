// The plan of a query exactly as a repository sent it: a pool that records what it sends, and
// EXPLAIN (ANALYZE, BUFFERS) of the last query, with its parameters.
import postgres from "postgres";

export type Plan =
  & { "Node Type": string; "Index Name"?: string; Plans?: Plan[] }
  & Record<string, unknown>;

/** The plan and every node under it. */
export function planNodes(plan: Plan): Plan[] {
  return [plan, ...(plan.Plans ?? []).flatMap(planNodes)];
}

export interface QueryCapture {
  /** The pool to hand the repository (one connection, every query recorded). */
  sql: postgres.Sql;
  /** Forgets what was sent so far. */
  clear(): void;
  /** The plan of the last query sent, explained on `sql`. */
  explainLast(sql: postgres.Sql): Promise<Plan>;
  end(): Promise<void>;
}

export function captureQueries(databaseUrl: string): QueryCapture {
  const sent: { text: string; params: unknown[] }[] = [];
  const spy = postgres(databaseUrl, {
    max: 1,
    onnotice: () => {},
    debug: (_conn, text, params) => sent.push({ text, params: params as unknown[] }),
  });
  return {
    sql: spy as unknown as postgres.Sql,
    clear: () => void (sent.length = 0),
    async explainLast(sql) {
      const { text, params } = sent.at(-1)!;
      const [{ "QUERY PLAN": [explained] }] = await sql.unsafe(
        `explain (analyze, buffers, format json) ${text}`,
        params as postgres.ParameterOrJSON<never>[],
      );
      return explained.Plan as Plan;
    },
    end: () => spy.end(),
  };
}
