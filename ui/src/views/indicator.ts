// ConnectionIndicator: the compact header view. State, colour, shape, and latency.
import type { Status } from "../api";
import { h, setText } from "../dom";
import { stateIcon } from "./stateIcon";

/** The header's text: the status's own label, the same words as the tray's. */
export function indicatorText(s: Status | null): string {
  return s ? s.label : "Starting…";
}

export class ConnectionIndicator {
  readonly el: HTMLElement;
  private icon: HTMLElement;
  private label: HTMLElement;
  private shown = "";

  constructor() {
    this.icon = h("span", { class: "icon" });
    this.label = h("span", { class: "label", "data-testid": "indicator-label" });
    this.el = h("div", { class: "indicator", "data-testid": "indicator", role: "status" }, this.icon, this.label);
    this.update(null);
  }

  update(s: Status | null): void {
    const state = s?.state ?? "disconnected";
    if (this.shown !== state) {
      this.icon.replaceChildren(stateIcon(state));
      this.el.dataset.state = state;
      this.shown = state;
    }
    setText(this.label, indicatorText(s));
    this.el.dataset.stale = String(s?.stale ?? false);
    this.el.title = s?.reason ?? "";
  }
}
