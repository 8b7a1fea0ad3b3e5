// The sign-in view: paste a bearer token, or (development only) one click as the development tenant.
import { call, signIn } from "./api.js";
import { announce, clearErrors, field, h, showErrors } from "./dom.js";

const NOTICE = "matcher.console.notice";

/** The server puts this mark in the page only where the development sign-in is offered. */
function devSignInOffered() {
  return document.querySelector('meta[name="matcher-dev-sign-in"]') !== null;
}

export function signInView(ctx) {
  const notice = sessionStorage.getItem(NOTICE);
  sessionStorage.removeItem(NOTICE);

  const input = h("textarea", {
    id: "token",
    name: "token",
    rows: 4,
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const form = h(
    "form",
    { class: "card", novalidate: true },
    field(
      "Bearer token",
      input,
      "A JWT whose tenant_id claim names your tenant. It is kept in this browser tab only, " +
        "and sent only to this service's API.",
    ),
    h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true }),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const value = input.value.trim().replace(/^Bearer\s+/i, "");
    if (!value) return showErrors(form, [{ field: "token", message: "Paste a token first." }]);
    try {
      // Any call that needs a token tells whether the service accepts it.
      await call("GET", "connector-types", { tokenOverride: value });
    } catch (error) {
      const message = error.status === 401
        ? `The service refused this token: ${error.message}`
        : `The service could not check the token: ${error.message}`;
      return showErrors(form, [{ field: "token", message }]);
    }
    signIn(value);
    announce("Signed in.");
    ctx.navigate("#/connections");
  });

  const devButton = h("button", { type: "button", class: "primary", id: "dev-sign-in" }, [
    "Sign in as the development tenant",
  ]);
  devButton.addEventListener("click", async () => {
    devButton.disabled = true;
    try {
      const session = await call("POST", "/console/dev-session", { tokenOverride: "" });
      signIn(session.token);
      announce("Signed in as the development tenant.");
      ctx.navigate("#/connections");
    } catch (error) {
      devButton.disabled = false;
      announce(`The development sign-in failed: ${error.message}`);
    }
  });
  const dev = devSignInOffered()
    ? h(
      "section",
      { class: "card dev", "aria-labelledby": "dev-title" },
      h("h2", { id: "dev-title" }, "Development"),
      h(
        "p",
        {},
        "This service runs in development mode. Sign in as the development tenant with a token " +
          "that lasts one hour, signed with the development secret.",
      ),
      devButton,
    )
    : null;

  ctx.show(
    h("h1", {}, "Sign in"),
    notice ? h("p", { class: "notice", role: "alert" }, notice) : null,
    form,
    dev,
  );
}
