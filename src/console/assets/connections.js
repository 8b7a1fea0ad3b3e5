// The connections list (paged) and the form that creates or edits a connection.
import { call, paged } from "./api.js";
import { announce, clearErrors, field, h, pager, showErrors, table, when } from "./dom.js";
import { VENDOR_BASE_URLS, VENDOR_NAMES } from "./words.js";

export async function connectionsView(ctx, cursors = []) {
  const page = await call("GET", paged("aggregator-connections", cursors.at(-1)));
  const rows = page.items.map((c) => [
    h("a", { href: `#/connections/${c.id}` }, c.configName),
    VENDOR_NAMES[c.vendor] ?? c.vendor,
    h("span", { class: "url" }, c.baseUrl),
    c.accountRef,
    when(c.createdAt),
  ]);
  ctx.show(
    h("h1", {}, "Connections"),
    h(
      "p",
      { class: "actions" },
      h("a", { class: "button primary", href: "#/connections/new" }, "New connection"),
    ),
    page.items.length || cursors.length
      ? [
        table("Your aggregator connections, newest first", [
          "Name",
          "Vendor",
          "Base URL",
          "Account",
          "Created",
        ], rows),
        pager("Connection pages", page, cursors, (next) => connectionsView(ctx, next)),
      ]
      : h("p", { class: "empty" }, "No connections yet. Create one to start."),
  );
}

/** The type-select: the vendors this form creates, then what else the deployment registered. */
function typeSelect(types) {
  const others = types.map((t) =>
    h("option", { value: `other:${t.type}`, disabled: true }, `${t.type} (${t.category})`)
  );
  return h(
    "select",
    { id: "vendor", name: "vendor" },
    h(
      "optgroup",
      { label: "Aggregators (this form creates these)" },
      Object.entries(VENDOR_NAMES).map(([value, name]) => h("option", { value }, name)),
    ),
    others.length
      ? h("optgroup", { label: "Also registered in this deployment (set up elsewhere)" }, others)
      : null,
  );
}

function input(name, attrs = {}) {
  return h("input", { id: name, name, autocomplete: "off", spellcheck: "false", ...attrs });
}

/** Create (no `id`) or edit a connection. */
export async function connectionFormView(ctx, id) {
  const editing = id !== undefined;
  const [current, types] = await Promise.all([
    editing ? call("GET", `aggregator-connections/${id}`) : null,
    editing ? null : call("GET", "connector-types"),
  ]);

  const vendorField = editing
    ? h(
      "div",
      { class: "field" },
      h("span", { class: "label" }, "Type"),
      h("p", {}, `${VENDOR_NAMES[current.vendor]} (the type of a connection cannot change)`),
    )
    : field(
      "Type",
      typeSelect(types.types),
      types.types.length
        ? `This form creates aggregator connections. The deployment also has ${
          types.types.map((t) => t.type).join(", ")
        }, set up outside this console.`
        : "This form creates aggregator connections.",
    );
  const baseUrl = input("baseUrl", {
    type: "url",
    inputmode: "url",
    value: current?.baseUrl ?? VENDOR_BASE_URLS.pluggy,
  });
  const form = h(
    "form",
    { class: "card", novalidate: true },
    vendorField,
    field(
      "Config name",
      input("configName", { value: current?.configName ?? "" }),
      "3 to 100 letters, digits, - and _; unique among your connections.",
    ),
    field("Base URL", baseUrl, "The vendor's API address, e.g. https://api.pluggy.ai."),
    field(
      "Account reference",
      input("accountRef", { value: current?.accountRef ?? "" }),
      "Pluggy: the item id. Belvo: the link id.",
    ),
    h(
      "fieldset",
      { "aria-describedby": "credential-rule" },
      h("legend", {}, "Credential"),
      h(
        "p",
        { class: "hint", id: "credential-rule" },
        editing
          ? "Leave both empty to keep the stored credential, or fill in both to replace it: " +
            "one without the other is refused. It is sealed before it is stored and never shown."
          : "Both are required. They are sealed before they are stored and never shown again.",
      ),
      field("Client id", input("clientId")),
      field("Secret", input("secret", { type: "password", autocomplete: "new-password" })),
    ),
    h("p", { class: "form-error", role: "alert", tabindex: "-1", hidden: true }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, editing ? "Save" : "Create connection"),
      h(
        "a",
        { class: "button", href: editing ? `#/connections/${id}` : "#/connections" },
        "Cancel",
      ),
    ),
  );

  // A vendor's usual base URL follows the type while the field holds another vendor's.
  form.elements.namedItem("vendor")?.addEventListener?.("change", (event) => {
    if (Object.values(VENDOR_BASE_URLS).includes(baseUrl.value) || !baseUrl.value) {
      baseUrl.value = VENDOR_BASE_URLS[event.target.value] ?? "";
    }
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const value = (name) => form.elements.namedItem(name).value;
    const body = {
      configName: value("configName"),
      baseUrl: value("baseUrl"),
      accountRef: value("accountRef"),
    };
    if (!editing) {
      Object.assign(body, {
        vendor: value("vendor"),
        clientId: value("clientId"),
        secret: value("secret"),
      });
    } else {
      if (value("clientId")) body.clientId = value("clientId");
      if (value("secret")) body.secret = value("secret");
    }
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const saved = editing
        ? await call("PUT", `aggregator-connections/${id}`, { json: body })
        : await call("POST", "aggregator-connections", { json: body });
      announce(editing ? "Saved." : `Created ${saved.configName}.`);
      ctx.navigate(`#/connections/${saved.id}`);
    } catch (error) {
      if (error.status === 409) {
        showErrors(form, [{
          field: "configName",
          message: `Name taken: another connection is already called "${body.configName.trim()}".`,
        }]);
      } else if (error.status === 400 && error.fields.length) {
        showErrors(form, error.fields);
      } else {
        showErrors(form, [], error.message);
      }
    } finally {
      button.disabled = false;
    }
  });

  ctx.show(h("h1", {}, editing ? `Edit ${current.configName}` : "New connection"), form);
}
