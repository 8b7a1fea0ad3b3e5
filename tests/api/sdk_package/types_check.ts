// Type-checked, never run, by both consumers in sdk_package_test.ts (Deno, and tsc against the npm
// tarball's .d.ts): paginate's items and options follow each list path through the package's types.
import {
  type components,
  createMatcherClient,
  type ListPath,
  MatcherApiError,
} from "@matcher/discovery-client";

type Schemas = components["schemas"];
type Equals<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
function expectType<T extends true>(_: T): void {}

expectType<
  Equals<
    ListPath,
    | "/v1/discovery/aggregator-connections"
    | "/v1/discovery/aggregator-connections/{id}/pulls"
    | "/v1/discovery/aggregator-connections/{id}/transactions"
    | "/v1/discovery/transactions/changes"
    | "/v1/discovery/webhooks/tokens"
    | "/v1/discovery/audit-events"
  >
>(true);

export async function typed(id: string): Promise<void> {
  const matcher = createMatcherClient({ baseUrl: "http://127.0.0.1:8080", token: "jwt" });
  for await (const c of matcher.paginate("/v1/discovery/aggregator-connections")) {
    expectType<Equals<typeof c, Schemas["AggregatorConnection"]>>(true);
  }
  const path = { id };
  for await (
    const p of matcher.paginate("/v1/discovery/aggregator-connections/{id}/pulls", {
      params: { path, query: { limit: 5 } },
    })
  ) {
    expectType<Equals<typeof p, Schemas["Pull"]>>(true);
  }
  for await (
    const t of matcher.paginate("/v1/discovery/aggregator-connections/{id}/transactions", {
      params: { path },
    })
  ) {
    expectType<Equals<typeof t, Schemas["Transaction"]>>(true);
  }
  for await (
    const change of matcher.paginate("/v1/discovery/transactions/changes", {
      params: { query: { after: "saved-cursor", connectionId: id } },
    })
  ) {
    expectType<Equals<typeof change, Schemas["TransactionChange"]>>(true);
  }
  for await (const w of matcher.paginate("/v1/discovery/webhooks/tokens")) {
    expectType<Equals<typeof w, Schemas["WebhookToken"]>>(true);
  }
  for await (
    const e of matcher.paginate("/v1/discovery/audit-events", {
      params: { query: { targetId: id, action: "connection.updated" } },
    })
  ) {
    expectType<Equals<typeof e, Schemas["AuditEvent"]>>(true);
  }
  // @ts-expect-error: an action the audit trail does not know
  matcher.paginate("/v1/discovery/audit-events", { params: { query: { action: "x" } } });
  // @ts-expect-error: the pulls of a connection cannot be listed without its id
  matcher.paginate("/v1/discovery/aggregator-connections/{id}/pulls");
  // @ts-expect-error: limit is a number
  matcher.paginate("/v1/discovery/webhooks/tokens", { params: { query: { limit: "20" } } });
  // @ts-expect-error: a single pull is not a list
  matcher.paginate("/v1/discovery/pulls/{pullId}", { params: { path: { pullId: id } } });

  try {
    await matcher.paginate("/v1/discovery/webhooks/tokens").next();
  } catch (error) {
    if (error instanceof MatcherApiError) {
      expectType<Equals<typeof error.envelope, Schemas["Error"] | undefined>>(true);
      expectType<Equals<typeof error.status, number>>(true);
    }
  }
}
