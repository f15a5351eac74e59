// HTTP calls to the chat server and the commerce API. Both answer HTTP 200 with the likeshop
// envelope {code, show, msg, data}: code 1 success, 0 a business error (msg says why, for people),
// -1 not logged in. `call` returns `data` or throws ApiError with that code and msg.

export class ApiError extends Error {
  constructor(msg, code = 0) {
    super(msg || "请求失败");
    this.code = code;
  }

  get notLoggedIn() {
    return this.code === -1;
  }
}

/** The whole envelope. `base` is "" (this server) or an absolute base URL ending in "/". */
export async function envelope(base, path, { method = "GET", token, params, body, form, timeout = 15000 } = {}) {
  const url = new URL(joinUrl(base, path), location.href);
  for (const [key, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const headers = {};
  if (token) headers.token = token;
  let payload;
  if (form) {
    payload = form;   // FormData: the browser sets the multipart boundary
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeout);
  let response;
  try {
    response = await fetch(url, { method, headers, body: payload, signal: controller.signal, credentials: "omit" });
  } catch {
    throw new ApiError("网络连接失败，请稍后再试");
  } finally {
    clearTimeout(timer);
  }
  let json;
  try {
    json = await response.json();
  } catch {
    throw new ApiError(`服务器错误 (HTTP ${response.status})`);
  }
  if (!json || typeof json.code !== "number") throw new ApiError("服务器返回格式错误");
  return json;
}

export async function call(base, path, options) {
  const json = await envelope(base, path, options);
  if (json.code !== 1) throw new ApiError(json.msg, json.code);
  return json.data;
}

export function joinUrl(base, path) {
  if (!base) return path;
  return base.replace(/\/+$/, "") + "/" + String(path).replace(/^\/+/, "");
}

/** The WebSocket address: `ws_domain` (the server listens on "/" and "/ws") plus the likeshop query string. */
export function socketUrl(wsDomain, query) {
  const base = new URL(wsDomain || location.origin.replace(/^http/, "ws"), location.href);
  if (base.protocol === "http:") base.protocol = "ws:";
  if (base.protocol === "https:") base.protocol = "wss:";
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) base.searchParams.set(key, value);
  }
  return base.toString();
}
