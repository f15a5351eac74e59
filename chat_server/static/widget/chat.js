// The buyer chat widget (/widget/?shop_id=&token=[&goods_id=][&client=][&base=]): a buyer talks to
// a shop's agents (shop 0: the platform). History over HTTP, then one protocol connection that
// announces the buyer (`user_online`) and resumes with `sync` after every reconnect. Inside the
// loader's iframe it tells the host page when to close and how many replies are unread.
import { ApiError, call, envelope, socketUrl } from "/common/api.js";
import { h, toast } from "/common/dom.js";
import { emojiPicker, insertAtCaret } from "/common/emoji.js";
import { Conversation, Outbox } from "/common/conversation.js";
import { icon } from "/common/icons.js";
import { avatar, mediaUrl } from "/common/media.js";
import { goodsCard, MessageList } from "/common/messages.js";
import { ChatSocket } from "/common/socket.js";
import { pickAndUpload } from "/common/upload.js";

const PAGE_SIZE = 20;
const MAX_TEXT = 2000;
const TYPING_EVERY_MS = 2000;
const STATUS_EVERY_MS = 60000;

const query = new URLSearchParams(location.search);
const fragment = new URLSearchParams(location.hash.slice(1));   // the token may travel in the #fragment
const shopId = Number(query.get("shop_id") || 0);
const token = fragment.get("token") || query.get("token") || "";
const goodsId = query.get("goods_id") || "";
const client = Number(query.get("client") || 6);
const embedded = window.parent !== window;
const root = document.getElementById("widget");

class Widget {
  constructor() {
    this.base = query.get("base") || "";
    this.kefu = null;
    this.kefuOnline = true;
    this.shown = !embedded;        // the loader says when its frame is open
    this.unread = 0;
    this.lastTyping = 0;
    this.conv = new Conversation(shopId, 0);
    this.socket = new ChatSocket(() => socketUrl(this.config.ws_domain, { token, type: "user", client, shop_id: shopId }), {
      onFrame: (event, data) => this.onFrame(event, data),
      onOpen: () => this.onOpen(),
      onState: (state, info) => this.onState(state, info),
    });
    this.outbox = new Outbox(this.socket, (cmid) => this.messages.failPending(cmid, () => this.outbox.retry(cmid)));
    this.build();
    // Listening from the start: the loader may say "shown" before history has loaded.
    window.addEventListener("message", (event) => this.onParentMessage(event));
    this.toParent({ type: "kefu-widget:ready" });
  }

  build() {
    this.headAvatar = h("span");
    this.title = h("span", { class: "w-name", text: "在线客服" });
    this.sub = h("span", { class: "w-sub", text: "连接中…" });
    this.banner = h("div", { class: "w-banner", role: "status", hidden: true });
    this.scroller = h("div", { class: "w-messages" });
    this.messages = new MessageList(this.scroller, { base: "", self: "user" }, { onNearTop: () => this.loadOlder().catch(() => {}) });
    this.goodsBar = h("div", { class: "w-goods", hidden: true });
    this.input = h("textarea", { class: "w-input", rows: 1, maxlength: MAX_TEXT, placeholder: "请输入消息…", "aria-label": "输入消息",
      oninput: () => this.typed(), onkeydown: (e) => this.onKey(e) });
    this.fileInput = h("input", { type: "file", accept: "image/jpeg,image/png,image/gif,image/webp", hidden: true, class: "image-input",
      onchange: () => { const file = this.fileInput.files[0]; this.fileInput.value = ""; if (file) this.sendImage(file); } });
    this.emojiBox = h("div", { class: "popover", hidden: true },
      emojiPicker((tok) => { insertAtCaret(this.input, tok); this.emojiBox.hidden = true; }));
    const tool = (cls, label, glyph, onclick) => h("button", { type: "button", class: `tool-btn ${cls}`, title: label, "aria-label": label, onclick },
      icon(glyph, 24));
    this.composer = h("div", { class: "w-composer disabled" }, this.emojiBox,
      tool("emoji-btn", "表情", "smile", () => { this.emojiBox.hidden = !this.emojiBox.hidden; }),
      tool("image-btn", "发送图片", "image", () => this.fileInput.click()), this.fileInput,
      this.input, h("button", { type: "button", class: "btn primary w-send send-btn", text: "发送", onclick: () => this.sendText() }));
    const close = embedded ? h("button", { type: "button", class: "icon-btn w-close", "aria-label": "关闭", text: "×",
      onclick: () => this.toParent({ type: "kefu-widget:close" }) }) : null;
    root.replaceChildren(h("header", { class: "w-head" }, this.headAvatar, h("div", { class: "w-title" }, this.title, this.sub), close),
      this.banner, this.scroller, this.goodsBar, this.composer);
  }

  async start() {
    try {
      this.config = await call("", "/kefuapi/chat/config");
    } catch (exc) {
      return this.fatal(`无法连接客服：${exc.message}`);
    }
    this.base = this.base || this.config.base_domain;
    this.messages.ctx.base = this.base;
    this.headAvatar.replaceChildren(avatar(this.base, "", "客"));
    this.shopLoaded = this.loadShop();
    if (!token) return this.fatal("请先登录后再咨询客服");
    let usable;
    try {
      usable = await envelope("", "/api/index/chatConfig", { params: { shop_id: shopId } });
    } catch (exc) {
      return this.fatal(exc.message);
    }
    if (usable.code !== 1) {
      // Manual mode (no msg), or online mode without any agent: show how else to reach the shop.
      this.setBanner(usable.msg || "本店暂未开通在线客服，请通过以下方式联系我们", "");
      this.sub.textContent = "人工客服";
      return this.showContact();
    }
    try {
      await this.loadOlder();
    } catch (exc) {
      return this.fatal(exc instanceof ApiError && exc.notLoggedIn ? "登录已失效，请重新登录后再咨询" : exc.message);
    }
    this.composer.classList.remove("disabled");
    this.loadMe();
    this.loadGoods();
    this.refreshStatus();
    setInterval(() => this.refreshStatus(), STATUS_EVERY_MS);
    document.addEventListener("visibilitychange", () => { if (!document.hidden) this.markRead(); });
    this.socket.start();
  }

  fatal(text) {
    this.setBanner(text, "error");
    this.sub.textContent = "";
    this.composer.classList.add("disabled");
  }

  setBanner(text, kind) {
    this.banner.textContent = text;
    this.banner.className = `w-banner ${kind || ""}`;
    this.banner.hidden = !text;
  }

  async loadShop() {
    try {
      if (shopId) {
        const data = await call(this.base, "api/setting/getShopCustomerService", { params: { shop_id: shopId } });
        this.contact = data.config;
        this.title.textContent = data.shop?.name || "在线客服";
        this.headAvatar.replaceChildren(avatar(this.base, data.shop?.logo, data.shop?.name || "客"));
      } else {
        this.contact = await call(this.base, "api/setting/getPlatformCustomerService");
        this.title.textContent = this.config.company_name || "平台客服";
      }
    } catch {
      this.title.textContent = shopId ? "店铺客服" : (this.config.company_name || "平台客服");
    }
  }

  async showContact() {
    await this.shopLoaded;
    const c = this.contact || {};
    const item = (label, value) => value ? h("div", { class: "kv" }, h("dt", { text: label }), h("dd", { text: value })) : null;
    const qrUrl = mediaUrl(this.base, c.image);
    const qr = qrUrl ? h("img", { src: qrUrl, alt: "客服二维码", referrerpolicy: "no-referrer" }) : null;
    this.scroller.replaceChildren(h("div", { class: "w-contact" }, h("h2", { text: "联系客服" }),
      h("dl", {}, item("微信", c.wechat), item("电话", c.phone), item("服务时间", c.business_time)), qr));
  }

  /** The next older history page (the first call loads the newest page and the owning agent). */
  async loadOlder() {
    const conv = this.conv;
    if (conv.loading || !conv.more) return;
    conv.loading = true;
    this.messages.setOlder("加载中…");
    try {
      const data = await call("", "/api/user/chatRecord", { token, params: { shop_id: shopId, page_no: conv.nextPage, page_size: PAGE_SIZE } });
      const first = conv.nextPage === 1;
      if (first && data.kefu && !Array.isArray(data.kefu)) this.setKefu(data.kefu);
      conv.nextPage += 1;
      conv.more = data.record.more === 1;
      this.messages.insert(conv.acceptPage(data.record.list));
      if (first) this.messages.scrollToBottom();
      this.messages.setOlder(conv.more ? "" : (conv.records.size ? "" : "您好，有什么可以帮您？"));
    } catch (exc) {
      this.messages.setOlder("");
      if (conv.nextPage === 1) throw exc;
      toast(exc.message, "error");
    } finally {
      conv.loading = false;
    }
    // A first page that does not fill a tall window cannot be scrolled up: keep loading.
    if (conv.more && this.scroller.scrollHeight <= this.scroller.clientHeight) await this.loadOlder();
  }

  async reloadHistory() {
    this.conv.forget();
    this.messages.clear();
    await this.loadOlder().catch((exc) => toast(exc.message, "error"));
  }

  setKefu(kefu) {
    this.kefu = { id: Number(kefu.id), nickname: kefu.nickname || "", avatar: kefu.avatar ?? kefu.avater ?? "" };
    this.renderSub();
  }

  renderSub() {
    if (this.socket.state !== "open") return;
    if (!this.kefuOnline) this.sub.textContent = "客服暂时离线，可留言";
    else this.sub.textContent = this.kefu ? `客服 ${this.kefu.nickname} 为您服务` : "在线";
  }

  async refreshStatus() {
    try {
      const data = await call("", "/widget/status", { params: { shop_id: shopId } });
      this.setKefuOnline(Boolean(data.kefu_online));
    } catch { /* the banner stays as it was */ }
  }

  setKefuOnline(online) {
    this.kefuOnline = online;
    this.setBanner(online ? "" : "当前客服不在线，您可以先留言，客服上线后会第一时间回复您", "");
    this.renderSub();
  }

  async loadMe() {
    try {
      this.me = await call(this.base, "api/user/info", { token });
    } catch { /* only the look of messages still being sent depends on it */ }
  }

  async loadGoods() {
    if (!/^\d+$/.test(goodsId)) return;
    try {
      const goods = await call(this.base, "api/goods/getGoodsDetail", { params: { goods_id: goodsId } });
      if (shopId && Number(goods.shop_id) !== shopId) return;
      const send = h("button", { type: "button", class: "btn primary small send-goods-btn", text: "发送商品",
        onclick: () => { this.post({ msg: String(goods.id), msg_type: 3 }, { goods }); this.goodsBar.hidden = true; } });
      this.goodsBar.replaceChildren(goodsCard(this.base, goods),
        h("div", { class: "w-goods-actions" }, send,
          h("button", { type: "button", class: "link-btn small", text: "不用了", onclick: () => { this.goodsBar.hidden = true; } })));
      this.goodsBar.hidden = false;
    } catch { /* a product that cannot be shown is simply not offered */ }
  }

  // ---------------------------------------------------------------------------- connection

  onOpen() {
    this.socket.send("user_online", { kefu_id: this.kefu ? this.kefu.id : null });
    this.conv.syncing = this.socket.send("sync", this.conv.syncFrame(false));
    this.outbox.flush();
    this.renderSub();
    this.markRead();
    this.refreshStatus();
  }

  onState(state, info) {
    root.dataset.connection = state;   // for people's tools and tests: connecting, open, waiting, ...
    if (state === "open") return;
    this.outbox.pause();
    this.conv.syncing = false;
    if (state === "refused") this.fatal(info.reason || "连接被拒绝");
    else if (state !== "stopped") this.sub.textContent = state === "waiting" ? "网络不稳定，正在重新连接…" : "连接中…";
  }

  onFrame(event, data) {
    switch (event) {
      case "chat": return this.onChat(data);
      case "transfer":
        if (data && data.id) this.setKefu(data);
        return;
      case "read":
        if (data?.reader_type === "kefu" && Number(data.shop_id) === shopId) this.messages.setReadSeq(data.read_seq);
        return;
      case "typing":
        if (data?.from_type === "kefu") this.messages.showTyping("客服正在输入…");
        return;
      case "sync": return this.onSync(data);
      case "resync":
        this.conv.syncing = false;
        this.conv.syncing = this.socket.send("sync", this.conv.syncFrame(false));
        return;
      case "error": toast(data?.msg || "操作失败", "error"); return;
      case "notice": toast(data?.msg || ""); return;
      default: return;
    }
  }

  onChat(rec) {
    // One buyer may have chats with several shops open: this one shows only its own shop's.
    if (!rec || Number(rec.shop_id) !== shopId) return;
    if (rec.client_msg_id && this.outbox.ack(rec.client_msg_id)) this.messages.removePending(rec.client_msg_id);
    const { fresh, gap } = this.conv.accept(rec);
    if (gap && !this.conv.syncing) this.conv.syncing = this.socket.send("sync", this.conv.syncFrame(false));
    if (!fresh) return;
    this.messages.insert([rec], { live: true });
    if (!this.conv.more) this.messages.setOlder("");   // the greeting of an empty chat
    if (rec.from_type === "kefu") {
      this.messages.hideTyping();
      if (Number(rec.type) !== 2) {
        this.setKefu({ id: rec.from_id, nickname: rec.from_nickname, avatar: rec.from_avatar });
        if (!this.kefuOnline) this.setKefuOnline(true);   // an answer: someone is there now
      }
      if (this.looking()) this.markRead();
      else this.setUnread(this.unread + 1);
    }
  }

  onSync(data) {
    this.conv.syncing = false;
    if (Number(data?.shop_id) !== shopId) return;
    if (data.recovered) this.conv.synced(data.last_seq);
    else this.reloadHistory();
  }

  onParentMessage(event) {
    if (!embedded || event.source !== window.parent) return;
    const msg = event.data;
    if (!msg || msg.type !== "kefu-widget:shown") return;
    this.shown = Boolean(msg.shown);
    if (this.shown) {
      this.markRead();
      this.messages.scrollToBottom();
      this.input.focus({ preventScroll: true });
    }
  }

  looking() {
    return this.shown && !document.hidden;
  }

  markRead() {
    if (!this.looking()) return;
    this.setUnread(0);
    if (this.socket.isOpen && this.conv.records.size) this.socket.send("read", { shop_id: shopId });
  }

  setUnread(count) {
    this.unread = count;
    this.toParent({ type: "kefu-widget:unread", count });
  }

  toParent(message) {
    // Only a close request and a count: nothing private goes to the host page.
    if (embedded) window.parent.postMessage(message, "*");
  }

  // --------------------------------------------------------------------------------- sending

  onKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.sendText();
    }
  }

  typed() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 110)}px`;
    const now = Date.now();
    if (this.input.value && now - this.lastTyping > TYPING_EVERY_MS) {
      this.lastTyping = now;
      // The server forwards a buyer's typing to the conversation's owner, whatever to_id says.
      this.socket.send("typing", { to_id: this.kefu ? this.kefu.id : 0, to_type: "kefu" });
    }
  }

  sendText() {
    const text = this.input.value;
    if (!text.trim()) return;
    if (text.length > MAX_TEXT) {
      toast(`消息不能超过 ${MAX_TEXT} 个字`, "error");
      return;
    }
    this.post({ msg: text, msg_type: 1 });
    this.input.value = "";
    this.typed();
    this.emojiBox.hidden = true;
  }

  async sendImage(file) {
    try {
      const path = await pickAndUpload(file, { base: this.base, path: "api/file/formimage", token });
      if (path) this.post({ msg: path, msg_type: 2 });
    } catch (exc) {
      toast(exc.message, "error");
    }
  }

  post(draft, { goods } = {}) {
    const cmid = this.outbox.send({ ...draft, to_id: this.kefu ? this.kefu.id : 0, to_type: "kefu" });
    this.messages.addPending(cmid, { ...draft, goods: goods ? { id: goods.id, name: goods.name, image: goods.image, min_price: goods.min_price } : [],
      type: 1, from_type: "user", from_nickname: this.me?.nickname || "", from_avatar: this.me?.avatar || "", create_time: "" });
  }
}

new Widget().start();
