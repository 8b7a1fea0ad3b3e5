// Deno's OpenTelemetry export from the real service process, and what it carries of a webhook token.
import assert from "node:assert/strict";
import { startFakePluggy } from "../fakes/pluggy.ts";
import { createTestDatabase } from "../support/database.ts";
import { hashForms } from "../support/leaks.ts";
import {
  createPluggyConnection,
  serviceSetup,
  tenantApi,
  webhookPath,
} from "../support/service.ts";

Deno.test({
  name:
    "Deno's trace spans carry a webhook's token in its URL; with OTEL_DENO_TRACING=false nothing exported does",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const db = await createTestDatabase();
    const fake = await startFakePluggy();
    try {
      for (const tracing of ["true", "false"]) {
        // The console exporter prints every span, metric and log record to stderr.
        const setup = await serviceSetup(db.url, [fake.host], {
          OTEL_DENO: "true",
          OTEL_DENO_TRACING: tracing,
          OTEL_EXPORTER_OTLP_PROTOCOL: "console",
          NO_COLOR: "1",
        });
        const service = await setup.start();
        let token: string;
        try {
          const api = await tenantApi(() => service.baseUrl, setup.secret);
          const configName = `pluggy-tracing-${tracing}`;
          await createPluggyConnection(api, fake.url, fake.items[0].id, configName);
          const path = await webhookPath(api, configName);
          token = path.slice(path.lastIndexOf("/") + 1);
          const delivered = await fake.sendWebhook(
            `${service.baseUrl}${path}`,
            fake.webhooks.itemUpdated({ itemId: fake.items[0].id }),
          );
          assert.equal(delivered.status, 202);
        } finally {
          await service.stop();
          await setup.cleanup();
        }
        const exported = service.lines.join("\n");
        assert.match(exported, /^METRIC http\.server\.request\.duration/m, "metrics were exported");
        assert.match(exported, /^LOG .*webhook received/m, "the log lines were exported");
        if (tracing === "true") {
          // Why production refuses tracing unless the collector redacts these URLs.
          assert.match(exported, /^SPAN POST /m);
          assert.ok(exported.includes(`url.path: /v1/discovery/webhooks/pluggy/${token}`));
        } else {
          assert.doesNotMatch(exported, /^SPAN /m, "no span was exported");
          for (const needle of [token, ...(await hashForms(token))]) {
            assert.ok(!exported.includes(needle), "the token is in no exported record");
          }
        }
      }
    } finally {
      await fake.close();
      await db.drop();
    }
  },
});
