// One conversation as a client holds it: the records it has (deduplicated by record id), the
// highest `seq` seen (what `sync` resumes after), the peer's read receipt, history paging, and the
// sends still waiting for their echo (each with a client_msg_id, so a resend after a reconnect is
// never stored twice).

const ACK_TIMEOUT_MS = 10000;

export class Conversation {
  constructor(shopId, userId) {
    this.shopId = Number(shopId);
    this.userId = Number(userId);
    this.records = new Map();
    this.lastSeq = 0;
    this.peerReadSeq = null;     // unknown until a `read` receipt arrives
    this.nextPage = 1;
    this.more = true;
    this.loading = false;
  }

  /** {fresh, gap}: fresh when the record was not known; gap when seqs are missing before it (the
   *  caller then syncs; lastSeq stays put so that the replay covers the hole, in order). */
  accept(rec) {
    const fresh = !this.records.has(rec.id);
    if (fresh) this.records.set(rec.id, rec);
    const seq = Number(rec.seq) || 0;
    const gap = this.lastSeq > 0 && seq > this.lastSeq + 1;
    if (!gap && seq > this.lastSeq) this.lastSeq = seq;
    return { fresh, gap };
  }

  /** The server's `sync` answer with recovered:true: everything up to last_seq was replayed. */
  synced(lastSeq) {
    if (Number(lastSeq) > this.lastSeq) this.lastSeq = Number(lastSeq);
  }

  /** A history page from HTTP: records oldest→newest, plus whether older pages remain. */
  acceptPage(list) {
    const fresh = [];
    for (const rec of list) {
      if (this.records.has(rec.id)) continue;
      this.records.set(rec.id, rec);
      fresh.push(rec);
    }
    // History is contiguous up to its newest record: resume from there.
    const newest = Math.max(0, ...list.map((r) => Number(r.seq) || 0));
    if (newest > this.lastSeq) this.lastSeq = newest;
    return fresh;
  }

  forget() {
    this.records.clear();
    this.lastSeq = 0;
    this.nextPage = 1;
    this.more = true;
  }

  syncFrame(includeUser = true) {
    const data = { shop_id: this.shopId, after_seq: this.lastSeq };
    if (includeUser) data.user_id = this.userId;
    return data;
  }
}

export function newClientMsgId() {
  if (window.crypto?.randomUUID) return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Sends waiting for their echo. send() sends now when connected (else when the socket next opens:
 * flush()); ack() when the stored record comes back; onFail(cmid) when no echo came in time while
 * connected, and retry(cmid) sends it again with the same client_msg_id.
 */
export class Outbox {
  constructor(socket, onFail) {
    this.socket = socket;
    this.onFail = onFail;
    this.items = new Map();
  }

  send(data) {
    const cmid = newClientMsgId();
    const item = { data: { ...data, client_msg_id: cmid }, timer: 0, failed: false };
    this.items.set(cmid, item);
    this.transmit(cmid, item);
    return cmid;
  }

  transmit(cmid, item) {
    clearTimeout(item.timer);
    if (!this.socket.send("chat", item.data)) return;   // sent by flush() once connected
    item.timer = setTimeout(() => {
      item.failed = true;
      this.onFail(cmid);
    }, ACK_TIMEOUT_MS);
  }

  ack(cmid) {
    const item = cmid && this.items.get(cmid);
    if (!item) return false;
    clearTimeout(item.timer);
    this.items.delete(cmid);
    return true;
  }

  retry(cmid) {
    const item = this.items.get(cmid);
    if (!item) return;
    item.failed = false;
    this.transmit(cmid, item);
  }

  flush() {
    for (const [cmid, item] of this.items) if (!item.failed) this.transmit(cmid, item);
  }

  /** The socket dropped: nothing can be acknowledged until it is back, so no failure clocks. */
  pause() {
    for (const item of this.items.values()) clearTimeout(item.timer);
  }
}
