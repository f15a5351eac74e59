// The kefu console: login (or a token handed over by "log in as kefu"), then the workspace —
// conversation list, chat pane, buyer panel — driven by one protocol connection that resumes with
// `sync` after every reconnect, so nothing sent meanwhile is missed or shown twice.
import { ApiError, call, socketUrl } from "/common/api.js";
import { h, toast } from "/common/dom.js";
import { Conversation, Outbox } from "/common/conversation.js";
import { icon } from "/common/icons.js";
import { avatar } from "/common/media.js";
import { Notifier } from "/common/notify.js";
import { ChatSocket } from "/common/socket.js";
import { preview } from "/common/text.js";
import { ChatPane } from "./chat-pane.js";
import { ConversationList } from "./conversations.js";
import { CustomerPanel } from "./customer.js";
import { adoptTokenFromUrl, forgetToken, loginView, storedToken } from "./session.js";
import { chooseColleague } from "./transfer.js";

const root = document.getElementById("app");

async function boot() {
  let config;
  try {
    config = await call("", "/kefuapi/chat/config");
  } catch (exc) {
    root.replaceChildren(h("div", { class: "boot form-error", text: `无法连接客服服务器：${exc.message}` }));
    return;
  }
  adoptTokenFromUrl();
  let message = takeReason();
  for (;;) {
    const token = storedToken() || await loginView(root, config, message);
    try {
      const kefu = await call("", "/kefuapi/chat/kefuInfo", { token });
      new Console(config, token, kefu).start();
      return;
    } catch (exc) {
      if (!(exc instanceof ApiError && exc.notLoggedIn)) {
        // The server is unreachable or failing: keep the token, offer to try again.
        root.replaceChildren(h("div", { class: "boot" }, h("p", { class: "form-error", text: exc.message }),
          h("button", { type: "button", class: "btn", text: "重试", onclick: () => location.reload() })));
        return;
      }
      forgetToken();
      message = "登录已失效，请重新登录";
    }
  }
}

/** Why the last session ended (set by signedOut), shown once on the login form. */
function takeReason() {
  const url = new URL(location.href);
  const reason = url.searchParams.get("reason") || "";
  if (reason) {
    url.searchParams.delete("reason");
    history.replaceState(null, "", url.pathname + url.search + url.hash);
  }
  return reason;
}

class Console {
  constructor(config, token, kefu) {
    this.config = config;
    this.token = token;
    this.kefu = kefu;
    this.base = config.base_domain;
    this.convs = new Map();
    this.transferring = null;
    this.notifier = new Notifier();
    this.socket = new ChatSocket(() => socketUrl(config.ws_domain, { token, type: "kefu", client: 5, shop_id: kefu.shop_id }), {
      onFrame: (event, data) => this.onFrame(event, data),
      onOpen: () => this.onOpen(),
      onState: (state, info) => this.onState(state, info),
    });
    this.outbox = new Outbox(this.socket, (cmid) => this.pane.failed(cmid));
    this.list = new ConversationList({ base: this.base, token, onSelect: (uid) => this.select(uid) });
    this.pane = new ChatPane({
      base: this.base, token, kefu,
      send: (userId, draft) => this.outbox.send({ ...draft, to_id: userId, to_type: "user" }),
      sendTyping: (userId) => this.socket.send("typing", { to_id: userId, to_type: "user" }),
      transfer: (userId) => this.transfer(userId),
      retry: (cmid) => this.outbox.retry(cmid),
      toastError: (msg) => toast(msg, "error"),
    });
    this.customer = new CustomerPanel({ base: this.base, token });
  }

  start() {
    const shopLabel = Number(this.kefu.shop_id) === 0 ? "平台客服" : `店铺 #${this.kefu.shop_id}`;
    this.notifier.setBaseTitle(`客服工作台 - ${this.kefu.nickname}`);
    this.status = h("span", { class: "status-pill", role: "status", text: "连接中…" });
    this.onlineSwitch = h("input", { type: "checkbox", class: "online-switch", checked: true, "aria-label": "在线接待",
      onchange: () => this.setOnline(this.onlineSwitch.checked) });
    this.soundBtn = h("button", { type: "button", class: "icon-btn sound-btn", onclick: () => this.toggleSound() });
    this.renderSound();
    const topbar = h("header", { class: "topbar" },
      h("div", { class: "brand" }, h("span", { class: "brand-logo", "aria-hidden": "true", text: "客" }),
        h("span", { class: "brand-name", text: this.config.company_name || "客服工作台" }),
        h("span", { class: "brand-shop muted", text: shopLabel })),
      h("div", { class: "topbar-right" }, this.status,
        h("label", { class: "switch", title: "关闭后断开连接，不再实时接收消息" }, this.onlineSwitch, h("span", { class: "switch-track", "aria-hidden": "true" }),
          h("span", { class: "switch-label", text: "在线接待" })),
        this.soundBtn,
        h("span", { class: "me" }, avatar(this.base, this.kefu.avatar, this.kefu.nickname), h("span", { class: "me-name", text: this.kefu.nickname })),
        h("button", { type: "button", class: "btn small logout-btn", text: "退出", onclick: () => this.logout() })));
    root.replaceChildren(h("div", { class: "console" }, topbar,
      h("main", { class: "workspace" }, this.list.el, this.pane.el, this.customer.el)));
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.markCurrentRead(); });
    this.list.reload().catch((exc) => this.failed(exc));
    this.socket.start();
  }

  // ---------------------------------------------------------------------------- connection

  onOpen() {
    this.setStatus("在线", "online");
    for (const conv of this.convs.values()) this.requestSync(conv);
    this.outbox.flush();
    this.markCurrentRead();
    // The list may have been read before the server applied that `read`: the open conversation is
    // being read, whatever the reloaded row says.
    this.list.reload().then(() => this.markCurrentRead()).catch((exc) => this.failed(exc));
  }

  onState(state, info) {
    root.dataset.connection = state;   // for people's tools and tests: connecting, open, waiting, ...
    if (state === "open") return;
    this.outbox.pause();
    for (const conv of this.convs.values()) conv.syncing = false;
    if (state === "stopped") this.setStatus("离线", "offline");
    else if (state === "refused") {
      this.setStatus(info.reason || "连接被拒绝", "offline");
      this.onlineSwitch.checked = false;
      if (info.code === 4001) this.signedOut(info.reason);
      else toast(info.reason || "连接被拒绝", "error");
    } else this.setStatus(state === "waiting" ? "重新连接中…" : "连接中…", "connecting");
  }

  setStatus(text, kind) {
    this.status.textContent = text;
    this.status.className = `status-pill ${kind}`;
  }

  setOnline(on) {
    if (on) this.socket.start();
    else this.socket.stop();
  }

  requestSync(conv) {
    if (conv.syncing || !this.socket.isOpen) return;
    conv.syncing = this.socket.send("sync", conv.syncFrame());
  }

  // -------------------------------------------------------------------------------- frames

  onFrame(event, data) {
    switch (event) {
      case "chat": return this.onChat(data);
      case "user_online": return this.onUserOnline(data);
      case "transfer": return this.onTransfer(data);
      case "read": return this.onRead(data);
      case "typing": return this.onTyping(data);
      case "sync": return this.onSync(data);
      case "resync": for (const conv of this.convs.values()) this.requestSync(conv); return;
      case "error": toast(data?.msg || "操作失败", "error"); if (this.transferring) this.transferring = null; return;
      case "notice": toast(data?.msg || ""); return;
      default: return;   // events of a newer server: ignored
    }
  }

  onChat(rec) {
    if (!rec || Number(rec.shop_id) !== Number(this.kefu.shop_id)) return;
    const uid = Number(rec.user_id);
    if (rec.client_msg_id && this.outbox.ack(rec.client_msg_id)) this.pane.acked(rec.client_msg_id);
    const conv = this.convs.get(uid);
    if (conv) {
      const { fresh, gap } = conv.accept(rec);
      if (gap) this.requestSync(conv);
      if (!fresh) return;
      if (this.pane.userId === uid) {
        this.pane.showRecords([rec]);
        if (rec.from_type === "user") this.pane.messages.hideTyping();
      }
    }
    const fromBuyer = rec.from_type === "user";
    const looking = this.pane.userId === uid && !document.hidden;
    if (!this.list.onMessage(rec, fromBuyer && !looking)) this.list.reloadSoon();
    if (fromBuyer) {
      if (looking) this.markRead(uid);
      else this.notifier.notify(`${rec.from_nickname || "买家"}: ${preview(rec.msg, rec.msg_type)}`);
    }
  }

  onUserOnline(row) {
    this.list.upsert(row);
    if (this.pane.userId === Number(row.user_id)) this.pane.updateHead(row);
  }

  onTransfer(data) {
    if (data?.status === "send_success") {
      const uid = this.transferring;
      this.transferring = null;
      if (uid === null) return;
      this.list.remove(uid);
      this.convs.delete(uid);
      if (this.pane.userId === uid) this.closeConversation();
      toast("转接成功");
    } else if (data?.status === "get_success" && data.user) {
      this.list.upsert(data.user);
      toast(`${data.user.nickname || "买家"} 已转接给您`);
      this.notifier.notify(`${data.user.nickname || "买家"} 已转接给您`);
    }
  }

  onRead(data) {
    const uid = Number(data?.user_id);
    if (data?.reader_type === "user") {
      const conv = this.convs.get(uid);
      if (conv) conv.peerReadSeq = Number(data.read_seq);
      if (this.pane.userId === uid) this.pane.messages.setReadSeq(data.read_seq);
    } else if (data?.reader_type === "kefu") {
      this.list.setUnread(uid, 0);   // read here or in another tab of mine
    }
  }

  onTyping(data) {
    if (data?.from_type !== "user") return;
    const uid = Number(data.user_id);
    this.list.typing(uid);
    if (this.pane.userId === uid) this.pane.messages.showTyping("对方正在输入…");
  }

  onSync(data) {
    const conv = this.convs.get(Number(data?.user_id));
    if (!conv) return;
    conv.syncing = false;
    if (data.recovered) {
      conv.synced(data.last_seq);
    } else {
      // Too much was missed to replay: start over from HTTP history.
      conv.forget();
      if (this.pane.userId === conv.userId) this.pane.reload();
    }
  }

  // --------------------------------------------------------------------------------- actions

  async select(uid) {
    const row = this.list.get(uid);
    if (!row) return;
    let conv = this.convs.get(uid);
    if (!conv) {
      conv = new Conversation(this.kefu.shop_id, uid);
      this.convs.set(uid, conv);
    }
    this.list.select(uid);
    this.customer.show(uid);
    const drafts = [];
    for (const [cmid, item] of this.outbox.items) {
      if (Number(item.data.to_id) === uid) drafts.push([cmid, this.pane.draftRecord(item.data)]);
    }
    await this.pane.open(row, conv, drafts);
    this.markRead(uid);
  }

  closeConversation() {
    this.pane.close();
    this.customer.hide();
    this.list.select(null);
  }

  markRead(uid) {
    if (document.hidden || !this.socket.isOpen) return;
    this.socket.send("read", { user_id: uid, shop_id: this.kefu.shop_id });
    this.list.setUnread(uid, 0);
  }

  markCurrentRead() {
    if (this.pane.userId !== null) this.markRead(this.pane.userId);
  }

  async transfer(uid) {
    const row = this.list.get(uid);
    const colleague = await chooseColleague({ base: this.base, token: this.token, buyerName: row?.nickname || "" });
    if (!colleague) return;
    if (!this.socket.send("transfer", { user_id: uid, kefu_id: colleague.id })) {
      toast("当前未连接，无法转接", "error");
      return;
    }
    this.transferring = uid;
  }

  toggleSound() {
    this.notifier.setSound(!this.notifier.sound);
    this.renderSound();
  }

  renderSound() {
    const on = this.notifier.sound;
    this.soundBtn.replaceChildren(icon(on ? "bell" : "bell-off"));
    this.soundBtn.title = on ? "新消息提示音：开" : "新消息提示音：关";
    this.soundBtn.setAttribute("aria-label", this.soundBtn.title);
    this.soundBtn.setAttribute("aria-pressed", on ? "true" : "false");
  }

  async logout() {
    try {
      await call("", "/kefuapi/account/logout", { method: "POST", token: this.token });
    } catch { /* the token goes either way */ }
    this.signedOut("");
  }

  signedOut(reason) {
    this.socket.stop();
    forgetToken();
    const url = new URL(location.href);
    if (reason) url.searchParams.set("reason", reason);
    location.replace(url.toString());
  }

  failed(exc) {
    if (exc instanceof ApiError && exc.notLoggedIn) this.signedOut("登录已失效，请重新登录");
    else toast(exc.message, "error");
  }
}

boot();
