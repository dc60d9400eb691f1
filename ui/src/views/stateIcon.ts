// The same shapes as the tray icon: colour and shape both say the state.
import type { StateKind } from "../api";
import { svg } from "../dom";

export function stateIcon(state: StateKind, size = 16): SVGElement {
  const root = svg("svg", { viewBox: "0 0 32 32", width: size, height: size, class: `state-icon ${state}`, "aria-hidden": "true" });
  switch (state) {
    case "connected":
      root.append(svg("circle", { cx: 16, cy: 16, r: 14, class: "fill" }));
      break;
    case "disconnected":
      root.append(svg("circle", { cx: 16, cy: 16, r: 12, class: "stroke", "stroke-width": 4, fill: "none" }));
      break;
    case "connecting":
    case "reconnecting":
      // A ring with a gap: the spinner (it turns, see styles.css).
      root.append(svg("path", { d: "M16 4 A12 12 0 1 0 28 16", class: "stroke", "stroke-width": 4, fill: "none" }));
      break;
    case "error":
      root.append(
        svg("path", { d: "M16 2 L30 29 L2 29 Z", class: "fill" }),
        svg("rect", { x: 14.4, y: 10, width: 3.2, height: 10, fill: "#fff" }),
        svg("rect", { x: 14.4, y: 23, width: 3.2, height: 3, fill: "#fff" }),
      );
      break;
  }
  return root;
}
