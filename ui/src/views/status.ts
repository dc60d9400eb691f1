// ConnectionStatus: the detailed view. State with icon and colour, since when,
// attempt n of max, countdown, latency with a chart, every stat, and the controls.
import type { Status } from "../api";
import { h, setText } from "../dom";
import { bytes, clock, count, duration, ms, stateLabel } from "../format";
import { LatencyChart } from "./chart";
import { stateIcon } from "./stateIcon";

export interface StatusActions {
  reconnect(): void;
  toggle(): void;
}

/** The line under the state: the status's own label, the same words as the tray's. */
export function detailLine(s: Status): string {
  return s.label;
}

/** An endpoint's circuit breaker for people. */
export function breakerText(e: Status["endpoints"][number]): string {
  const fails = e.failures ? ` · ${e.failures} failure${e.failures === 1 ? "" : "s"}` : "";
  switch (e.breaker) {
    case "open":
      return `skipped for ${Math.ceil(e.open_for_secs ?? 0)} s${fails}`;
    case "half_open":
      return `on trial${fails}`;
    default:
      return `ok${fails}`;
  }
}

/** The feed's clock against ours, with a warning beyond 2 s. */
export function clockText(s: Status): string {
  if (s.clock_offset_ms === null) return "unknown (no timestamps)";
  const off = s.clock_offset_ms;
  if (Math.abs(off) < 1) return "in step with ours";
  const words = `${ms(Math.abs(off))} ${off > 0 ? "ahead of" : "behind"} ours`;
  return s.clock_skewed ? `⚠ ${words}: delays and ages are suspect` : words;
}

export class ConnectionStatus {
  readonly el: HTMLElement;
  readonly chart = new LatencyChart();
  private icon = h("span", { class: "big-icon" });
  private state = h("span", { class: "state-name", "data-testid": "state" });
  private detail = h("div", { class: "detail", "data-testid": "state-detail" });
  private reason = h("div", { class: "reason", "data-testid": "state-reason" });
  private since = h("span", { "data-testid": "since" });
  private url = h("code", { "data-testid": "url" });
  private demo = h("span", { class: "badge demo", "data-testid": "demo-badge", text: "Built-in demo feed" });
  private toggleBtn = h("button", { type: "button", "data-testid": "toggle", text: "Disconnect" });
  private reconnectBtn = h("button", { type: "button", class: "primary", "data-testid": "reconnect", text: "Reconnect" });
  private cells = new Map<string, HTMLElement>();
  private endpoints: HTMLElement;
  private shownState = "";

  constructor(actions: StatusActions) {
    this.reconnectBtn.addEventListener("click", () => actions.reconnect());
    this.toggleBtn.addEventListener("click", () => actions.toggle());
    const stat = (key: string, label: string) => {
      const v = h("dd", { "data-testid": `stat-${key}`, text: "–" });
      this.cells.set(key, v);
      return [h("dt", { text: label }), v];
    };
    const latency = h(
      "dl",
      { class: "latency" },
      ...stat("latency-last", "Last"),
      ...stat("latency-avg", "Average"),
      ...stat("latency-p99", "p99"),
      ...stat("latency-minmax", "Min / max"),
      ...stat("feed-delay", "Feed delay p50 / p99"),
      ...stat("clock-offset", "Feed clock"),
      ...stat("window-lag", "Uplink's own lag p50 / p99"),
      ...stat("data-age", "Last data"),
    );
    this.endpoints = h("ul", { class: "endpoints", "data-testid": "endpoints" });
    const stats = h(
      "dl",
      { class: "stats" },
      ...stat("messages_received", "Messages received"),
      ...stat("bytes_received", "Bytes received"),
      ...stat("messages_sent", "Messages sent"),
      ...stat("bytes_sent", "Bytes sent"),
      ...stat("reconnections", "Reconnections"),
      ...stat("reconnect_attempts", "Reconnect attempts"),
      ...stat("errors", "Errors"),
      ...stat("malformed_messages", "Malformed messages"),
      ...stat("uptime", "Uptime"),
      ...stat("total_uptime", "Total uptime"),
      ...stat("queue", "Outbound queue"),
      ...stat("queue_dropped", "Queue drops"),
      ...stat("last_error", "Last error"),
    );
    this.el = h(
      "section",
      { class: "panel status", "data-testid": "connection-status" },
      h("div", { class: "head" }, this.icon, h("div", {}, this.state, this.detail), h("div", { class: "actions" }, this.toggleBtn, this.reconnectBtn)),
      this.reason,
      h("div", { class: "meta" }, this.url, this.demo, h("span", { class: "muted" }, "since ", this.since)),
      h("h3", { text: "Latency" }),
      h("div", { class: "latency-row" }, latency, this.chart.el),
      h("h3", { text: "Feeds" }),
      this.endpoints,
      h("h3", { text: "Statistics" }),
      stats,
    );
  }

  private set(key: string, text: string): void {
    const c = this.cells.get(key);
    if (c) setText(c, text);
  }

  update(s: Status | null): void {
    if (!s) return;
    if (this.shownState !== s.state) {
      this.icon.replaceChildren(stateIcon(s.state, 40));
      this.el.dataset.state = s.state;
      this.shownState = s.state;
    }
    setText(this.state, stateLabel[s.state]);
    setText(this.detail, detailLine(s));
    setText(this.reason, s.state === "connected" || !s.reason ? "" : s.reason);
    setText(this.since, clock(s.since_unix_ms));
    setText(this.url, s.url);
    this.demo.hidden = !s.demo;
    setText(this.toggleBtn, s.toggle === "connect" ? "Connect" : "Disconnect");
    this.el.dataset.stale = String(s.stale);

    const l = s.latency;
    this.set("latency-last", ms(l.last_ms));
    this.set("latency-avg", ms(l.avg_ms));
    this.set("latency-p99", ms(l.p99_ms));
    this.set("latency-minmax", l.min_ms === null ? "–" : `${ms(l.min_ms)} / ${ms(l.max_ms)}`);
    this.endpoints.replaceChildren(
      ...s.endpoints.map((e, i) => {
        const li = h(
          "li",
          { "data-testid": `endpoint-${i}`, "data-breaker": e.breaker, class: i === s.endpoint ? "current" : "" },
          h("span", { class: "role", text: e.role }),
          h("code", { text: e.url }),
          h("span", { class: "breaker", text: breakerText(e) }),
        );
        return li;
      }),
    );
    const d = s.feed_delay;
    this.set("feed-delay", d.samples === 0 ? "no timestamps" : `${ms(d.p50_ms)} / ${ms(d.p99_ms)}`);
    this.set("clock-offset", clockText(s));
    this.cells.get("clock-offset")?.classList.toggle("warn", s.clock_skewed);
    this.set("window-lag", s.window_lag.samples === 0 ? "–" : `${ms(s.window_lag.p50_ms)} / ${ms(s.window_lag.p99_ms)}`);
    this.set("data-age", s.data_age_secs === null ? "none yet" : `${duration(s.data_age_secs)} ago`);
    const st = s.stats;
    this.set("messages_received", count(st.messages_received));
    this.set("bytes_received", bytes(st.bytes_received));
    this.set("messages_sent", count(st.messages_sent));
    this.set("bytes_sent", bytes(st.bytes_sent));
    this.set("reconnections", count(st.reconnections));
    this.set("reconnect_attempts", count(st.reconnect_attempts));
    const kinds = Object.entries(st.errors_by_kind)
      .map(([k, n]) => `${k.replaceAll("_", " ")} ${n}`)
      .join(", ");
    this.set("errors", st.errors ? `${count(st.errors)} (${kinds})` : "0");
    this.set("malformed_messages", count(st.malformed_messages));
    this.set("uptime", s.state === "connected" ? duration(st.uptime_secs) : "–");
    this.set("total_uptime", duration(st.total_uptime_secs));
    this.set("queue", `${count(s.stats.queue_depth)} / ${count(s.queue_capacity)}`);
    this.set("queue_dropped", count(st.queue_dropped));
    this.set("last_error", st.last_error ? `${clock(st.last_error.at_unix_ms)} ${st.last_error.message}` : "none");
  }
}
