// The conversation list: the buyers this agent owns, online first, then the latest activity;
// an online dot, the unread count, the last message's preview, and a nickname search.
import { call } from "/common/api.js";
import { debounce, h } from "/common/dom.js";
import { avatar } from "/common/media.js";
import { preview, shortTime } from "/common/text.js";

const PAGE_SIZE = 100;

export class ConversationList {
  constructor({ base, token, onSelect }) {
    this.base = base;
    this.token = token;
    this.onSelect = onSelect;
    this.rows = new Map();
    this.selected = null;
    this.nickname = "";
    this.page = 1;
    this.more = false;
    this.typingUntil = new Map();
    this.search = h("input", { class: "conv-search", type: "search", placeholder: "搜索买家昵称", "aria-label": "搜索买家昵称",
      oninput: debounce(() => { this.nickname = this.search.value.trim(); this.reload(); }, 250) });
    this.list = h("ul", { class: "conv-list", role: "listbox", "aria-label": "会话列表" });
    this.moreBtn = h("button", { class: "link-btn conv-more", type: "button", text: "加载更多", hidden: true,
      onclick: () => this.loadMore() });
    this.empty = h("div", { class: "conv-empty muted", text: "暂无会话", hidden: true });
    this.el = h("aside", { class: "conv-panel" }, h("div", { class: "conv-search-box" }, this.search),
      this.list, this.empty, this.moreBtn);
    this.reloadSoon = debounce(() => this.reload(), 300);
  }

  async reload() {
    const data = await call("", "/kefuapi/chat/user", { token: this.token,
      params: { page_no: 1, page_size: PAGE_SIZE, nickname: this.nickname } });
    this.rows = new Map(data.list.map((row) => [Number(row.user_id), row]));
    this.page = 1;
    this.more = data.more === 1;
    this.render();
  }

  async loadMore() {
    const data = await call("", "/kefuapi/chat/user", { token: this.token,
      params: { page_no: this.page + 1, page_size: PAGE_SIZE, nickname: this.nickname } });
    for (const row of data.list) if (!this.rows.has(Number(row.user_id))) this.rows.set(Number(row.user_id), row);
    this.page += 1;
    this.more = data.more === 1;
    this.render();
  }

  get(userId) {
    return this.rows.get(Number(userId));
  }

  /** A row from `user_online` or a transfer: the server's numbers win. */
  upsert(row) {
    const old = this.rows.get(Number(row.user_id));
    this.rows.set(Number(row.user_id), { ...old, ...row });
    this.render();
  }

  remove(userId) {
    this.rows.delete(Number(userId));
    if (this.selected === Number(userId)) this.selected = null;
    this.render();
  }

  /** A message of a listed conversation; false when the conversation is not listed (reload). */
  onMessage(rec, countUnread) {
    const row = this.rows.get(Number(rec.user_id));
    if (!row) return false;
    // Rows carry last_seq: a record they already account for (a replay) changes nothing.
    if (Number(rec.seq) <= Number(row.last_seq || 0)) return true;
    row.last_seq = Number(rec.seq);
    if (Number(rec.type) !== 2) {
      row.msg = rec.msg;
      row.msg_type = rec.msg_type;
    }
    row.update_time = rec.create_time;
    if (countUnread) row.unread = Number(row.unread || 0) + 1;
    if (rec.from_type === "user") this.typingUntil.delete(Number(rec.user_id));
    this.render();
    return true;
  }

  setUnread(userId, count) {
    const row = this.rows.get(Number(userId));
    if (!row || Number(row.unread) === count) return;
    row.unread = count;
    row.is_read = count ? 0 : 1;
    this.render();
  }

  typing(userId) {
    this.typingUntil.set(Number(userId), Date.now() + 4000);
    this.render();
    setTimeout(() => this.render(), 4100);
  }

  select(userId) {
    this.selected = userId === null ? null : Number(userId);
    this.render();
  }

  sorted() {
    return Array.from(this.rows.values()).sort((a, b) =>
      (Number(b.online) - Number(a.online)) || String(b.update_time).localeCompare(String(a.update_time)) ||
      (Number(b.id) - Number(a.id)));
  }

  render() {
    const now = Date.now();
    const items = this.sorted().map((row) => {
      const uid = Number(row.user_id);
      const unread = Number(row.unread || 0);
      const typing = (this.typingUntil.get(uid) || 0) > now;
      const selected = uid === this.selected;
      return h("li", { class: `conv-item${selected ? " selected" : ""}${row.online ? " is-online" : ""}`,
        role: "option", tabindex: "0", "aria-selected": selected ? "true" : "false", dataset: { userId: uid },
        onclick: () => this.onSelect(uid),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); this.onSelect(uid); } } },
      h("span", { class: "conv-avatar" }, avatar(this.base, row.avatar, row.nickname),
        h("span", { class: `online-dot ${row.online ? "online" : "offline"}`, title: row.online ? "在线" : "离线" })),
      h("div", { class: "conv-main" },
        h("div", { class: "conv-top" },
          h("span", { class: "conv-name", text: row.nickname || `买家${uid}` }),
          h("span", { class: "conv-time", text: shortTime(row.update_time) })),
        h("div", { class: "conv-bottom" },
          h("span", { class: `conv-preview${typing ? " typing" : ""}`, text: typing ? "正在输入…" : preview(row.msg, row.msg_type) }),
          unread > 0 ? h("span", { class: "unread-badge", "aria-label": `${unread} 条未读`, text: unread > 99 ? "99+" : String(unread) }) : null)));
    });
    this.list.replaceChildren(...items);
    this.empty.hidden = items.length > 0;
    this.moreBtn.hidden = !this.more;
  }

  totalUnread() {
    let total = 0;
    for (const row of this.rows.values()) total += Number(row.unread || 0);
    return total;
  }
}
