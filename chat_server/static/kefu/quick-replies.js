// Quick replies (the shop's `kefu_lang`): a searchable list above the composer; a click puts the
// reply into the input, where the agent can still edit it.
import { call } from "/common/api.js";
import { debounce, h } from "/common/dom.js";

export class QuickReplies {
  constructor({ token, onPick }) {
    this.token = token;
    this.onPick = onPick;
    this.search = h("input", { type: "search", class: "reply-search", placeholder: "搜索快捷回复", "aria-label": "搜索快捷回复",
      oninput: debounce(() => this.load(), 250) });
    this.list = h("ul", { class: "reply-list" });
    this.el = h("div", { class: "popover reply-popover", hidden: true },
      h("div", { class: "popover-head" }, h("strong", { text: "快捷回复" }), this.search), this.list);
  }

  toggle() {
    if (this.el.hidden) {
      this.el.hidden = false;
      this.search.focus();
      this.load();
    } else {
      this.hide();
    }
  }

  hide() {
    this.el.hidden = true;
  }

  async load() {
    const keyword = this.search.value.trim();
    this.list.replaceChildren(h("li", { class: "muted", text: "加载中…" }));
    try {
      const data = await call("", "/kefuapi/chat/reply", { token: this.token, params: { keyword, page_size: 50 } });
      if (keyword !== this.search.value.trim()) return;   // a newer search is on its way
      this.list.replaceChildren(...(data.list.length ? data.list.map((reply) => h("li", {},
        h("button", { type: "button", class: "reply-item", onclick: () => { this.onPick(reply.content); this.hide(); } },
          h("span", { class: "reply-title", text: reply.title }),
          h("span", { class: "reply-content", text: reply.content })))) : [h("li", { class: "muted", text: "没有匹配的快捷回复" })]));
    } catch (exc) {
      this.list.replaceChildren(h("li", { class: "form-error", text: exc.message }));
    }
  }
}
