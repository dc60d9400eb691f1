// The event log: state changes and errors, newest first.
import type { LogEntry } from "../api";
import { h } from "../dom";
import { clock } from "../format";

export class EventLog {
  readonly el: HTMLElement;
  private list = h("ol", { class: "log", "data-testid": "event-log" });

  constructor(private readonly keep = 200) {
    this.el = h("section", { class: "panel events" }, h("h2", { text: "Event log" }), this.list);
  }

  add(e: LogEntry): void {
    this.list.prepend(h("li", { class: e.level }, h("time", { text: clock(e.at_unix_ms) }), h("span", { text: e.message })));
    while (this.list.childElementCount > this.keep) this.list.lastElementChild?.remove();
  }

  lines(): string[] {
    return [...this.list.querySelectorAll("li span")].map((s) => s.textContent ?? "");
  }
}
