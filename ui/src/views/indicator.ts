// ConnectionIndicator: the compact header view. State, colour, shape, and latency.
import type { Status } from "../api";
import { h, setText } from "../dom";
import { ms, stateLabel } from "../format";
import { stateIcon } from "./stateIcon";

export function indicatorText(s: Status | null): string {
  if (!s) return "Starting…";
  const base = stateLabel[s.state];
  if (s.state === "connected" && s.latency.last_ms !== null) return `${base} · ${ms(s.latency.last_ms)}`;
  if (s.state === "reconnecting" && s.attempt > 0) return `${base} · ${s.attempt}/${s.max_attempts}`;
  return base;
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
    this.el.title = s?.reason ?? "";
  }
}
