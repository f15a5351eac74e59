// A stand-in for a shop's product page: a buyer logs in through the commerce API, and the page
// adds the widget with the one script tag a real shop would add (see the README).
import { call } from "/common/api.js";
import { h } from "/common/dom.js";

const KEY = "kefu.demo.buyer";
const main = document.getElementById("demo");
const query = new URLSearchParams(location.search);
const goodsId = query.get("goods_id") || "1";

async function boot() {
  const config = await call("", "/kefuapi/chat/config");
  const base = config.base_domain;
  const token = sessionStorage.getItem(KEY);
  if (!token) return loginForm(base);
  const goods = await call(base, "api/goods/getGoodsDetail", { params: { goods_id: goodsId } });
  main.replaceChildren(h("article", { class: "product" },
    h("img", { class: "product-image", src: goods.image, alt: "" }),
    h("div", { class: "product-info" },
      h("div", { class: "muted", text: goods.shop?.name || "" }),
      h("h1", { text: goods.name }),
      h("div", { class: "product-price", text: `¥${goods.min_price}` }),
      h("p", { class: "muted", text: goods.remark || "" }),
      h("div", { class: "product-actions" },
        h("button", { type: "button", class: "btn primary", text: "联系客服", onclick: () => window.KefuWidget?.open() }),
        h("button", { type: "button", class: "btn", text: "退出买家账号", onclick: () => { sessionStorage.removeItem(KEY); location.reload(); } })),
      h("p", { class: "muted small", text: "右下角的按钮由 /widget.js 添加；它会带上本商品，客服能看到商品卡片。" }))));
  const tag = document.createElement("script");
  tag.src = "/widget.js";
  tag.dataset.shopId = String(goods.shop_id);
  tag.dataset.goodsId = String(goods.id);
  tag.dataset.token = token;
  document.body.append(tag);
}

function loginForm(base) {
  const error = h("p", { class: "form-error", role: "alert" });
  const mobile = h("input", { name: "mobile", value: "13800000001", autocomplete: "username" });
  const password = h("input", { name: "password", type: "password", value: "user123456", autocomplete: "current-password" });
  const form = h("form", { class: "demo-card" }, h("h2", { text: "买家登录" }),
    h("p", { class: "muted small", text: "演示买家：13800000001 … 13800000020，密码 user123456" }),
    h("label", { class: "field" }, "手机号", mobile), h("label", { class: "field" }, "密码", password), error,
    h("button", { class: "btn primary block", type: "submit", text: "登录并打开商品页" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const data = await call(base, "api/account/login", { method: "POST", body: { mobile: mobile.value.trim(), password: password.value, client: 6 } });
      sessionStorage.setItem(KEY, data.token);
      boot();
    } catch (exc) {
      error.textContent = exc.message;
    }
  });
  main.replaceChildren(form);
}

boot().catch((exc) => main.replaceChildren(h("p", { class: "form-error", text: exc.message })));
