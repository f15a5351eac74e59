// The buyer beside the conversation: profile (/kefuapi/chat/userInfo) and orders in this shop
// (/kefuapi/chat/order, searchable by order number). Both come from the commerce API; when it is
// slow or down the panel says so and chat goes on.
import { call } from "/common/api.js";
import { debounce, h } from "/common/dom.js";
import { avatar, mediaUrl } from "/common/media.js";

const ORDER_PAGE = 10;

export class CustomerPanel {
  constructor({ base, token }) {
    this.base = base;
    this.token = token;
    this.userId = null;
    this.orderPage = 1;
    this.profile = h("div", { class: "profile" });
    this.orderSearch = h("input", { type: "search", class: "order-search", placeholder: "搜索订单编号", "aria-label": "搜索订单编号",
      oninput: debounce(() => this.loadOrders(true), 300) });
    this.orders = h("div", { class: "order-list" });
    this.moreOrders = h("button", { type: "button", class: "link-btn", text: "加载更多订单", hidden: true,
      onclick: () => this.loadOrders(false) });
    const tab = (name, text) => h("button", { type: "button", role: "tab", class: "tab", dataset: { tab: name }, text,
      onclick: () => this.showTab(name) });
    this.tabs = h("div", { class: "tabs", role: "tablist" }, tab("profile", "客户信息"), tab("orders", "订单"));
    this.pages = {
      profile: h("div", { class: "tab-page", role: "tabpanel" }, this.profile),
      orders: h("div", { class: "tab-page", role: "tabpanel", hidden: true }, this.orderSearch, this.orders, this.moreOrders),
    };
    this.el = h("aside", { class: "side-panel", hidden: true }, this.tabs, this.pages.profile, this.pages.orders);
    this.showTab("profile");
  }

  showTab(name) {
    for (const [key, page] of Object.entries(this.pages)) page.hidden = key !== name;
    for (const button of this.tabs.children) button.setAttribute("aria-selected", button.dataset.tab === name ? "true" : "false");
  }

  show(userId) {
    this.userId = userId;
    this.el.hidden = false;
    this.orderSearch.value = "";
    this.loadProfile();
    this.loadOrders(true);
  }

  hide() {
    this.userId = null;
    this.el.hidden = true;
  }

  async loadProfile() {
    const userId = this.userId;
    this.profile.replaceChildren(h("p", { class: "muted", text: "加载中…" }));
    try {
      const u = await call("", "/kefuapi/chat/userInfo", { token: this.token, params: { user_id: userId } });
      if (userId !== this.userId) return;
      const item = (label, value) => h("div", { class: "kv" }, h("dt", { text: label }), h("dd", { text: value ?? "" }));
      this.profile.replaceChildren(
        h("div", { class: "profile-head" }, avatar(this.base, u.avatar, u.nickname, "large"),
          h("div", {}, h("div", { class: "profile-name", text: u.nickname }), h("span", { class: "level-tag", text: u.level_name || "" }))),
        h("dl", { class: "kv-list" },
          item("会员编号", u.sn), item("手机号", u.mobile), item("累计消费", `¥${u.total_order_amount ?? "0.00"}`),
          item("生日", u.birthday || "未填写"), item("注册来源", u.client_desc), item("注册时间", u.create_time)));
    } catch (exc) {
      if (userId === this.userId) this.profile.replaceChildren(h("p", { class: "form-error", text: exc.message }));
    }
  }

  async loadOrders(fresh) {
    const userId = this.userId;
    if (fresh) {
      this.orderPage = 1;
      this.orders.replaceChildren(h("p", { class: "muted", text: "加载中…" }));
    }
    try {
      const data = await call("", "/kefuapi/chat/order", { token: this.token,
        params: { user_id: userId, order_sn: this.orderSearch.value.trim(), page_no: this.orderPage, page_size: ORDER_PAGE } });
      if (userId !== this.userId) return;
      if (fresh) this.orders.replaceChildren();
      this.orders.append(...data.list.map((order) => this.orderCard(order)));
      if (!this.orders.children.length) this.orders.append(h("p", { class: "muted", text: "暂无订单" }));
      this.orderPage += 1;
      this.moreOrders.hidden = data.more !== 1;
    } catch (exc) {
      if (userId === this.userId) this.orders.replaceChildren(h("p", { class: "form-error", text: exc.message }));
    }
  }

  orderCard(order) {
    return h("div", { class: "order-card", dataset: { orderSn: order.order_sn } },
      h("div", { class: "order-top" }, h("span", { class: "order-sn", text: order.order_sn }),
        h("span", { class: `order-status status-${order.order_status}`, text: order.order_status_text })),
      (order.order_goods || []).map((line) => {
        const url = mediaUrl(this.base, line.image);
        return h("div", { class: "order-line" },
          url ? h("img", { src: url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }) : h("span", { class: "goods-noimg" }),
          h("div", { class: "order-line-main" }, h("div", { class: "order-goods-name", text: line.goods_name }),
            h("div", { class: "muted small", text: `${line.spec_value_str || ""} ×${line.goods_num}` })),
          h("span", { class: "order-line-price", text: `¥${line.goods_price}` }));
      }),
      h("div", { class: "order-foot muted small" },
        h("span", { text: `${order.order_type_text || ""} · ${order.create_time || ""}` }),
        h("strong", { class: "order-amount", text: `实付 ¥${order.order_amount}` })));
  }
}
