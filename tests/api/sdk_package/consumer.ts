// A Deno project's use of @matcher/discovery-client: lists every connection with paginate, then
// asks for a page the service refuses, and prints what arrived for sdk_package_test.ts to compare.
import { type components, createMatcherClient, MatcherApiError } from "@matcher/discovery-client";

const CONNECTIONS = "/v1/discovery/aggregator-connections";

const matcher = createMatcherClient({
  baseUrl: Deno.env.get("MATCHER_URL")!,
  token: Deno.env.get("MATCHER_TOKEN")!,
});

const ids: string[] = [];
for await (
  const connection of matcher.paginate(CONNECTIONS, { params: { query: { limit: 20 } } })
) {
  const typed: components["schemas"]["AggregatorConnection"] = connection;
  ids.push(typed.id);
}

let failure: Record<string, unknown> | undefined;
try {
  for await (const _ of matcher.paginate(CONNECTIONS, { params: { query: { limit: 0 } } })) {
    failure = { unexpected: "an item of a refused page" };
  }
} catch (error) {
  if (!(error instanceof MatcherApiError)) throw error;
  const { name, status, code, title, envelope } = error;
  failure = { name, status, code, title, message: envelope?.message };
}

console.log(JSON.stringify({ ids, failure }));
