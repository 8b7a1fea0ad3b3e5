// The whole console in Chromium, against the real service process, Postgres and the sandbox's fake vendors.
/// <reference lib="dom" />
import assert from "node:assert/strict";
import { join } from "node:path";
import { SignJWT } from "jose";
import type { Locator, Page } from "playwright-core";
import { parse } from "yaml";
import { DEV_TENANT_ID } from "../../src/console/console.service.ts";
import { pluggyWebhooks } from "../fakes/pluggy_webhooks.ts";
import { createTestDatabase } from "../support/database.ts";
import { cleanEnv, startService } from "../support/process.ts";
import { type Browser, browserMissing, openBrowser } from "./browser.ts";
import { type Sandbox, startSandbox } from "./sandbox_process.ts";

const missing = browserMissing();
if (missing) console.warn(`Skipping the console's browser suite: ${missing}.`);

/** `deno task screenshots` sets this: the folder the PNGs of each page are written to. */
const SHOTS = Deno.env.get("CONSOLE_SCREENSHOTS");
const WAIT = { timeout: 20_000 };

async function shot(page: Page, name: string, fullPage = false) {
  if (!SHOTS) return;
  // The passing status message would cover part of the page.
  await page.evaluate(() => document.getElementById("status")?.replaceChildren());
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage, animations: "disabled" });
}

/** The text of the error slot beside a field, once it shows. */
async function fieldError(page: Page, id: string): Promise<string> {
  const slot = page.locator(`#${id}-error`);
  await slot.waitFor({ state: "visible", ...WAIT });
  assert.equal(await page.locator(`#${id}`).getAttribute("aria-invalid"), "true");
  return (await slot.textContent()) ?? "";
}

/** Every form control on the page has a label (its own, or aria-label). */
async function assertLabelled(page: Page) {
  const controls = page.locator("input, select, textarea");
  assert.ok(await controls.count() > 0);
  const unlabelled = await controls.evaluateAll((els) =>
    els.filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute("aria-label"))
      .map((el) => el.outerHTML)
  );
  assert.deepEqual(unlabelled, []);
}

/** The rows of the page's table body, as the text of each cell. */
async function tableRows(page: Page): Promise<string[][]> {
  return await page.locator("tbody tr").evaluateAll((rows) =>
    rows.map((r) => [...r.querySelectorAll("td")].map((td) => td.textContent ?? ""))
  );
}

async function fillConnection(page: Page, values: Record<string, string>) {
  for (const [label, value] of Object.entries(values)) {
    if (label === "Type") await page.getByLabel("Type").selectOption({ label: value });
    else await page.getByLabel(label, { exact: true }).fill(value);
  }
}

async function confirm(page: Page, button: string) {
  const dialog = page.getByRole("dialog");
  await dialog.waitFor(WAIT);
  await dialog.getByRole("button", { name: button }).click();
  await dialog.waitFor({ state: "detached", ...WAIT });
}

/** A port nothing listens on now, so that MATCHER_PUBLIC_URL can name it before the start. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

async function statusOf(row: Locator): Promise<string> {
  return ((await row.locator(".pill").textContent()) ?? "").trim();
}

Deno.test({
  name: "the console in Chromium: sign in, connections, tests, a webhook's pull, tokens, /docs",
  ignore: missing !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    // Each step needs the ones before it: after a failure the rest are skipped, not failed again.
    let failed = false;
    const step = (name: string, fn: () => Promise<void> | void) =>
      t.step({
        name,
        ignore: failed,
        fn: async () => {
          try {
            await fn();
          } catch (error) {
            failed = true;
            throw error;
          }
        },
      });
    if (SHOTS) await Deno.mkdir(SHOTS, { recursive: true });
    const db = await createTestDatabase();
    const dataDir = await Deno.makeTempDir({ prefix: "matcher-console-" });
    const base = cleanEnv();
    let sandbox: Sandbox | undefined;
    let service: Awaited<ReturnType<typeof startService>> | undefined;
    let browser: Browser | undefined;
    try {
      sandbox = await startSandbox(base);
      const { values } = sandbox;
      // The README's steps: the service started with the setting the sandbox printed.
      const port = freePort();
      service = await startService({
        ...base,
        ...values.env,
        MATCHER_DATA_DIR: dataDir,
        DATABASE_URL: db.url,
        PORT: String(port),
        MATCHER_PUBLIC_URL: `http://127.0.0.1:${port}`,
        MATCHER_CONNECTION_TESTS_PER_MINUTE: "2",
        MATCHER_PULL_WEBHOOK_DELAY_MS: "0",
      }, { direct: true });
      const origin = service.baseUrl;
      browser = await openBrowser();
      const { page } = browser;

      await step("/docs renders every operation with the outside network blocked", async () => {
        const spec = parse(await Deno.readTextFile(new URL("../../openapi.yaml", import.meta.url)));
        const operations = Object.values(spec.paths as Record<string, object>)
          .flatMap((item) =>
            Object.keys(item).filter((k) => ["get", "put", "post", "delete"].includes(k))
          );
        const response = await page.goto(`${origin}/docs`);
        assert.match(response!.headers()["content-security-policy"], /^default-src 'self'/);
        await page.locator(".opblock").nth(operations.length - 1).waitFor(WAIT);
        assert.equal(await page.locator(".opblock").count(), operations.length);
        assert.ok(await page.getByText("/v1/discovery/aggregator-connections/{id}/pulls").count());
        await shot(page, "docs");
      });

      const secrets = JSON.parse(await Deno.readTextFile(join(dataDir, "dev-secrets.json")));
      const otherTenant = crypto.randomUUID();

      await step(
        "a pasted token signs in for the tab; a refused one is shown beside the field",
        async () => {
          await page.goto(`${origin}/console`);
          await page.getByRole("heading", { name: "Sign in" }).waitFor(WAIT);
          await shot(page, "sign-in");
          await assertLabelled(page);
          await page.getByLabel("Bearer token").fill("not-a-jwt");
          await page.getByRole("button", { name: "Sign in", exact: true }).click();
          assert.match(await fieldError(page, "token"), /refused this token/);

          const token = await new SignJWT({ tenant_id: otherTenant })
            .setProtectedHeader({ alg: "HS256" })
            .setIssuedAt()
            .setExpirationTime("10m")
            .sign(new TextEncoder().encode(secrets.jwtSecret));
          await page.getByLabel("Bearer token").fill(token);
          await page.getByRole("button", { name: "Sign in", exact: true }).click();
          await page.getByRole("heading", { name: "Connections" }).waitFor(WAIT);
          await page.getByText("No connections yet").waitFor(WAIT);
          assert.match((await page.locator("#who-text").textContent())!, new RegExp(otherTenant));
          assert.equal(
            await page.evaluate(() => sessionStorage.length === 1 && localStorage.length === 0),
            true,
          );
          await page.getByRole("button", { name: "Sign out" }).click();
          await page.getByRole("heading", { name: "Sign in" }).waitFor(WAIT);
          assert.equal(await page.evaluate(() => sessionStorage.length), 0);
        },
      );

      await step("development mode signs in with one click, from the keyboard", async () => {
        const button = page.getByRole("button", { name: "Sign in as the development tenant" });
        for (
          let i = 0;
          i < 10 && !(await button.evaluate((b) => b === document.activeElement));
          i++
        ) {
          await page.keyboard.press("Tab");
        }
        await page.keyboard.press("Enter");
        await page.getByRole("heading", { name: "Connections" }).waitFor(WAIT);
        assert.match((await page.locator("#who-text").textContent())!, new RegExp(DEV_TENANT_ID));
      });

      await step("creating a connection: a field error beside its field first", async () => {
        await page.getByRole("link", { name: "New connection" }).click();
        await page.getByRole("heading", { name: "New connection" }).waitFor(WAIT);
        // The type-select: the vendors it creates, and the deployment's other types, not offered.
        const options = await page.locator("#vendor option").evaluateAll((os) =>
          os.map((o) =>
            `${(o as HTMLOptionElement).label}${(o as HTMLOptionElement).disabled ? " (off)" : ""}`
          )
        );
        assert.deepEqual(options, [
          "Pluggy",
          "Belvo",
          "postgres (database) (off)",
          "rest-generic (rest) (off)",
        ]);
        await fillConnection(page, {
          Type: "Pluggy",
          "Config name": "pluggy sandbox!",
          "Base URL": values.pluggy.baseUrl,
          "Account reference": values.pluggy.accountRef,
          "Client id": values.pluggy.clientId,
          Secret: "not-the-secret",
        });
        await page.getByRole("button", { name: "Create connection" }).click();
        assert.match(await fieldError(page, "configName"), /pattern/);
        assert.equal(await page.locator(".field-error:visible").count(), 1);
        assert.equal(await page.evaluate(() => document.activeElement?.id), "configName");
        await shot(page, "new-connection-error", true);
        await assertLabelled(page);
        await page.getByLabel("Config name").fill("pluggy-sandbox");
        await page.getByRole("button", { name: "Create connection" }).click();
        await page.getByRole("heading", { name: "pluggy-sandbox" }).waitFor(WAIT);
      });

      const connectionUrl = page.url();
      let belvoUrl = "";

      await step(
        "Test: unhealthy, healthy once the credential is replaced, then the limit",
        async () => {
          const result = page.locator("#test-result");
          await page.getByRole("button", { name: "Test", exact: true }).click();
          await result.filter({ hasText: "Unhealthy" }).waitFor(WAIT);
          assert.match((await result.textContent())!, /credentials_rejected/);

          await page.getByRole("link", { name: "Edit" }).click();
          await page.getByRole("heading", { name: "Edit pluggy-sandbox" }).waitFor(WAIT);
          assert.match(await page.locator("#credential-rule").textContent() ?? "", /both/);
          await assertLabelled(page);
          await page.getByLabel("Client id").fill(values.pluggy.clientId);
          await page.getByRole("button", { name: "Save" }).click();
          assert.match(await fieldError(page, "secret"), /together/);
          await page.getByLabel("Secret", { exact: true }).fill(values.pluggy.secret);
          await page.getByRole("button", { name: "Save" }).click();
          await page.getByRole("heading", { name: "pluggy-sandbox" }).waitFor(WAIT);

          await page.getByRole("button", { name: "Test", exact: true }).click();
          await result.filter({ hasText: /^Healthy/ }).waitFor(WAIT);
          assert.match((await result.textContent())!, /in \d+ ms/);
          await page.getByRole("button", { name: "Test", exact: true }).click();
          await result.filter({ hasText: "Too many tests" }).waitFor(WAIT);
          assert.match((await result.textContent())!, /Try again in \d+ s\./);
        },
      );

      let webhookUrl = "";
      await step("a minted webhook URL is shown once, copied, and takes a delivery", async () => {
        await page.getByRole("button", { name: "Mint webhook token" }).click();
        const field = page.getByRole("textbox", { name: "Webhook URL" });
        await field.waitFor(WAIT);
        webhookUrl = await field.inputValue();
        assert.ok(webhookUrl.startsWith(`${origin}/v1/discovery/webhooks/pluggy/mwh_`), webhookUrl);
        assert.match((await page.locator(".warning").textContent())!, /will not be shown again/);
        await page.getByRole("button", { name: "Copy", exact: true }).click();
        await page.getByText("Copied.").waitFor(WAIT);
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), webhookUrl);
        await shot(page, "connection", true);
        await assertLabelled(page);
      });

      await step("a token minted with a header secret shows the header once", async () => {
        await page.getByLabel(/Also require a header secret/).check();
        await page.getByRole("button", { name: "Mint webhook token" }).click();
        const name = page.getByRole("textbox", { name: "Header name" });
        await name.waitFor(WAIT);
        assert.equal(await name.inputValue(), "X-Matcher-Webhook-Secret");
        const value = await page.getByRole("textbox", { name: "Header value" }).inputValue();
        assert.match(value, /^mwhs_[A-Za-z0-9_-]{43}$/);
        const url = await page.getByRole("textbox", { name: "Webhook URL" }).inputValue();
        assert.notEqual(url, webhookUrl);
        assert.match((await page.locator(".warning").textContent())!, /Copy both now/);
        await page.getByRole("button", { name: "Copy header value" }).click();
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value);
        await shot(page, "connection-header-secret", true);
        await assertLabelled(page);
        // An event that queues no pull: with the header it is recorded, without it refused.
        const event = JSON.stringify({
          event: "item/error",
          eventId: crypto.randomUUID(),
          itemId: values.pluggy.accountRef,
          error: { code: "INVALID_CREDENTIALS", message: "Invalid credentials" },
        });
        const send = (headers: Record<string, string>) =>
          fetch(url, {
            method: "POST",
            headers: { "Content-Type": "application/json", ...headers },
            body: event,
          }).then(async (res) => (await res.body?.cancel(), res.status));
        assert.equal(await send({}), 404);
        assert.equal(await send({ "X-Matcher-Webhook-Secret": value }), 202);
        // Revoked at once, so that the pages below see one token.
        await page.getByLabel(/Also require a header secret/).uncheck();
        const bearer = await page.evaluate(() => sessionStorage.getItem("matcher.console.token"));
        const auth = { Authorization: `Bearer ${bearer}` };
        const tokens = await fetch(`${origin}/v1/discovery/webhooks/tokens`, { headers: auth })
          .then((r) => r.json());
        const guarded = tokens.items.find((t: { withHeaderSecret: boolean }) => t.withHeaderSecret);
        assert.ok(guarded, "the list says which token needs the header");
        const revoked = await fetch(`${origin}/v1/discovery/webhooks/tokens/${guarded.id}`, {
          method: "DELETE",
          headers: auth,
        });
        assert.equal(revoked.status, 204);
      });

      await step(
        "the webhook's pull reaches succeeded on the page, which updates itself",
        async () => {
          await page.getByRole("link", { name: "Pulls" }).click();
          await page.getByText("No pulls yet.").waitFor(WAIT);
          const webhooks = pluggyWebhooks({
            baseUrl: values.pluggy.baseUrl,
            clientId: values.pluggy.clientId,
            clientUserId: () => null,
            createdSince: () => 0,
          });
          const delivered = await fetch(webhookUrl, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify(webhooks.itemUpdated({ itemId: values.pluggy.accountRef })),
          });
          assert.equal(delivered.status, 202);
          assert.equal((await delivered.json()).status, "accepted");
          const row = page.locator("tbody tr").first();
          await row.locator(".pill", { hasText: "succeeded" }).waitFor(WAIT);
          const [cells] = await tableRows(page);
          assert.equal(cells[1], "webhook");
          assert.equal(cells[5], "185"); // 140 + 45 transactions in the sandbox's item
          assert.ok(Number(cells[4]) >= 4, `pages: ${cells[4]}`);
          await shot(page, "pulls");
        },
      );

      await step("the transactions, paged, with sign and currency", async () => {
        await page.getByRole("link", { name: "Transactions" }).click();
        await page.locator("tbody tr").nth(19).waitFor(WAIT);
        const first = await tableRows(page);
        assert.equal(first.length, 20);
        // The same rows the API lists for the same token: date, description, signed amount with
        // its currency, status.
        const token = await page.evaluate(() => sessionStorage.getItem("matcher.console.token"));
        const id = connectionUrl.split("/").pop();
        const api = await fetch(
          `${origin}/v1/discovery/aggregator-connections/${id}/transactions?limit=40`,
          { headers: { Authorization: `Bearer ${token}` } },
        ).then((r) => r.json());
        type Tx = {
          date: string;
          description: string;
          amount: string;
          currency: string;
          status: string;
        };
        const shown = (t: Tx) => [
          t.date,
          t.description,
          `${t.amount.startsWith("-") ? "\u2212" : "+"}${t.amount.replace(/^-/, "")} ${t.currency}`,
          t.status,
        ];
        assert.deepEqual(first.map((c) => c.slice(0, 4)), api.items.slice(0, 20).map(shown));
        assert.ok(
          first.some((c) => c[2].startsWith("\u2212")) && first.some((c) => c[2].startsWith("+")),
        );
        await shot(page, "transactions");
        await page.getByRole("button", { name: "Next page" }).click();
        await page.getByText("Page 2").waitFor(WAIT);
        const second = await tableRows(page);
        assert.deepEqual(second.map((c) => c.slice(0, 4)), api.items.slice(20, 40).map(shown));
      });

      await step("a name in use is a 409 shown as name taken; Pull now and Retry", async () => {
        await page.getByRole("link", { name: "Connections", exact: true }).first().click();
        await page.getByRole("link", { name: "New connection" }).click();
        await page.getByRole("heading", { name: "New connection" }).waitFor(WAIT);
        await fillConnection(page, {
          Type: "Belvo",
          "Config name": "pluggy-sandbox",
          "Base URL": values.belvo.baseUrl,
          "Account reference": values.belvo.accountRef,
          "Client id": values.belvo.clientId,
          Secret: "not-the-secret", // so that its pull fails
        });
        await page.getByRole("button", { name: "Create connection" }).click();
        assert.match(await fieldError(page, "configName"), /^Name taken/);
        await page.getByLabel("Config name").fill("belvo-sandbox");
        await page.getByRole("button", { name: "Create connection" }).click();
        await page.getByRole("heading", { name: "belvo-sandbox" }).waitFor(WAIT);
        belvoUrl = page.url();

        await page.getByRole("link", { name: "Pulls" }).click();
        await page.getByRole("button", { name: "Pull now" }).click();
        const rows = page.locator("tbody tr");
        await rows.first().locator(".pill", { hasText: "failed" }).waitFor(WAIT);
        assert.match(
          (await rows.first().textContent())!,
          /The vendor refused the stored credential.*\(credentials_rejected\)/,
        );
        await rows.first().getByRole("button", { name: "Retry" }).click();
        await rows.nth(1).waitFor(WAIT);
        await rows.first().locator(".pill", { hasText: "failed" }).waitFor(WAIT);
        assert.equal(await rows.count(), 2);
        assert.deepEqual(
          await Promise.all([statusOf(rows.nth(0)), statusOf(rows.nth(1))]),
          ["failed", "failed"],
        );
      });

      await step("the tokens list shows the last use; a revoked URL answers 404", async () => {
        await page.getByRole("link", { name: "Webhook tokens" }).click();
        await page.getByRole("heading", { name: "Webhook tokens" }).waitFor(WAIT);
        const [cells] = await tableRows(page);
        assert.equal(cells[0], "pluggy-sandbox");
        assert.notEqual(cells[3], "never");
        await shot(page, "tokens");
        await page.getByRole("button", { name: /^Revoke the token of pluggy-sandbox/ }).click();
        await confirm(page, "Revoke token");
        await page.getByText("No live tokens.").waitFor(WAIT);
        const again = await fetch(webhookUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: "{}",
        });
        await again.body?.cancel();
        assert.equal(again.status, 404);
      });

      await step(
        "delete asks first; Escape keeps the connection, confirming deletes it",
        async () => {
          await page.goto(connectionUrl);
          await page.getByRole("heading", { name: "pluggy-sandbox" }).waitFor(WAIT);
          await page.getByRole("button", { name: "Delete", exact: true }).click();
          await page.getByRole("dialog").waitFor(WAIT);
          assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Cancel");
          await page.keyboard.press("Escape");
          await page.getByRole("dialog").waitFor({ state: "detached", ...WAIT });
          await page.getByRole("heading", { name: "pluggy-sandbox" }).waitFor(WAIT);
          await page.getByRole("button", { name: "Delete", exact: true }).click();
          await confirm(page, "Delete connection");
          await page.getByRole("heading", { name: "Connections" }).waitFor(WAIT);
          const rows = await tableRows(page);
          assert.deepEqual(rows.map((c) => c[0]), ["belvo-sandbox"]);
          await shot(page, "connections");
        },
      );

      await step("readable at a phone's width: nothing wider than the screen", async () => {
        await page.setViewportSize({ width: 390, height: 844 });
        for (const hash of ["#/connections", `#/${belvoUrl.split("#/")[1]}`, "#/tokens"]) {
          await page.goto(`${origin}/console${hash}`);
          await page.locator("h1").waitFor(WAIT);
          const wide = await page.evaluate(() => document.documentElement.scrollWidth);
          assert.ok(wide <= 390, `${hash} is ${wide} px wide`);
        }
        await page.goto(`${origin}/console#/connections`);
        await page.locator("tbody tr").first().waitFor(WAIT);
        await shot(page, "connections-phone");
      });

      await step("no request left the machine and no policy was violated", () => {
        browser!.assertClean();
      });
    } finally {
      await browser?.close();
      await service?.stop();
      await sandbox?.stop();
      await db.drop();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
