// The chat protocol's connection (spec §2, §3.5, close codes in the README): open the WebSocket with
// the likeshop query string, keep it alive (ping after 10 s of silence, drop it when 10 more pass
// without a frame), and reconnect with a growing, jittered delay unless the server said not to
// (bad token, forbidden, replaced by a newer login, policy). Frames are handed on as {event, data}.

export const CLOSE_REASONS = {
  4001: "登录已失效，请重新登录",
  4003: "无权连接",
  4004: "已在其他地方登录",
  1008: "消息格式错误",
  1009: "消息过大",
};
const NO_RECONNECT = new Set(Object.keys(CLOSE_REASONS).map(Number));
const RATE_LIMITED = 4008;
const SILENCE_MS = 10000;
const ANSWER_MS = 10000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 10000;

export class ChatSocket {
  /**
   * url: () => string, the address with the query string (asked at every attempt).
   * onFrame(event, data), onOpen() after the server's `login` frame, onState(state, info):
   * state is "connecting", "open", "waiting" (a retry is scheduled, info.delay ms),
   * "stopped" (stop() was called) or "refused" (info.code, info.reason: no automatic retry).
   */
  constructor(url, { onFrame, onOpen, onState } = {}) {
    this.url = url;
    this.onFrame = onFrame || (() => {});
    this.onOpen = onOpen || (() => {});
    this.onState = onState || (() => {});
    this.ws = null;
    this.wanted = false;
    this.attempt = 0;
    this.state = "stopped";
    this.lastError = "";
    this.timers = { retry: 0, silence: 0, answer: 0 };
    window.addEventListener("online", () => this.reconnectNow());
  }

  get isOpen() {
    return this.state === "open";
  }

  start() {
    this.wanted = true;
    this.attempt = 0;
    if (!this.ws) this.connect();
  }

  /** Disconnect on purpose (the agent went offline, or logged out): no reconnect. */
  stop() {
    this.wanted = false;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      detach(ws);
      try { ws.close(1000, "bye"); } catch { /* already closing */ }
    }
    this.setState("stopped");
  }

  /** While a retry is scheduled: try at once (the network came back, the page became visible). */
  reconnectNow() {
    if (this.wanted && this.state === "waiting") this.connect();
  }

  send(event, data) {
    if (!this.ws || this.state !== "open") return false;
    try {
      this.ws.send(JSON.stringify(data === undefined ? { event } : { event, data }));
      return true;
    } catch {
      return false;
    }
  }

  connect() {
    this.clearTimers();
    this.setState("connecting");
    let ws;
    try {
      ws = new WebSocket(this.url());
    } catch {
      this.closed(1006);
      return;
    }
    this.ws = ws;
    ws.onmessage = (event) => {
      if (ws !== this.ws) return;
      this.heard();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!frame || typeof frame.event !== "string") return;
      if (frame.event === "login") {
        this.attempt = 0;
        this.lastError = "";
        this.setState("open");
        this.onOpen();
        return;
      }
      if (frame.event === "error" && this.state !== "open") this.lastError = frame.data?.msg || "";
      if (frame.event === "ping") return;
      this.onFrame(frame.event, frame.data);
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) return;
      this.ws = null;
      this.closed(event.code, event.reason);
    };
    this.heard();
  }

  closed(code, reason = "") {
    this.clearTimers();
    if (!this.wanted) {
      this.setState("stopped");
      return;
    }
    if (NO_RECONNECT.has(code)) {
      this.wanted = false;
      this.setState("refused", { code, reason: this.lastError || CLOSE_REASONS[code] || reason });
      return;
    }
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.attempt);
    const delay = Math.max(code === RATE_LIMITED ? 5000 : 0, Math.round(base * (0.75 + Math.random() * 0.5)));
    this.attempt += 1;
    this.timers.retry = setTimeout(() => this.connect(), delay);
    this.setState("waiting", { code, delay });
  }

  /** Any frame proves the connection alive; silence gets a ping, and an unanswered ping a reconnect. */
  heard() {
    clearTimeout(this.timers.silence);
    clearTimeout(this.timers.answer);
    this.timers.silence = setTimeout(() => {
      this.send("ping");
      this.timers.answer = setTimeout(() => this.drop(), ANSWER_MS);
    }, SILENCE_MS);
  }

  /** A half-open connection: give up on it now rather than wait for TCP to notice. */
  drop() {
    const ws = this.ws;
    if (!ws) return;
    this.ws = null;
    detach(ws);
    try { ws.close(4000, "no answer"); } catch { /* ignore */ }
    this.closed(1006);
  }

  clearTimers() {
    for (const key of Object.keys(this.timers)) {
      clearTimeout(this.timers[key]);
      this.timers[key] = 0;
    }
  }

  setState(state, info = {}) {
    this.state = state;
    this.onState(state, info);
  }
}

function detach(ws) {
  ws.onmessage = null;
  ws.onclose = null;
  ws.onerror = null;
}
