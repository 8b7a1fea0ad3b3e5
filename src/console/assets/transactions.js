// A connection's stored transactions, most recently stored first, paged.
import { call, paged } from "./api.js";
import { h, pager, table } from "./dom.js";
import { connectionHeader } from "./connection.js";
import { amountText } from "./words.js";

export async function transactionsView(ctx, id, cursors = []) {
  const [connection, page] = await Promise.all([
    call("GET", `aggregator-connections/${id}`),
    call("GET", paged(`aggregator-connections/${id}/transactions`, cursors.at(-1))),
  ]);
  const rows = page.items.map((t) => [
    t.date,
    t.description ?? "",
    h("span", { class: `amount ${t.amount.startsWith("-") ? "out" : "in"}` }, [
      amountText(t.amount, t.currency),
    ]),
    t.status,
    h("span", { class: "url" }, t.accountId),
  ]);
  ctx.show(
    connectionHeader(connection, "/transactions"),
    page.items.length
      ? [
        table("Transactions, most recently stored first", [
          "Date",
          "Description",
          "Amount",
          "Status",
          "Account",
        ], rows),
        pager("Transaction pages", page, cursors, (next) => transactionsView(ctx, id, next)),
      ]
      : h("p", { class: "empty" }, "No transactions stored yet: they arrive with pulls."),
  );
}
