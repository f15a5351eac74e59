// The open conversation: its header (buyer, presence, transfer), the messages with history paged
// in on scroll-up, and the composer (text with emoji, images, quick replies, typing signals).
import { call } from "/common/api.js";
import { h } from "/common/dom.js";
import { emojiPicker, insertAtCaret } from "/common/emoji.js";
import { icon } from "/common/icons.js";
import { avatar } from "/common/media.js";
import { MessageList } from "/common/messages.js";
import { pickAndUpload } from "/common/upload.js";
import { QuickReplies } from "./quick-replies.js";

const PAGE_SIZE = 20;
const MAX_TEXT = 2000;
const TYPING_EVERY_MS = 2000;

export class ChatPane {
  /**
   * send(userId, {msg, msg_type}) → cmid; sendTyping(userId); transfer(userId); retry(cmid).
   */
  constructor({ base, token, kefu, send, sendTyping, transfer, retry, toastError }) {
    Object.assign(this, { base, token, kefu, send, sendTyping, transfer, retry, toastError });
    this.row = null;
    this.conv = null;
    this.lastTyping = 0;
    this.empty = h("div", { class: "pane-empty" }, h("div", { class: "pane-empty-icon", "aria-hidden": "true", text: "💬" }),
      h("p", { text: "选择左侧的会话开始接待" }));
    this.headAvatar = h("span");
    this.headName = h("span", { class: "pane-name" });
    this.headStatus = h("span", { class: "pane-status" });
    this.transferBtn = h("button", { class: "btn small transfer-btn", type: "button", text: "转接",
      onclick: () => this.row && this.transfer(Number(this.row.user_id)) });
    this.scroller = h("div", { class: "pane-messages" });
    this.messages = new MessageList(this.scroller, { base, self: "kefu" }, { onNearTop: () => this.loadOlder() });
    this.input = h("textarea", { class: "composer-input", rows: 3, maxlength: MAX_TEXT, placeholder: "输入消息，Enter 发送，Shift+Enter 换行",
      "aria-label": "输入消息", oninput: () => this.typed(), onkeydown: (e) => this.onKey(e), onpaste: (e) => this.onPaste(e) });
    this.fileInput = h("input", { type: "file", accept: "image/jpeg,image/png,image/gif,image/webp", hidden: true, class: "image-input",
      onchange: () => { const file = this.fileInput.files[0]; this.fileInput.value = ""; if (file) this.sendImage(file); } });
    this.emojiBox = h("div", { class: "popover emoji-popover", hidden: true },
      emojiPicker((token) => { insertAtCaret(this.input, token); this.emojiBox.hidden = true; }));
    this.replies = new QuickReplies({ token, onPick: (text) => insertAtCaret(this.input, text) });
    const tool = (cls, label, glyph, onclick) => h("button", { class: `tool-btn ${cls}`, type: "button", title: label, "aria-label": label, onclick },
      icon(glyph));
    this.composer = h("div", { class: "composer" },
      h("div", { class: "composer-tools" },
        tool("emoji-btn", "表情", "smile", () => { this.replies.hide(); this.emojiBox.hidden = !this.emojiBox.hidden; }),
        tool("image-btn", "发送图片", "image", () => this.fileInput.click()),
        tool("reply-btn", "快捷回复", "bolt", () => { this.emojiBox.hidden = true; this.replies.toggle(); }),
        this.fileInput),
      this.emojiBox, this.replies.el, this.input,
      h("div", { class: "composer-foot" }, h("span", { class: "muted small", text: "买家会实时收到消息；离线买家上线后可见" }),
        h("button", { class: "btn primary send-btn", type: "button", text: "发送", onclick: () => this.sendText() })));
    this.body = h("div", { class: "pane-body", hidden: true },
      h("div", { class: "pane-head" }, this.headAvatar, h("div", { class: "pane-title" }, this.headName, this.headStatus), this.transferBtn),
      this.scroller, this.composer);
    this.el = h("section", { class: "chat-pane" }, this.empty, this.body);
  }

  get userId() {
    return this.row ? Number(this.row.user_id) : null;
  }

  async open(row, conv, pendingDrafts) {
    this.row = row;
    this.conv = conv;
    this.empty.hidden = true;
    this.body.hidden = false;
    this.updateHead(row);
    this.messages.clear();
    this.messages.readSeq = conv.peerReadSeq;
    this.input.value = "";
    this.emojiBox.hidden = true;
    this.replies.hide();
    const known = Array.from(conv.records.values());
    if (known.length) this.messages.insert(known);
    for (const [cmid, draft] of pendingDrafts) this.messages.addPending(cmid, draft);
    this.messages.scrollToBottom();
    if (!known.length) await this.loadOlder();
    this.input.focus();
  }

  close() {
    this.row = null;
    this.conv = null;
    this.empty.hidden = false;
    this.body.hidden = true;
  }

  updateHead(row) {
    this.row = { ...this.row, ...row };
    this.headAvatar.replaceChildren(avatar(this.base, this.row.avatar, this.row.nickname));
    this.headName.textContent = this.row.nickname || `买家${this.row.user_id}`;
    this.headStatus.textContent = Number(this.row.online) ? "在线" : "离线";
    this.headStatus.classList.toggle("online", Boolean(Number(this.row.online)));
  }

  /** The next older history page (the newest first, then further back on scroll-up). */
  async loadOlder() {
    const conv = this.conv;
    if (!conv || conv.loading || !conv.more) return;
    conv.loading = true;
    this.messages.setOlder("加载中…");
    try {
      const data = await call("", "/kefuapi/chat/record", { token: this.token,
        params: { user_id: conv.userId, page_no: conv.nextPage, page_size: PAGE_SIZE } });
      const first = conv.nextPage === 1;
      conv.nextPage += 1;
      conv.more = data.more === 1;
      const fresh = conv.acceptPage(data.list);
      if (this.conv === conv) {
        this.messages.insert(fresh);
        if (first) this.messages.scrollToBottom();
        this.messages.setOlder(conv.more ? "" : (conv.records.size ? "没有更多消息了" : "还没有消息"));
      }
    } catch (exc) {
      if (this.conv === conv) this.messages.setOlder(exc.message);
    } finally {
      conv.loading = false;
    }
    // A short first page may not fill the pane: keep going until it scrolls or history ends.
    if (this.conv === conv && conv.more && this.scroller.scrollHeight <= this.scroller.clientHeight) this.loadOlder();
  }

  /** History again from the first page (after `sync` answered recovered:false). */
  async reload() {
    if (!this.conv) return;
    this.messages.clear();
    await this.loadOlder();
  }

  onKey(event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      this.sendText();
    }
  }

  onPaste(event) {
    const file = Array.from(event.clipboardData?.files || []).find((f) => f.type.startsWith("image/"));
    if (file) {
      event.preventDefault();
      this.sendImage(file);
    }
  }

  typed() {
    const now = Date.now();
    if (this.row && this.input.value && now - this.lastTyping > TYPING_EVERY_MS) {
      this.lastTyping = now;
      this.sendTyping(this.userId);
    }
  }

  sendText() {
    const text = this.input.value;
    if (!this.row || !text.trim()) return;
    if (text.length > MAX_TEXT) {
      this.toastError(`消息不能超过 ${MAX_TEXT} 个字`);
      return;
    }
    this.post({ msg: text, msg_type: 1 });
    this.input.value = "";
    this.input.focus();
  }

  async sendImage(file) {
    const userId = this.userId;
    if (userId === null) return;
    try {
      const path = await pickAndUpload(file, { base: "", path: "/kefuapi/file/formImage", token: this.token });
      if (path && this.userId === userId) this.post({ msg: path, msg_type: 2 });
    } catch (exc) {
      this.toastError(exc.message);
    }
  }

  post(draft) {
    const cmid = this.send(this.userId, draft);
    this.messages.addPending(cmid, this.draftRecord(draft));
  }

  draftRecord(draft) {
    return { ...draft, type: 1, from_type: "kefu", from_nickname: this.kefu.nickname, from_avatar: this.kefu.avatar,
      create_time: "" };
  }

  showRecords(records) {
    this.messages.insert(records, { live: true });
  }

  acked(cmid) {
    this.messages.removePending(cmid);
  }

  failed(cmid) {
    this.messages.failPending(cmid, () => this.retry(cmid));
  }
}
