// Sending an image: check it in the browser (type, size), show a preview to confirm, upload it
// (multipart `file`, the `token` header), and hand back the relative path a chat message carries.
import { call } from "./api.js";
import { h, modal } from "./dom.js";
import { imageProblem } from "./media.js";

/** Resolves true when the person confirms sending `file` (a preview is shown first). */
export function confirmImage(file) {
  return new Promise((resolve) => {
    const url = URL.createObjectURL(file);
    let confirmed = false;
    const body = h("div", { class: "image-preview" },
      h("img", { src: url, alt: "待发送的图片" }),
      h("div", { class: "image-preview-info", text: `${file.name || "图片"} · ${formatSize(file.size)}` }));
    modal("发送图片", body, [
      { text: "取消", onclick: (close) => close() },
      { text: "发送", kind: "primary send-image-btn", onclick: (close) => { confirmed = true; close(); } },
    ], { onClose: () => { URL.revokeObjectURL(url); resolve(confirmed); } });
  });
}

/** Checks, confirms and uploads; the uploaded file's relative path, or null (cancelled). Throws ApiError. */
export async function pickAndUpload(file, { base, path, token, maxBytes }) {
  const problem = imageProblem(file, maxBytes);
  if (problem) throw new Error(problem);
  if (!(await confirmImage(file))) return null;
  const form = new FormData();
  form.append("file", file, file.name || "image");
  const data = await call(base, path, { method: "POST", token, form, timeout: 60000 });
  return data.base_uri;
}

function formatSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
