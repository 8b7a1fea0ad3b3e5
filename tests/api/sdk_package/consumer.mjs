// A Node project's use of the npm-installed @matcher/discovery-client, plain JavaScript: lists
// every connection with paginate, then asks for a page the service refuses, and prints what arrived.
import process from "node:process";
import { createMatcherClient, MatcherApiError } from "@matcher/discovery-client";

const CONNECTIONS = "/v1/discovery/aggregator-connections";

const matcher = createMatcherClient({
  baseUrl: process.env.MATCHER_URL,
  token: process.env.MATCHER_TOKEN,
});

const ids = [];
for await (
  const connection of matcher.paginate(CONNECTIONS, { params: { query: { limit: 20 } } })
) {
  ids.push(connection.id);
}

let failure;
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
