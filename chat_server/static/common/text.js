// Text from the server, made safe to show: text messages arrive HTML-escaped (the server escapes
// them for the original likeshop console, which renders `msg` as HTML). Decode those entities once,
// then put the result in text nodes: `<script>` from a buyer shows as `<script>`, and runs nowhere.
import { EMOJI, EMOJI_TOKEN } from "./emoji.js";
import { h } from "./dom.js";

const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#x27;": "'", "&#39;": "'",
  "&#x2f;": "/", "&#47;": "/" };
const ENTITY_RE = /&(?:amp|lt|gt|quot|#x27|#39|#x2f|#47);/gi;

/** One pass, so "&amp;lt;" becomes the literal "&lt;" and is never decoded twice. */
export function decodeEntities(text) {
  return String(text ?? "").replace(ENTITY_RE, (m) => ENTITIES[m.toLowerCase()]);
}

/** Text with `[em-<name>]` tokens as nodes: text nodes, and spans holding the emoji character. */
export function richText(text) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(EMOJI_TOKEN)) {
    const char = EMOJI[match[1]];
    if (!char) continue;   // an unknown token stays literal text
    if (match.index > last) out.push(document.createTextNode(text.slice(last, match.index)));
    out.push(h("span", { class: "emoji", title: match[1], text: char }));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

/** Emoji tokens replaced by their characters, for one-line previews and titles. */
export function plainEmoji(text) {
  return text.replace(EMOJI_TOKEN, (token, name) => EMOJI[name] || token);
}

/** The one-line preview of a message or conversation row (`msg`, `msg_type`). */
export function preview(msg, msgType) {
  const type = Number(msgType);
  if (type === 2) return "[图片]";
  if (type === 3) {
    const goods = parseGoods(msg);
    return goods && goods.name ? `[商品] ${goods.name}` : "[商品]";
  }
  return plainEmoji(decodeEntities(msg)).replace(/\s+/g, " ").trim();
}

export function parseGoods(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) return value;
  if (typeof value !== "string") return null;
  try {
    const parsed = JSON.parse(value);
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** "YYYY-MM-DD HH:MM:SS" → "HH:MM" today, else "MM-DD HH:MM" (or "YYYY-MM-DD" in another year). */
export function shortTime(stamp) {
  const m = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})/.exec(String(stamp || ""));
  if (!m) return "";
  const now = new Date();
  const today = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, "0")}-${String(now.getDate()).padStart(2, "0")}`;
  if (`${m[1]}-${m[2]}-${m[3]}` === today) return `${m[4]}:${m[5]}`;
  if (Number(m[1]) === now.getFullYear()) return `${m[2]}-${m[3]} ${m[4]}:${m[5]}`;
  return `${m[1]}-${m[2]}-${m[3]}`;
}
