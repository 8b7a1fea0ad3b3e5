// The tenant's live webhook tokens, with their last use, and revoking one.
import { call, paged } from "./api.js";
import { announce, confirmDialog, h, pager, table, when } from "./dom.js";
import { VENDOR_NAMES } from "./words.js";

export async function tokensView(ctx, cursors = []) {
  const page = await call("GET", paged("webhooks/tokens", cursors.at(-1)));

  const revokeButton = (token) => {
    const button = h("button", { type: "button", class: "danger" }, "Revoke");
    button.setAttribute(
      "aria-label",
      `Revoke the token of ${token.configName} made ${when(token.createdAt)}`,
    );
    button.addEventListener("click", async () => {
      const yes = await confirmDialog({
        title: `Revoke this token of ${token.configName}?`,
        text: `Its URL stops working at once: ${VENDOR_NAMES[token.vendor]} deliveries to it ` +
          "answer 404. Mint a new token first if the vendor should keep delivering.",
        confirm: "Revoke token",
      });
      if (!yes) return;
      await call("DELETE", `webhooks/tokens/${token.id}`);
      announce("Token revoked.");
      await tokensView(ctx, cursors);
    });
    return button;
  };

  const rows = page.items.map((t) => [
    h("a", { href: `#/connections/${t.connectionId}` }, t.configName),
    VENDOR_NAMES[t.vendor] ?? t.vendor,
    when(t.createdAt),
    when(t.lastUsedAt),
    t.withHeaderSecret ? "required" : "no",
    revokeButton(t),
  ]);
  ctx.show(
    h("h1", {}, "Webhook tokens"),
    h(
      "p",
      {},
      "Live tokens of every connection. A token's URL is shown only when it is minted, from its " +
        "connection's page.",
    ),
    page.items.length || cursors.length
      ? [
        table("Live webhook tokens, newest first", [
          "Connection",
          "Vendor",
          "Created",
          "Last used (to the minute)",
          "Header secret",
          "",
        ], rows),
        pager("Token pages", page, cursors, (next) => tokensView(ctx, next)),
      ]
      : h("p", { class: "empty" }, "No live tokens."),
  );
}
