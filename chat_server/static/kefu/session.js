// Who the console works as: the kefu token (from the login form, or from ?token= when a merchant
// app opened the console through "log in as kefu"), kept per tab in sessionStorage.
import { call } from "/common/api.js";
import { h } from "/common/dom.js";

const KEY = "kefu.console.token";

/** The token handed over in the URL, moved into storage and out of the address bar (and history). */
export function adoptTokenFromUrl() {
  const url = new URL(location.href);
  const token = url.searchParams.get("token");
  if (!token) return;
  sessionStorage.setItem(KEY, token);
  url.searchParams.delete("token");
  history.replaceState(null, "", url.pathname + (url.search || "") + url.hash);
}

export function storedToken() {
  return sessionStorage.getItem(KEY) || "";
}

export function forgetToken() {
  sessionStorage.removeItem(KEY);
}

/** The login form; resolves with the token once an account logs in. */
export function loginView(root, config, message = "") {
  return new Promise((resolve) => {
    const error = h("p", { class: "form-error", role: "alert", text: message });
    const account = h("input", { name: "account", autocomplete: "username", required: true, placeholder: "后台账号" });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password", required: true, placeholder: "密码" });
    const kind = (value, text, checked) => h("label", { class: "segment" },
      h("input", { type: "radio", name: "type", value, checked }), h("span", { text }));
    const submit = h("button", { class: "btn primary block", type: "submit", text: "登录" });
    const form = h("form", { class: "login-card", novalidate: true },
      h("div", { class: "login-brand" }, h("span", { class: "login-logo", "aria-hidden": "true", text: "客" }),
        h("div", {}, h("h1", { text: "客服工作台" }), h("p", { class: "muted", text: config.company_name || "在线客服" }))),
      h("label", { class: "field" }, h("span", { text: "账号" }), account),
      h("label", { class: "field" }, h("span", { text: "密码" }), password),
      h("div", { class: "segmented", role: "radiogroup", "aria-label": "账号类型" },
        kind("1", "商家客服", true), kind("0", "平台客服", false)),
      error, submit);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.textContent = "";
      submit.disabled = true;
      try {
        const type = Number(form.querySelector("input[name=type]:checked").value);
        const data = await call("", "/kefuapi/account/login", {
          method: "POST", body: { account: account.value.trim(), password: password.value, type, client: 5 } });
        sessionStorage.setItem(KEY, data.token);
        resolve(data.token);
      } catch (exc) {
        error.textContent = exc.message;
        submit.disabled = false;
      }
    });
    root.replaceChildren(h("div", { class: "login-page" }, form));
    account.focus();
  });
}
