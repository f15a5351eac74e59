// A merchant app embedding the console: it logs in to its back office (/shopapi, or /adminapi for
// the platform), lists its shop's kefu, calls "log in as kefu" (POST .../kefu/login), and opens the
// returned `url` in an iframe — a native app would open the same URL in a web view.
import { call } from "/common/api.js";
import { h } from "/common/dom.js";

const steps = document.getElementById("steps");
const frameBox = document.querySelector(".embed-frame-box");

async function boot() {
  const config = await call("", "/kefuapi/chat/config");
  const base = config.base_domain;
  const error = h("p", { class: "form-error", role: "alert" });
  const family = h("select", { name: "family", "aria-label": "后台" },
    h("option", { value: "shopapi", text: "商家后台 /shopapi" }), h("option", { value: "adminapi", text: "平台后台 /adminapi" }));
  const account = h("input", { name: "account", value: "shop1", autocomplete: "username" });
  const password = h("input", { name: "password", type: "password", value: "shop123456", autocomplete: "current-password" });
  const kefuList = h("div", { class: "kefu-choices" });
  const result = h("div", { class: "embed-result" });
  const form = h("form", { class: "demo-card" }, h("h2", { text: "1. 登录后台" }),
    h("label", { class: "field" }, "后台", family), h("label", { class: "field" }, "账号", account),
    h("label", { class: "field" }, "密码", password), error,
    h("button", { class: "btn primary block", type: "submit", text: "登录" }));
  steps.replaceChildren(form, h("div", { class: "demo-card" }, h("h2", { text: "2. 选择客服并打开工作台" }), kefuList, result),
    h("div", { class: "demo-card small muted" }, h("h2", { text: "接入方式" }),
      h("p", { text: `POST ${base}<shopapi|adminapi>/kefu/login {id} （请求头 token: 后台登录令牌）返回 {token, kefu, url, ws_url}，在 iframe 或 WebView 中打开 url 即可。` })));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      const admin = await call(base, `${family.value}/account/login`, { method: "POST", body: { account: account.value.trim(), password: password.value } });
      const data = await call(base, `${family.value}/kefu/lists`, { token: admin.token, params: { page_size: 50 } });
      kefuList.replaceChildren(...(data.list.length ? data.list.map((kefu) => h("button", { type: "button", class: "btn kefu-choice", dataset: { kefuId: kefu.id },
        disabled: Boolean(kefu.disable), onclick: () => openConsole(base, family.value, admin.token, kefu, result) },
      `以「${kefu.nickname}」身份打开`)) : [h("p", { class: "muted", text: "本店还没有客服" })]));
    } catch (exc) {
      error.textContent = exc.message;
    }
  });
}

async function openConsole(base, family, adminToken, kefu, result) {
  result.replaceChildren(h("p", { class: "muted", text: "正在登录客服…" }));
  try {
    const data = await call(base, `${family}/kefu/login`, { method: "POST", token: adminToken, body: { id: kefu.id } });
    const shown = data.url.replace(/token=[^&#]+/, "token=<令牌>");
    result.replaceChildren(h("p", { class: "small", text: "返回的 url（令牌已隐去）：" }), h("code", { class: "embed-url", text: shown }));
    const frame = h("iframe", { class: "embed-frame", title: "客服工作台", src: data.url });
    frameBox.replaceChildren(frame);
  } catch (exc) {
    result.replaceChildren(h("p", { class: "form-error", text: exc.message }));
  }
}

boot().catch((exc) => steps.replaceChildren(h("p", { class: "form-error", text: exc.message })));
