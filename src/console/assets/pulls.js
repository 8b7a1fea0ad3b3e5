// A connection's pulls: status and progress, refreshed while one runs; Pull now and Retry.
import { call, paged } from "./api.js";
import { announce, h, pager, table, when } from "./dom.js";
import { connectionHeader } from "./connection.js";
import { reasonText } from "./words.js";

const FINISHED = new Set(["succeeded", "failed", "dead"]);
/** How often the page reads the pulls again: often while one runs, now and then otherwise. */
const REFRESH_RUNNING_MS = 1000;
const REFRESH_IDLE_MS = 5000;
/** The one pending refresh: each render replaces it, so refreshes never pile up. */
let refresh;

export async function pullsView(ctx, id, cursors = []) {
  clearTimeout(refresh);
  const connection = await call("GET", `aggregator-connections/${id}`);
  const again = (next = cursors) => pullsView(ctx, id, next);
  const page = await call("GET", paged(`aggregator-connections/${id}/pulls`, cursors.at(-1)));

  const pullNow = h("button", { type: "button", class: "primary" }, "Pull now");
  pullNow.addEventListener("click", async () => {
    pullNow.disabled = true;
    try {
      const pull = await call("POST", `aggregator-connections/${id}/pulls`);
      announce(`Pull ${pull.status}.`);
    } catch (error) {
      announce(error.message);
    }
    await again([]);
  });

  const retryButton = (pull) => {
    const button = h("button", { type: "button" }, "Retry");
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        const retried = await call("POST", `pulls/${pull.id}/retry`);
        announce(`Retry queued as a new pull (${retried.status}).`);
      } catch (error) {
        announce(error.message);
      }
      await again([]);
    });
    return button;
  };

  const rows = page.items.map((p) => [
    when(p.createdAt),
    p.trigger,
    h("span", { class: `pill ${p.status}` }, p.status),
    String(p.attempts),
    String(p.pagesFetched),
    String(p.transactionsUpserted),
    p.lastError ? reasonText(p.lastError.reason) : "",
    p.status === "failed" || p.status === "dead" ? retryButton(p) : "",
  ]);
  const running = page.items.some((p) => !FINISHED.has(p.status));

  ctx.show(
    connectionHeader(connection, "/pulls"),
    h("div", { class: "actions" }, pullNow),
    h(
      "p",
      { class: "hint" },
      running
        ? "A pull is queued or running: this page updates every second."
        : "Webhooks queue pulls, and Pull now reads every account from where the last pull " +
          "stopped. This page looks for new pulls every few seconds.",
    ),
    page.items.length
      ? [
        table("Pulls of this connection, newest first", [
          "Created",
          "Trigger",
          "Status",
          "Attempts",
          "Pages",
          "Transactions",
          "Last error",
          "",
        ], rows),
        pager("Pull pages", page, cursors, again),
      ]
      : h("p", { class: "empty" }, "No pulls yet."),
  );

  // Only while the reader stays on this page; the refresh keeps the page they were on.
  refresh = setTimeout(
    () => ctx.active() && again().catch(() => {}),
    running ? REFRESH_RUNNING_MS : REFRESH_IDLE_MS,
  );
}
