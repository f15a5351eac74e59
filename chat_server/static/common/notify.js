// Telling an agent about a new message while the tab is in the background: the title flashes
// until the tab is looked at again, and an optional short beep made with WebAudio (no sound file).

export class Notifier {
  constructor() {
    this.baseTitle = document.title;
    this.timer = 0;
    this.audio = null;
    this.sound = localStorage.getItem("kefu.sound") !== "off";
    const stop = () => { if (!document.hidden) this.stop(); };
    document.addEventListener("visibilitychange", stop);
    window.addEventListener("focus", stop);
    // Browsers start audio only after a user gesture: prepare it on the first one.
    const unlock = () => { this.prepareAudio(); window.removeEventListener("pointerdown", unlock); window.removeEventListener("keydown", unlock); };
    window.addEventListener("pointerdown", unlock);
    window.addEventListener("keydown", unlock);
  }

  setBaseTitle(title) {
    this.baseTitle = title;
    if (!this.timer) document.title = title;
  }

  setSound(on) {
    this.sound = on;
    localStorage.setItem("kefu.sound", on ? "on" : "off");
    if (on) this.prepareAudio();
  }

  /** A new message; only acts when the tab is hidden. */
  notify(text) {
    if (!document.hidden) return;
    if (this.sound) this.beep();
    this.flash(text);
  }

  flash(text) {
    clearInterval(this.timer);
    let on = false;
    const tick = () => {
      on = !on;
      document.title = on ? `【新消息】${text}` : this.baseTitle;
    };
    tick();
    this.timer = setInterval(tick, 1000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = 0;
    document.title = this.baseTitle;
  }

  prepareAudio() {
    if (this.audio || !this.sound) return;
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      this.audio = new Context();
    } catch {
      this.audio = null;
    }
  }

  beep() {
    this.prepareAudio();
    const ctx = this.audio;
    if (!ctx) return;
    if (ctx.state === "suspended") ctx.resume().catch(() => {});
    const now = ctx.currentTime;
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = "sine";
    osc.frequency.setValueAtTime(880, now);
    osc.frequency.setValueAtTime(660, now + 0.12);
    gain.gain.setValueAtTime(0.0001, now);
    gain.gain.exponentialRampToValueAtTime(0.25, now + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + 0.3);
    osc.connect(gain).connect(ctx.destination);
    osc.start(now);
    osc.stop(now + 0.32);
  }
}
