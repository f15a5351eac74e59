// Choosing who takes a conversation over: the other online agents of the shop.
import { call } from "/common/api.js";
import { h, modal } from "/common/dom.js";
import { avatar } from "/common/media.js";

/** Resolves with the chosen colleague {id, nickname}, or null. */
export function chooseColleague({ base, token, buyerName }) {
  return new Promise((resolve) => {
    const list = h("div", { class: "colleague-list" }, h("p", { class: "muted", text: "正在获取在线客服…" }));
    let chosen = null;
    const dialog = modal(`转接 ${buyerName}`, list, [{ text: "取消", onclick: (close) => close() }],
      { onClose: () => resolve(chosen) });
    call("", "/kefuapi/chat/online", { token }).then((colleagues) => {
      if (!colleagues.length) {
        list.replaceChildren(h("p", { class: "muted", text: "暂无其他在线客服" }));
        return;
      }
      list.replaceChildren(...colleagues.map((kefu) => h("button", { type: "button", class: "colleague", dataset: { kefuId: kefu.id },
        onclick: () => { chosen = kefu; dialog.close(); } },
      avatar(base, kefu.avatar, kefu.nickname), h("span", { text: kefu.nickname }), h("span", { class: "online-dot online" }))));
    }, (exc) => list.replaceChildren(h("p", { class: "form-error", text: exc.message })));
  });
}
