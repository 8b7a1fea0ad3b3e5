// Small DOM helpers: elements from data (text only, never HTML), labelled fields, dialogs, pagers.

/**
 * An element: `attrs` become attributes (`on*` functions become listeners, `dataset`, `hidden`
 * and `disabled` are set as properties), children are nodes or text.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value") el.value = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  el.append(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
  return el;
}

/** Writes a message to the page's polite live region. */
let announced;
export function announce(text) {
  const status = document.getElementById("status");
  status.textContent = "";
  clearTimeout(announced);
  // A change a moment later, so that the same message twice is read twice; gone after a while.
  announced = setTimeout(() => {
    status.textContent = text;
    announced = setTimeout(() => status.textContent = "", 6000);
  }, 50);
}

/**
 * A labelled field with a hint and an error slot beside it, both tied to the control with
 * aria-describedby. `control` is an input, select or textarea element with an id.
 */
export function field(label, control, hint) {
  const id = control.id;
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  const errorEl = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  control.setAttribute("aria-describedby", [hintEl?.id, errorEl.id].filter(Boolean).join(" "));
  return h("div", { class: "field", dataset: { field: control.name } }, [
    h("label", { for: id }, label),
    control,
    hintEl,
    errorEl,
  ]);
}

/** Clears the field errors and the form's own error. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error, .form-error")) {
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/**
 * Shows `problems` ({field, message}) beside their fields; those of no field of the form go to
 * the form's own error. Focuses the first field in error.
 */
export function showErrors(form, problems, fallback) {
  clearErrors(form);
  const unplaced = [];
  let first;
  for (const { field: name, message } of problems) {
    const control = form.elements.namedItem(name);
    const slot = control && form.querySelector(`#${control.id}-error`);
    if (!slot) {
      unplaced.push(name && name !== "body" ? `${name}: ${message}` : message);
      continue;
    }
    slot.textContent = message;
    slot.hidden = false;
    control.setAttribute("aria-invalid", "true");
    first ??= control;
  }
  if (unplaced.length || (!first && fallback)) {
    const box = form.querySelector(".form-error");
    box.textContent = unplaced.length ? unplaced.join("; ") : fallback;
    box.hidden = false;
  }
  (first ?? form.querySelector(".form-error"))?.focus?.();
}

/** Asks with a modal dialog; answers true when the user confirms. */
export function confirmDialog({ title, text, confirm }) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, title),
      h("p", {}, text),
      h(
        "div",
        { class: "actions" },
        h(
          "button",
          { type: "button", class: "danger", onclick: () => dialog.close("yes") },
          confirm,
        ),
        // Cancel has the focus, so that Enter pressed at once does not destroy anything.
        h(
          "button",
          { type: "button", autofocus: true, onclick: () => dialog.close("no") },
          "Cancel",
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A date-time as the reader's locale writes it; "never" for null. */
export function when(iso, none = "never") {
  return iso ? new Date(iso).toLocaleString() : none;
}

/** A table with a caption, given column headers and rows of cells (nodes or text). */
export function table(caption, headers, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h(
        "tbody",
        {},
        rows.map((cells) =>
          h("tr", {}, cells.map((c, i) => h("td", { "data-label": headers[i] || undefined }, c)))
        ),
      ),
    ),
  );
}

/**
 * Cursor paging: `cursors` is the stack of cursors of the pages before this one. Answers the
 * pager's element; `go(cursors)` shows another page.
 */
export function pager(label, page, cursors, go) {
  const previous = cursors.length > 0;
  return h(
    "nav",
    { class: "pager", "aria-label": label },
    h("button", {
      type: "button",
      disabled: !previous,
      onclick: () => go(cursors.slice(0, -1)),
    }, "Previous page"),
    h("span", {}, `Page ${cursors.length + 1}`),
    h("button", {
      type: "button",
      disabled: !page.hasMore,
      onclick: () => go([...cursors, page.nextCursor]),
    }, "Next page"),
  );
}
