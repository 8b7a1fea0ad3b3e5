// The route class table covers every operation that needs a tenant, and puts each where it costs.
import assert from "node:assert/strict";
import { operations } from "../../generated/routes.ts";
import { POLICY_NAMES, routeClass } from "./route_classes.ts";

const secured = Object.values(operations).filter((op) =>
  op.security.some((s) => "bearerAuth" in s)
);

Deno.test("the operations that spend vendor quota have classes of their own", () => {
  const byClass = (c: string) =>
    secured.filter((op) => routeClass(op) === c).map((op) => op.operationId).sort();
  assert.deepEqual(byClass("liveTests"), ["testAggregatorConnection"]);
  assert.deepEqual(byClass("pulls"), ["requestPull", "retryPull"]);
});

Deno.test("every other read is a read, and every other operation a write", () => {
  assert.ok(secured.length > 10, "the spec's tenant operations were found");
  for (const op of secured) {
    const expected = ["testAggregatorConnection", "requestPull", "retryPull"]
        .includes(op.operationId)
      ? routeClass(op)
      : op.method === "get"
      ? "reads"
      : "writes";
    assert.equal(routeClass(op), expected, op.operationId);
    assert.ok(POLICY_NAMES[routeClass(op)], op.operationId);
  }
  assert.ok(secured.some((op) => routeClass(op) === "writes" && op.method === "delete"));
});
