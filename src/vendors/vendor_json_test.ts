// How a vendor's status codes are classified for retries, and the vendor error code read from a body.
import assert from "node:assert/strict";
import { statusError } from "./vendor_json.ts";

const T0 = Date.UTC(2026, 10, 28, 12, 0, 0);

Deno.test("vendor status codes are classified for retries", async (t) => {
  const answer = (status: number, body: unknown = {}, headers: Record<string, string> = {}) => ({
    status,
    headers: new Headers(headers),
    body: new TextEncoder().encode(JSON.stringify(body)),
  });
  const cases: Array<[number, string, string]> = [
    [401, "credentials_rejected", "credentials_rejected"],
    [403, "credentials_rejected", "credentials_rejected"],
    [404, "not_found", "account_not_found"],
    [429, "rate_limited", "rate_limited"],
    [408, "transient", "vendor_unreachable"],
    [500, "transient", "vendor_unreachable"],
    [503, "transient", "vendor_unreachable"],
    [400, "permanent", "unexpected_response"],
    [422, "permanent", "unexpected_response"],
  ];
  for (const [status, kind, reason] of cases) {
    await t.step(`${status}: ${kind}`, () => {
      const err = statusError(answer(status), "op", T0);
      assert.equal(err.kind, kind);
      assert.equal(err.reason, reason);
      assert.equal(err.details.status, status);
    });
  }
  await t.step("the vendor code is kept only when it is a code, never free text", () => {
    const pluggy = statusError(
      answer(403, { code: 403, codeDescription: "CLIENT_DISABLED" }),
      "op",
      T0,
    );
    assert.equal(pluggy.details.vendorCode, "CLIENT_DISABLED");
    const belvo = statusError(answer(401, [{ code: "authentication_failed" }]), "op", T0);
    assert.equal(belvo.details.vendorCode, "authentication_failed");
    const prose = statusError(answer(400, { code: "your secret s3cr3t is wrong" }), "op", T0);
    assert.equal(prose.details.vendorCode, undefined);
    assert.ok(!prose.message.includes("s3cr3t"));
  });
});
