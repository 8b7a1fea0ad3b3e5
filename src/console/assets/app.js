// The console's entry: the sign-in state, the header, and which view the address's hash shows.
import { claims, signOut, token, whenUnauthorized } from "./api.js";
import { announce, h } from "./dom.js";
import { connectionFormView, connectionsView } from "./connections.js";
import { connectionView } from "./connection.js";
import { pullsView } from "./pulls.js";
import { signInView } from "./sign_in.js";
import { tokensView } from "./tokens.js";
import { transactionsView } from "./transactions.js";

const ID = "([0-9a-fA-F-]{36})";
const ROUTES = [
  [/^#\/sign-in$/, signInView],
  [/^#\/connections$/, connectionsView],
  [/^#\/connections\/new$/, (ctx) => connectionFormView(ctx)],
  [new RegExp(`^#/connections/${ID}$`), connectionView],
  [new RegExp(`^#/connections/${ID}/edit$`), (ctx, id) => connectionFormView(ctx, id)],
  [new RegExp(`^#/connections/${ID}/pulls$`), pullsView],
  [new RegExp(`^#/connections/${ID}/transactions$`), transactionsView],
  [/^#\/tokens$/, tokensView],
];

const main = document.getElementById("main");
let generation = 0;

/** What tells a control apart across a re-render: its id, else its tag and text. */
function focusKey(el) {
  if (!el || el === document.body || !main.contains(el)) return null;
  return el.id ? `#${el.id}` : `${el.tagName}:${el.textContent}`;
}

function navigate(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

/** The header: the tenant and the token's expiry when signed in. */
function renderHeader() {
  const signedIn = token() !== null;
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("who").hidden = !signedIn;
  if (!signedIn) return;
  const { tenant_id: tenant, tenantId, exp } = claims();
  const expires = exp ? `, until ${new Date(exp * 1000).toLocaleTimeString()}` : "";
  document.getElementById("who-text").textContent = `Tenant ${tenant ?? tenantId ?? "?"}${expires}`;
  for (const link of document.querySelectorAll("#nav a")) {
    const current = location.hash.startsWith(link.getAttribute("href"));
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function render() {
  const mine = ++generation;
  let shown = false;
  const hash = location.hash || "#/connections";
  if (!token() && hash !== "#/sign-in") return navigate("#/sign-in");
  renderHeader();
  const ctx = {
    navigate,
    /** False once the reader went elsewhere: polling views stop then. */
    active: () => mine === generation,
    /**
     * Replaces the view's content. The first time, the focus moves to its heading; later (another
     * page of a list, a refresh) it stays on the control that had it, found again by its text.
     */
    show(...nodes) {
      if (mine !== generation) return;
      const before = shown ? focusKey(document.activeElement) : null;
      main.replaceChildren(...nodes.flat().filter((n) => n !== null && n !== undefined));
      const heading = main.querySelector("h1");
      if (heading) document.title = `${heading.textContent} · Matcher console`;
      const again = before && [...main.querySelectorAll("button, a, input, select, textarea")]
        .find((el) => focusKey(el) === before && !el.disabled);
      if (again) again.focus();
      else if (heading && (!shown || !main.contains(document.activeElement))) {
        heading.tabIndex = -1;
        heading.focus();
      }
      shown = true;
    },
  };
  for (const [pattern, view] of ROUTES) {
    const match = pattern.exec(hash);
    if (!match) continue;
    ctx.show(h("p", { class: "loading" }, "Loading…"));
    try {
      await view(ctx, ...match.slice(1));
    } catch (error) {
      if (error?.status === 401) return;
      ctx.show(
        h("h1", {}, "Something went wrong"),
        h("p", { class: "form-error" }, error?.message ?? String(error)),
      );
    }
    return;
  }
  ctx.show(
    h("h1", {}, "No such page"),
    h("p", {}, h("a", { href: "#/connections" }, "Connections")),
  );
}

whenUnauthorized(() => {
  signOut();
  sessionStorage.setItem(
    "matcher.console.notice",
    "The service refused the token (expired or not valid): sign in again.",
  );
  navigate("#/sign-in");
});

document.getElementById("sign-out").addEventListener("click", () => {
  signOut();
  announce("Signed out.");
  navigate("#/sign-in");
});
addEventListener("hashchange", render);
render();
