// Line icons for the toolbars, drawn as SVG through the DOM (no image files, no emoji font needed).
const NS = "http://www.w3.org/2000/svg";

const SHAPES = {
  smile: [["circle", { cx: 12, cy: 12, r: 9 }], ["path", { d: "M8.5 14.5a4.5 4.5 0 0 0 7 0" }],
    ["circle", { cx: 9, cy: 10, r: 0.8, fill: "currentColor" }], ["circle", { cx: 15, cy: 10, r: 0.8, fill: "currentColor" }]],
  image: [["rect", { x: 3, y: 4.5, width: 18, height: 15, rx: 2 }], ["circle", { cx: 8.5, cy: 9.5, r: 1.5 }],
    ["path", { d: "M21 15.5l-5-5-9 9" }]],
  bolt: [["path", { d: "M13 2.5L4.5 13.5H11l-1 8 8.5-11H12z" }]],
  bell: [["path", { d: "M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 1.5h-15z" }], ["path", { d: "M10 20.5a2 2 0 0 0 4 0" }]],
  "bell-off": [["path", { d: "M6 16.5V11a6 6 0 0 1 12 0v5.5l1.5 1.5h-15z" }], ["path", { d: "M10 20.5a2 2 0 0 0 4 0" }],
    ["path", { d: "M3.5 3.5l17 17" }]],
};

export function icon(name, size = 20) {
  const svg = document.createElementNS(NS, "svg");
  for (const [key, value] of Object.entries({ viewBox: "0 0 24 24", width: size, height: size, fill: "none",
    stroke: "currentColor", "stroke-width": 1.8, "stroke-linecap": "round", "stroke-linejoin": "round", "aria-hidden": "true" })) {
    svg.setAttribute(key, value);
  }
  for (const [tag, attrs] of SHAPES[name] || []) {
    const el = document.createElementNS(NS, tag);
    for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
    svg.append(el);
  }
  return svg;
}
