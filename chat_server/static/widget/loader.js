/*
 * The buyer chat widget for any shop page, served as /widget.js:
 *
 *   <script src="https://chat.example.com/widget.js" data-shop-id="1" data-token="BUYER_TOKEN"
 *           data-goods-id="3" async></script>
 *
 * data-shop-id   the shop to talk to (0 or absent: the platform's customer service)
 * data-token     the buyer's login token (POST /api/account/login on the commerce API)
 * data-goods-id  optional: a product page offers to send this product as a card
 * data-client    optional: the buyer's terminal, default 6 (H5)
 * data-base      optional: the commerce API's base URL (default: the chat server's base_domain)
 * data-open      optional: "1" opens the chat at once
 *
 * It adds a round launcher button and, on the first click, an iframe of /widget/ with the same
 * parameters (full screen on phones). Host pages may call KefuWidget.open(), .close(), .toggle().
 * Classic script, no dependencies, styles set through the DOM: it works under a strict host CSP.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.KefuWidget) return;
  var data = script.dataset;
  var origin = new URL(script.src, location.href).origin;
  var params = new URLSearchParams();
  params.set("shop_id", data.shopId || "0");
  if (data.goodsId) params.set("goods_id", data.goodsId);
  if (data.client) params.set("client", data.client);
  if (data.base) params.set("base", data.base);
  // The token rides in the #fragment: it never reaches a server log or a Referer header.
  var src = origin + "/widget/?" + params.toString() + (data.token ? "#token=" + encodeURIComponent(data.token) : "");
  var phone = window.matchMedia("(max-width: 520px)");
  var frame = null;
  var isOpen = false;

  function css(el, styles) {
    for (var key in styles) el.style[key] = styles[key];
    return el;
  }

  var launcher = css(document.createElement("button"), {
    position: "fixed", right: "20px", bottom: "20px", width: "58px", height: "58px", borderRadius: "50%",
    border: "0", background: "#2563eb", color: "#fff", cursor: "pointer", zIndex: "2147483000", padding: "0",
    boxShadow: "0 8px 24px rgba(37,99,235,.45)", display: "flex", alignItems: "center", justifyContent: "center"
  });
  launcher.type = "button";
  launcher.className = "kefu-widget-launcher";
  launcher.setAttribute("aria-label", "在线客服");
  launcher.title = "在线客服";
  var svgNs = "http://www.w3.org/2000/svg";
  var icon = document.createElementNS(svgNs, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("width", "28");
  icon.setAttribute("height", "28");
  icon.setAttribute("aria-hidden", "true");
  var path = document.createElementNS(svgNs, "path");
  path.setAttribute("fill", "currentColor");
  path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 7a1.25 1.25 0 1 0 0-2.5A1.25 1.25 0 0 0 7 11zm5 0a1.25 1.25 0 1 0 0-2.5A1.25 1.25 0 0 0 12 11zm5 0a1.25 1.25 0 1 0 0-2.5A1.25 1.25 0 0 0 17 11z");
  icon.appendChild(path);
  launcher.appendChild(icon);
  var badge = css(document.createElement("span"), {
    position: "absolute", top: "-2px", right: "-2px", minWidth: "20px", height: "20px", padding: "0 5px",
    borderRadius: "10px", background: "#dc2626", color: "#fff", font: "600 12px/20px sans-serif", display: "none"
  });
  badge.className = "kefu-widget-badge";
  launcher.appendChild(badge);

  var box = css(document.createElement("div"), {
    position: "fixed", zIndex: "2147483001", display: "none", overflow: "hidden", background: "#fff"
  });
  box.className = "kefu-widget-box";

  function layout() {
    if (phone.matches) {
      css(box, { left: "0", top: "0", right: "0", bottom: "0", width: "100%", height: "100%", borderRadius: "0", boxShadow: "none" });
    } else {
      css(box, { left: "auto", top: "auto", right: "20px", bottom: "90px", width: "380px", height: "min(640px, calc(100vh - 110px))",
        borderRadius: "14px", boxShadow: "0 16px 48px rgba(15,23,42,.28)" });
    }
    launcher.style.display = isOpen && phone.matches ? "none" : "flex";
  }

  function tellFrame(shown) {
    if (frame && frame.contentWindow) frame.contentWindow.postMessage({ type: "kefu-widget:shown", shown: shown }, origin);
  }

  function open() {
    if (!frame) {
      frame = css(document.createElement("iframe"), { width: "100%", height: "100%", border: "0", display: "block" });
      frame.className = "kefu-widget-frame";
      frame.title = "在线客服";
      frame.src = src;
      frame.addEventListener("load", function () { tellFrame(isOpen); });
      box.appendChild(frame);
    }
    isOpen = true;
    box.style.display = "block";
    layout();
    tellFrame(true);
  }

  function close() {
    isOpen = false;
    box.style.display = "none";
    layout();
    tellFrame(false);
  }

  window.addEventListener("message", function (event) {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) return;
    var msg = event.data || {};
    if (msg.type === "kefu-widget:close") close();
    if (msg.type === "kefu-widget:ready") tellFrame(isOpen);
    if (msg.type === "kefu-widget:unread") {
      var count = Number(msg.count) || 0;
      badge.textContent = count > 99 ? "99+" : String(count);
      badge.style.display = count > 0 ? "block" : "none";
    }
  });
  launcher.addEventListener("click", function () { if (isOpen) close(); else open(); });
  if (phone.addEventListener) phone.addEventListener("change", layout);

  function mount() {
    document.body.appendChild(box);
    document.body.appendChild(launcher);
    layout();
    if (data.open === "1" || data.open === "true") open();
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.KefuWidget = { open: open, close: close, toggle: function () { if (isOpen) close(); else open(); } };
})();
