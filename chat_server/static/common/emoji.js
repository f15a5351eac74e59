// The built-in emoji set. Messages carry `[em-<name>]` tokens (as the likeshop clients send
// them); the pages show the Unicode character, so no image assets are needed.
import { h } from "./dom.js";

export const EMOJI = Object.freeze({
  smile: "😊", laugh: "😄", grin: "😁", joy: "😂", wink: "😉", love: "😍", kiss: "😘", cool: "😎",
  think: "🤔", surprised: "😮", sweat: "😅", sad: "😞", cry: "😢", angry: "😠", sleepy: "😴", shy: "😳",
  thumbsup: "👍", ok: "👌", clap: "👏", pray: "🙏", wave: "👋", muscle: "💪", heart: "❤️", broken: "💔",
  rose: "🌹", gift: "🎁", party: "🎉", fire: "🔥", star: "⭐", coffee: "☕", moneybag: "💰", package: "📦",
});

export const EMOJI_TOKEN = /\[em-([a-z0-9_]{1,20})\]/g;

/** A grid of emoji buttons; `onPick(token)` gets e.g. "[em-smile]". */
export function emojiPicker(onPick) {
  return h("div", { class: "emoji-picker", role: "listbox", "aria-label": "表情" },
    Object.entries(EMOJI).map(([name, char]) => h("button", {
      type: "button", class: "emoji-choice", title: name, "aria-label": name, dataset: { name }, text: char,
      onclick: () => onPick(`[em-${name}]`),
    })));
}

/** Insert `text` into a textarea/input at the caret, and keep focus there. */
export function insertAtCaret(input, text) {
  const start = input.selectionStart ?? input.value.length;
  const end = input.selectionEnd ?? input.value.length;
  input.value = input.value.slice(0, start) + text + input.value.slice(end);
  const caret = start + text.length;
  input.focus();
  input.setSelectionRange(caret, caret);
  input.dispatchEvent(new Event("input", { bubbles: true }));
}
