// ConnectionStatusCard: the dashboard card. State, latency, uptime, traffic.
import type { Status } from "../api";
import { h, setText } from "../dom";
import { count, duration, ms, stateLabel } from "../format";
import { stateIcon } from "./stateIcon";

export class ConnectionStatusCard {
  readonly el: HTMLElement;
  private icon = h("span", { class: "icon" });
  private state = h("strong", { "data-testid": "card-state" });
  private latency = h("span", { "data-testid": "card-latency" });
  private uptime = h("span", { "data-testid": "card-uptime" });
  private messages = h("span", { "data-testid": "card-messages" });
  private reconnections = h("span", { "data-testid": "card-reconnections" });
  private shown = "";

  constructor() {
    const row = (label: string, v: HTMLElement) => h("div", { class: "row" }, h("span", { class: "muted", text: label }), v);
    this.el = h(
      "section",
      { class: "panel card", "data-testid": "connection-card" },
      h("div", { class: "head" }, this.icon, this.state),
      row("Latency (avg)", this.latency),
      row("Uptime", this.uptime),
      row("Messages", this.messages),
      row("Reconnections", this.reconnections),
    );
  }

  update(s: Status | null): void {
    if (!s) return;
    if (this.shown !== s.state) {
      this.icon.replaceChildren(stateIcon(s.state, 20));
      this.el.dataset.state = s.state;
      this.shown = s.state;
    }
    setText(this.state, s.stale ? "Connected · stale" : stateLabel[s.state]);
    this.el.dataset.stale = String(s.stale);
    setText(this.latency, ms(s.latency.avg_ms));
    setText(this.uptime, s.state === "connected" ? duration(s.stats.uptime_secs) : "–");
    setText(this.messages, count(s.stats.messages_received));
    setText(this.reconnections, count(s.stats.reconnections));
  }
}
