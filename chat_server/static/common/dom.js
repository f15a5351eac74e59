// Building DOM without markup: every string becomes a text node or an attribute value, so nothing
// that came from a user or the server can ever be parsed as HTML.

/**
 * h("div", {class: "x", text: "hi", onclick: fn, title: "t"}, child1, [child2, ...])
 * Children: Node, string (a text node), null/undefined/false (skipped) or arrays of those.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value") el.value = value;
    else if (key === "checked" || key === "disabled" || key === "hidden" || key === "multiple") el[key] = Boolean(value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

/** Run `fn` at most once per `ms` after calls stop (search boxes). */
export function debounce(fn, ms) {
  let timer = 0;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A short-lived message at the bottom of the page (errors, notices, confirmations). */
export function toast(text, kind = "info") {
  let box = document.querySelector(".toasts");
  if (!box) {
    box = h("div", { class: "toasts", role: "status", "aria-live": "polite" });
    document.body.append(box);
  }
  const item = h("div", { class: `toast toast-${kind}`, text });
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 5000 : 3000);
}

/** A modal dialog; returns {close, root}. `body` is a node; buttons are [{text, kind, onclick(close)}];
 *  onClose runs once, however the dialog was closed (a button, ×, Escape, a click outside). */
export function modal(title, body, buttons = [], { onClose } = {}) {
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    overlay.remove();
    document.removeEventListener("keydown", onKey);
    if (onClose) onClose();
  };
  const onKey = (e) => { if (e.key === "Escape") close(); };
  const overlay = h("div", { class: "modal-overlay", onclick: (e) => { if (e.target === overlay) close(); } },
    h("div", { class: "modal", role: "dialog", "aria-modal": "true", "aria-label": title },
      h("div", { class: "modal-head" }, h("span", { text: title }),
        h("button", { class: "icon-btn", type: "button", "aria-label": "关闭", text: "×", onclick: close })),
      h("div", { class: "modal-body" }, body),
      buttons.length ? h("div", { class: "modal-foot" }, buttons.map((b) =>
        h("button", { type: "button", class: `btn ${b.kind || ""}`, text: b.text, onclick: () => b.onclick(close) }))) : null));
  document.addEventListener("keydown", onKey);
  document.body.append(overlay);
  return { close, root: overlay };
}
