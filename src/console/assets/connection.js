// One connection: its fields, the live test, minting a webhook token, and deleting it.
import { call } from "./api.js";
import { announce, confirmDialog, h, when } from "./dom.js";
import { reasonText, VENDOR_NAMES } from "./words.js";

/** The heading and the links between a connection's pages. */
export function connectionHeader(connection, current) {
  const link = (suffix, label) =>
    h("a", {
      href: `#/connections/${connection.id}${suffix}`,
      "aria-current": current === suffix ? "page" : undefined,
    }, label);
  return [
    h("p", { class: "crumbs" }, h("a", { href: "#/connections" }, "Connections"), " / "),
    h("h1", {}, connection.configName),
    h(
      "nav",
      { class: "tabs", "aria-label": "Connection" },
      link("", "Overview"),
      link("/pulls", "Pulls"),
      link("/transactions", "Transactions"),
    ),
  ];
}

function testResultText(result) {
  return result.healthy
    ? `Healthy: the vendor accepted the credential in ${result.latencyMs} ms.`
    : `Unhealthy: ${reasonText(result.reason)} Checked in ${result.latencyMs} ms.`;
}

function tooManyTestsText(error) {
  const wait = error.retryAfter ? `in ${error.retryAfter} s` : "in a minute";
  return `Too many tests of this connection: each test costs vendor quota, so only a few are ` +
    `allowed a minute. Try again ${wait}.`;
}

export async function connectionView(ctx, id) {
  const connection = await call("GET", `aggregator-connections/${id}`);
  const vendor = VENDOR_NAMES[connection.vendor] ?? connection.vendor;

  const testResult = h("p", { id: "test-result", class: "result", "aria-live": "polite" });
  const testButton = h("button", { type: "button" }, "Test");
  testButton.addEventListener("click", async () => {
    testButton.disabled = true;
    testResult.className = "result";
    testResult.textContent = "Testing…";
    try {
      const result = await call("POST", "aggregator-connections/test", {
        json: { vendor: connection.vendor, configName: connection.configName },
      });
      testResult.textContent = testResultText(result);
      testResult.className = `result ${result.healthy ? "good" : "bad"}`;
    } catch (error) {
      testResult.textContent = error.status === 429 ? tooManyTestsText(error) : error.message;
      testResult.className = "result bad";
    } finally {
      testButton.disabled = false;
    }
  });

  const deleteButton = h("button", { type: "button", class: "danger" }, "Delete");
  deleteButton.addEventListener("click", async () => {
    const yes = await confirmDialog({
      title: `Delete ${connection.configName}?`,
      text: "Its webhook URLs stop working and no more pulls run. Its name becomes free again.",
      confirm: "Delete connection",
    });
    if (!yes) return;
    await call("DELETE", `aggregator-connections/${id}`);
    announce(`Deleted ${connection.configName}.`);
    ctx.navigate("#/connections");
  });

  const minted = h("div", { id: "minted" });
  const secretBox = h("input", { type: "checkbox", id: "mint-header-secret" });
  const mintButton = h("button", { type: "button" }, "Mint webhook token");
  mintButton.addEventListener("click", async () => {
    mintButton.disabled = true;
    try {
      const token = await call("POST", "webhooks/tokens", {
        json: {
          vendor: connection.vendor,
          connection_config_name: connection.configName,
          withHeaderSecret: secretBox.checked,
        },
      });
      minted.replaceChildren(mintedPanel(token, vendor));
      minted.querySelector("input").focus();
    } catch (error) {
      minted.replaceChildren(h("p", { class: "result bad" }, error.message));
    } finally {
      mintButton.disabled = false;
    }
  });

  ctx.show(
    connectionHeader(connection, ""),
    h(
      "dl",
      { class: "facts" },
      [
        ["Vendor", vendor],
        ["Base URL", connection.baseUrl],
        ["Account reference", connection.accountRef],
        ["Created", when(connection.createdAt)],
        ["Updated", when(connection.updatedAt)],
        ["Id", connection.id],
      ].map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, value))),
    ),
    h(
      "div",
      { class: "actions" },
      h("a", { class: "button", href: `#/connections/${id}/edit` }, "Edit"),
      testButton,
      deleteButton,
    ),
    testResult,
    h(
      "section",
      { class: "card", "aria-labelledby": "mint-title" },
      h("h2", { id: "mint-title" }, "Webhooks"),
      h(
        "p",
        {},
        `Mint a token to get the URL ${vendor} delivers this connection's webhooks to. `,
        h("a", { href: "#/tokens" }, "All webhook tokens"),
        " lists the live ones, with their last use.",
      ),
      h(
        "div",
        { class: "check" },
        secretBox,
        h(
          "label",
          { for: "mint-header-secret" },
          `Also require a header secret: ${vendor} sends it with every delivery, so that the URL ` +
            "alone is not enough (recommended).",
        ),
      ),
      mintButton,
      minted,
    ),
  );
}

/** A read-only field with a copy button: `what` names it in the messages. */
function copyRow(id, value, what, copyLabel) {
  const field = h("input", {
    id,
    readonly: true,
    value,
    spellcheck: "false",
    class: "url-field",
  });
  field.addEventListener("focus", () => field.select());
  const copied = h("span", { class: "copied", "aria-live": "polite" });
  const copy = h("button", { type: "button", "aria-label": copyLabel }, "Copy");
  copy.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(value);
      copied.textContent = "Copied.";
    } catch {
      field.select();
      copied.textContent = `Copying was refused: the ${what} is selected, press Ctrl+C.`;
    }
  });
  return h("div", { class: "copy-row" }, field, copy, copied);
}

/** Where each vendor takes the header secret. */
const HEADER_HOW = {
  pluggy: "Give it among the webhook's headers when you create it (POST /webhooks).",
  belvo: "Paste the value as the Authorization of the webhook in Belvo's dashboard.",
};

/** The URL (and the header, when asked for), shown this once, with copy buttons and the warning. */
function mintedPanel(token, vendor) {
  const header = token.header;
  return h(
    "div",
    { class: "minted" },
    h("label", { for: "webhook-url" }, "Webhook URL"),
    copyRow("webhook-url", token.webhookUrl, "URL", "Copy"),
    header && [
      h("label", { for: "webhook-header-name" }, "Header name"),
      copyRow("webhook-header-name", header.name, "header name", "Copy header name"),
      h("label", { for: "webhook-header-value" }, "Header value"),
      copyRow("webhook-header-value", header.value, "header value", "Copy header value"),
      h("p", { class: "hint" }, HEADER_HOW[token.vendor] ?? ""),
    ],
    h(
      "p",
      { class: "warning", role: "alert" },
      h("strong", {}, "It will not be shown again. "),
      header
        ? `Copy both now and give them to ${vendor}: the service keeps only hashes of the token ` +
          "and of the header secret, and refuses deliveries without the header. "
        : `Copy it now and give it to ${vendor}: the service keeps only a hash of its token. `,
      "If it is lost, revoke the token and mint another.",
    ),
  );
}
