import { describe, expect, it } from "vitest";
import type { StateKind } from "../api";
import { ConnectionStatusCard } from "../views/card";
import { ConnectionIndicator } from "../views/indicator";
import { ConnectionStatus } from "../views/status";
import { status } from "./fixtures";

const text = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`)?.textContent;

describe("ConnectionIndicator", () => {
  it.each<[StateKind, object, string]>([
    ["connected", {}, "Connected · 12 ms"],
    ["connected", { latency: { ...status().latency, last_ms: 0.3 } }, "Connected · <1 ms"],
    ["connecting", {}, "Connecting"],
    ["reconnecting", { attempt: 3 }, "Reconnecting · 3/10"],
    ["disconnected", {}, "Disconnected"],
    ["error", { reason: "authentication failed: HTTP 401" }, "Error"],
  ])("shows %s as its colour, shape and words", (state, over, label) => {
    const v = new ConnectionIndicator();
    v.update(status({ state, ...over }));
    expect(v.el.dataset.state).toBe(state);
    expect(text(v.el, "indicator-label")).toBe(label);
    expect(v.el.querySelector(`svg.state-icon.${state}`)).not.toBeNull();
  });

  it("uses a different shape for each state", () => {
    const shapes = (["connected", "connecting", "disconnected", "error"] as StateKind[]).map((state) => {
      const v = new ConnectionIndicator();
      v.update(status({ state }));
      return v.el.querySelector("svg")!.innerHTML;
    });
    expect(new Set(shapes).size).toBe(4);
  });
});

describe("ConnectionStatus", () => {
  const make = () => {
    const calls: string[] = [];
    const v = new ConnectionStatus({ reconnect: () => calls.push("reconnect"), toggle: () => calls.push("toggle") });
    return { v, calls };
  };

  it("connected: latency last/average/p99 and every stat", () => {
    const { v } = make();
    v.update(status());
    expect(v.el.dataset.state).toBe("connected");
    expect(text(v.el, "state")).toBe("Connected");
    expect(text(v.el, "state-detail")).toBe("Up for 2m 5s");
    expect(text(v.el, "stat-latency-last")).toBe("12 ms");
    expect(text(v.el, "stat-latency-avg")).toBe("11 ms");
    expect(text(v.el, "stat-latency-p99")).toBe("20 ms");
    expect(text(v.el, "stat-messages_received")).toBe("12,345");
    expect(text(v.el, "stat-bytes_received")).toBe("2.0 KiB");
    expect(text(v.el, "stat-reconnections")).toBe("3");
    expect(text(v.el, "stat-errors")).toBe("2 (server closed 1, heartbeat timeout 1)");
    expect(text(v.el, "stat-queue")).toBe("0 / 1,000");
    expect(text(v.el, "stat-last_error")).toContain("code 1001 going away");
    expect(text(v.el, "toggle")).toBe("Disconnect");
    expect((v.el.querySelector('[data-testid="demo-badge"]') as HTMLElement).hidden).toBe(true);
  });

  it("reconnecting: attempt n of max and a live countdown", () => {
    const { v } = make();
    const now = 1_000_000;
    v.update(status({ state: "reconnecting", attempt: 2, next_retry_unix_ms: now + 3500, reason: "connection refused by 127.0.0.1:9000" }), now);
    expect(text(v.el, "state-detail")).toBe("Attempt 2 of 10 in 4 s");
    expect(text(v.el, "state-reason")).toBe("connection refused by 127.0.0.1:9000");
    v.tick(now + 2000);
    expect(text(v.el, "state-detail")).toBe("Attempt 2 of 10 in 2 s");
    v.tick(now + 9000);
    expect(text(v.el, "state-detail")).toBe("Attempt 2 of 10 in 0 s");
  });

  it("error: the reason in red and a way out", () => {
    const { v, calls } = make();
    v.update(status({ state: "error", gave_up: true, reason: "gave up after 10 attempts: connection refused" }));
    expect(v.el.dataset.state).toBe("error");
    expect(text(v.el, "state-detail")).toBe("Gave up after 10 attempts. Reconnect to try again.");
    expect(text(v.el, "state-reason")).toBe("gave up after 10 attempts: connection refused");
    expect(text(v.el, "toggle")).toBe("Connect");
    (v.el.querySelector('[data-testid="reconnect"]') as HTMLButtonElement).click();
    (v.el.querySelector('[data-testid="toggle"]') as HTMLButtonElement).click();
    expect(calls).toEqual(["reconnect", "toggle"]);
  });

  it("disconnected and connecting, and the demo feed is labelled", () => {
    const { v } = make();
    v.update(status({ state: "disconnected", reason: "disconnected by user", demo: true }));
    expect(text(v.el, "state-detail")).toBe("Not connected.");
    expect((v.el.querySelector('[data-testid="demo-badge"]') as HTMLElement).hidden).toBe(false);
    v.update(status({ state: "connecting" }));
    expect(text(v.el, "state-detail")).toBe("Opening the connection…");
    expect(v.el.querySelector("svg.state-icon.connecting")).not.toBeNull();
  });

  it("charts recent latency samples", () => {
    const { v } = make();
    for (let i = 0; i < 100; i++) v.chart.push(10 + (i % 5));
    expect(v.chart.points).toBe(60);
    expect(v.el.querySelector("polyline")!.getAttribute("points")!.split(" ")).toHaveLength(60);
  });
});

describe("ConnectionStatusCard", () => {
  it.each<StateKind>(["connected", "reconnecting", "error", "disconnected"])("summarises %s", (state) => {
    const v = new ConnectionStatusCard();
    v.update(status({ state }));
    expect(v.el.dataset.state).toBe(state);
    expect(text(v.el, "card-latency")).toBe("11 ms");
    expect(text(v.el, "card-messages")).toBe("12,345");
    expect(text(v.el, "card-uptime")).toBe(state === "connected" ? "2m 5s" : "–");
  });
});
