// Images: URLs built only from the shapes the servers hand out (relative upload paths prefixed
// with `base_domain`, or http(s) URLs), client-side checks before an upload, avatars.
import { h } from "./dom.js";

export const MAX_UPLOAD_BYTES = 5 * 1024 * 1024;   // the servers' default UPLOAD_MAX_BYTES
export const IMAGE_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp"];
const RELATIVE_PATH = /^\/?[A-Za-z0-9_\-]+(\/[A-Za-z0-9_\-.]+)*\.[A-Za-z0-9]+$/;

/** An absolute http(s) URL for a media path, or "" when the value is not one we trust. */
export function mediaUrl(base, path) {
  const value = String(path || "").trim();
  if (!value) return "";
  if (/^https?:\/\//i.test(value)) return value;
  if (!RELATIVE_PATH.test(value) || value.includes("..")) return "";
  return String(base || "/").replace(/\/+$/, "") + "/" + value.replace(/^\//, "");
}

/** Why this file cannot be sent, or null: type and size are checked before anything is uploaded. */
export function imageProblem(file, maxBytes = MAX_UPLOAD_BYTES) {
  if (!file) return "请选择图片";
  if (!IMAGE_TYPES.includes(file.type)) return "只能发送 jpg、png、gif、webp 图片";
  if (file.size > maxBytes) return `图片不能超过 ${Math.floor(maxBytes / 1024 / 1024)} MB`;
  if (file.size === 0) return "图片是空的";
  return null;
}

/** A round avatar: the image when there is one, else the first character of the name. */
export function avatar(base, path, name, extraClass = "") {
  const initial = h("span", { class: "avatar-initial", text: Array.from(String(name || "?"))[0] || "?" });
  const box = h("span", { class: `avatar ${extraClass}`.trim(), "aria-hidden": "true" }, initial);
  const url = mediaUrl(base, path);
  if (url) {
    const img = h("img", { src: url, alt: "", loading: "lazy", referrerpolicy: "no-referrer" });
    img.addEventListener("error", () => img.remove());
    box.append(img);
  }
  return box;
}

/** A full-size view of an image over the page. */
export function lightbox(url) {
  const overlay = h("div", { class: "lightbox", role: "dialog", "aria-label": "查看图片", onclick: () => overlay.remove() },
    h("img", { src: url, alt: "" }));
  document.body.append(overlay);
}
