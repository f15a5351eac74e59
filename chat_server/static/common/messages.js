// Messages on screen, shared by the console and the widget: one record → one element (text with
// emoji, image, goods card, or a centred notice), and the scrolling list that keeps them in `seq`
// order, holds the sends still in flight, shows read receipts and the peer's typing.
import { h } from "./dom.js";
import { avatar, lightbox, mediaUrl } from "./media.js";
import { decodeEntities, parseGoods, richText, shortTime } from "./text.js";

const TEXT = 1, IMAGE = 2, GOODS = 3, NOTICE = 2;

/** ctx: {base: the media base URL, self: "kefu" | "user" (whose messages are on the right)} */
export function renderRecord(rec, ctx) {
  if (Number(rec.type) === NOTICE) {
    return h("div", { class: "msg-notice", dataset: { id: rec.id, seq: rec.seq } },
      h("span", { text: decodeEntities(rec.msg) }));
  }
  const mine = rec.from_type === ctx.self;
  return h("div", { class: `msg ${mine ? "mine" : "theirs"}`, dataset: { id: rec.id ?? "", seq: rec.seq ?? "", read: rec.is_read ? "1" : "0" } },
    avatar(ctx.base, rec.from_avatar, rec.from_nickname),
    h("div", { class: "msg-main" },
      h("div", { class: "msg-meta" },
        h("span", { class: "msg-name", text: rec.from_nickname || "" }),
        h("span", { class: "msg-time", text: shortTime(rec.create_time) })),
      messageBody(rec, ctx),
      mine ? h("div", { class: "msg-receipt" }) : null));
}

function messageBody(rec, ctx) {
  const type = Number(rec.msg_type);
  if (type === IMAGE) {
    const url = mediaUrl(ctx.base, rec.msg);
    if (url) {
      const img = h("img", { class: "msg-image", src: url, alt: "图片", loading: "lazy", referrerpolicy: "no-referrer",
        onclick: () => lightbox(url) });
      return h("div", { class: "bubble bubble-image" }, img);
    }
    return h("div", { class: "bubble", text: "[图片]" });
  }
  if (type === GOODS) {
    const goods = parseGoods(rec.goods) || parseGoods(rec.msg);
    return goods ? goodsCard(ctx.base, goods) : h("div", { class: "bubble", text: "[商品]" });
  }
  return h("div", { class: "bubble" }, richText(decodeEntities(type === TEXT ? rec.msg : String(rec.msg ?? ""))));
}

/** {id, name, image, min_price} as a small product card. */
export function goodsCard(base, goods, ...extra) {
  const url = mediaUrl(base, goods.image);
  return h("div", { class: "goods-card", dataset: { goodsId: goods.id ?? "" } },
    url ? h("img", { src: url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" }) : h("div", { class: "goods-noimg" }),
    h("div", { class: "goods-info" },
      h("div", { class: "goods-name", text: goods.name || "" }),
      h("div", { class: "goods-price", text: goods.min_price !== undefined ? `¥${goods.min_price}` : "" }),
      extra));
}

export class MessageList {
  /** root: the scrolling element; ctx as for renderRecord; onNearTop(): load older history. */
  constructor(root, ctx, { onNearTop } = {}) {
    this.root = root;
    this.ctx = ctx;
    this.readSeq = null;
    this.older = h("div", { class: "msg-older" });
    this.items = h("div", { class: "msg-items" });
    this.pending = h("div", { class: "msg-items msg-pending" });
    this.typing = h("div", { class: "msg-typing", hidden: true });
    this.typingTimer = 0;
    root.classList.add("msg-list");
    root.replaceChildren(this.older, this.items, this.pending, this.typing);
    root.addEventListener("scroll", () => {
      if (root.scrollTop < 80 && onNearTop) onNearTop();
    }, { passive: true });
  }

  clear() {
    this.items.replaceChildren();
    this.pending.replaceChildren();
    this.readSeq = null;
    this.setOlder("");
    this.hideTyping();
  }

  setOlder(text) {
    this.older.textContent = text;
  }

  /** Put records (any order, already deduplicated) in place by seq. `live`: arrived over the socket. */
  insert(records, { live = false } = {}) {
    if (!records.length) return;
    const stick = this.nearBottom();
    const heightBefore = this.root.scrollHeight;
    const topBefore = this.root.scrollTop;
    let appendedOnly = true;
    for (const rec of records) {
      const el = renderRecord(rec, this.ctx);
      if (live) el.dataset.live = "1";
      const seq = Number(rec.seq) || 0;
      let after = this.items.lastElementChild;
      while (after && Number(after.dataset.seq) > seq) after = after.previousElementSibling;
      if (after) after.after(el); else this.items.prepend(el);
      if (el.nextElementSibling) appendedOnly = false;
      this.updateReceipt(el);
      for (const img of el.querySelectorAll("img.msg-image")) {
        img.addEventListener("load", () => { if (stick) this.scrollToBottom(); }, { once: true });
      }
    }
    if (appendedOnly && stick) this.scrollToBottom();
    else if (!appendedOnly) this.root.scrollTop = topBefore + (this.root.scrollHeight - heightBefore);
  }

  /** A send waiting for its echo, shown at the end. */
  addPending(cmid, draft) {
    const el = renderRecord({ ...draft, id: "", seq: "" }, this.ctx);
    el.classList.add("pending");
    el.dataset.cmid = cmid;
    const receipt = el.querySelector(".msg-receipt");
    if (receipt) receipt.textContent = "发送中…";
    this.pending.append(el);
    this.scrollToBottom();
  }

  removePending(cmid) {
    this.pendingEl(cmid)?.remove();
  }

  failPending(cmid, onRetry) {
    const el = this.pendingEl(cmid);
    const receipt = el?.querySelector(".msg-receipt");
    if (!receipt) return;
    el.classList.add("failed");
    receipt.replaceChildren(h("button", { type: "button", class: "link-btn", text: "发送失败，点击重试",
      onclick: () => { el.classList.remove("failed"); receipt.textContent = "发送中…"; onRetry(); } }));
  }

  pendingEl(cmid) {
    return Array.from(this.pending.children).find((el) => el.dataset.cmid === cmid);
  }

  /** The peer has read up to `seq`. */
  setReadSeq(seq) {
    this.readSeq = Number(seq);
    for (const el of this.items.querySelectorAll(".msg.mine")) this.updateReceipt(el);
  }

  updateReceipt(el) {
    const receipt = el.querySelector(".msg-receipt");
    if (!receipt) return;
    const read = el.dataset.read === "1" || (this.readSeq !== null && Number(el.dataset.seq) <= this.readSeq);
    receipt.textContent = read ? "已读" : (el.dataset.live || this.readSeq !== null ? "未读" : "");
    receipt.classList.toggle("is-read", read);
  }

  showTyping(text) {
    this.typing.textContent = text;
    const stick = this.nearBottom();
    this.typing.hidden = false;
    if (stick) this.scrollToBottom();
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), 4000);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typing.hidden = true;
  }

  nearBottom() {
    const r = this.root;
    return r.scrollHeight - r.scrollTop - r.clientHeight < 120;
  }

  scrollToBottom() {
    this.root.scrollTop = this.root.scrollHeight;
  }
}
