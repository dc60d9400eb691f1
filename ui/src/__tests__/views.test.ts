import { describe, expect, it } from "vitest";
import type { StateKind } from "../api";
import { ConnectionStatusCard } from "../views/card";
import { ConnectionIndicator } from "../views/indicator";
import { ConnectionStatus } from "../views/status";
import { status } from "./fixtures";

const text = (root: Element, id: string) => root.querySelector(`[data-testid="${id}"]`)?.textContent;

describe("ConnectionIndicator", () => {
  // The words are the backend's (Status.label, the tray's text); the view shows them.
  it.each<[StateKind, string]>([
    ["connected", "Connected · 12 ms"],
    ["connecting", "Connecting…"],
    ["reconnecting", "Reconnecting · attempt 3/10 · next try in 4 s"],
    ["disconnected", "Disconnected"],
    ["error", "Error · authentication failed: HTTP 401"],
  ])("shows %s as its colour, shape and the backend's words", (state, label) => {
    const v = new ConnectionIndicator();
    v.update(status({ state, label }));
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
    expect(text(v.el, "state-detail")).toBe("Connected · 12 ms");
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

  it("reconnecting: attempt n of max and the countdown, in the backend's words", () => {
    const { v } = make();
    const label = "Reconnecting · attempt 2/10 · next try in 4 s";
    v.update(status({ state: "reconnecting", label, toggle: "disconnect", attempt: 2, reason: "connection refused by 127.0.0.1:9000" }));
    expect(text(v.el, "state-detail")).toBe(label);
    expect(text(v.el, "state-reason")).toBe("connection refused by 127.0.0.1:9000");
    // The backend republishes the status as the countdown moves.
    v.update(status({ state: "reconnecting", label: "Reconnecting · attempt 2/10 · next try in 2 s", attempt: 2 }));
    expect(text(v.el, "state-detail")).toBe("Reconnecting · attempt 2/10 · next try in 2 s");
  });

  it("error: the reason in red and a way out", () => {
    const { v, calls } = make();
    const label = "Error · gave up after 10 attempts: connection refused";
    v.update(status({ state: "error", label, toggle: "connect", gave_up: true, reason: "gave up after 10 attempts: connection refused" }));
    expect(v.el.dataset.state).toBe("error");
    expect(text(v.el, "state-detail")).toBe(label);
    expect(text(v.el, "state-reason")).toBe("gave up after 10 attempts: connection refused");
    expect(text(v.el, "toggle")).toBe("Connect");
    (v.el.querySelector('[data-testid="reconnect"]') as HTMLButtonElement).click();
    (v.el.querySelector('[data-testid="toggle"]') as HTMLButtonElement).click();
    expect(calls).toEqual(["reconnect", "toggle"]);
  });

  it("disconnected and connecting, and the demo feed is labelled", () => {
    const { v } = make();
    v.update(status({ state: "disconnected", label: "Disconnected", toggle: "connect", reason: "disconnected by user", demo: true }));
    expect(text(v.el, "state-detail")).toBe("Disconnected");
    expect(text(v.el, "toggle")).toBe("Connect");
    expect((v.el.querySelector('[data-testid="demo-badge"]') as HTMLElement).hidden).toBe(false);
    v.update(status({ state: "connecting", label: "Connecting…" }));
    expect(text(v.el, "state-detail")).toBe("Connecting…");
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
  it.each<StateKind>(["connected", "connecting", "reconnecting", "error", "disconnected"])("summarises %s", (state) => {
    const v = new ConnectionStatusCard();
    v.update(status({ state }));
    expect(v.el.dataset.state).toBe(state);
    expect(text(v.el, "card-latency")).toBe("11 ms");
    expect(text(v.el, "card-messages")).toBe("12,345");
    expect(text(v.el, "card-uptime")).toBe(state === "connected" ? "2m 5s" : "–");
  });
});

describe("stale data", () => {
  it("dims a stale symbol's row and shows every row's age", async () => {
    const { Watchlist } = await import("../views/market");
    const w = new Watchlist({ add: async () => null, remove: () => {}, order: async () => null, act: async () => null });
    w.setSymbols(["AAPL", "HALT"]);
    w.health([
      { symbol: "AAPL", last_update_unix_ms: 1, age_secs: 0.7, stale: false },
      { symbol: "HALT", last_update_unix_ms: null, age_secs: null, stale: true },
    ]);
    const row = (s: string) => w.el.querySelector(`[data-testid="quote-${s}"]`) as HTMLElement;
    expect(row("AAPL").dataset.stale).toBe("false");
    expect(row("AAPL").querySelector(".age")!.textContent).toBe("0 s");
    expect(row("HALT").dataset.stale).toBe("true");
    expect(row("HALT").querySelector(".age")!.textContent).toBe("no data");
    w.health([{ symbol: "AAPL", last_update_unix_ms: 1, age_secs: 185, stale: true }]);
    expect(row("AAPL").querySelector(".age")!.textContent).toBe("3 min");
    expect(row("AAPL").dataset.stale).toBe("true");
  });

  it("says so in the header and the status panel, in the backend's words", () => {
    const label = "Connected · prices stale 42 s";
    const i = new ConnectionIndicator();
    i.update(status({ stale: true, label }));
    expect(i.el.dataset.stale).toBe("true");
    expect(text(i.el, "indicator-label")).toBe(label);
    const v = new ConnectionStatus({ reconnect: () => {}, toggle: () => {} });
    v.update(status({ stale: true, label, data_age_secs: 42 }));
    expect(v.el.dataset.stale).toBe("true");
    expect(text(v.el, "state-detail")).toBe(label);
    expect(text(v.el, "stat-data-age")).toBe("42s ago");
  });

  it("shows the feed delay, the clock offset with a warning, and Uplink's own lag", () => {
    const v = new ConnectionStatus({ reconnect: () => {}, toggle: () => {} });
    v.update(status());
    expect(text(v.el, "stat-feed-delay")).toBe("3.0 ms / 9.0 ms");
    expect(text(v.el, "stat-clock-offset")).toBe("12 ms ahead of ours");
    expect(text(v.el, "stat-window-lag")).toBe("24 ms / 58 ms");
    v.update(status({ clock_offset_ms: -5200, clock_skewed: true }));
    expect(text(v.el, "stat-clock-offset")).toBe("⚠ 5200 ms behind ours: delays and ages are suspect");
    expect(v.el.querySelector('[data-testid="stat-clock-offset"]')!.classList.contains("warn")).toBe(true);
    v.update(status({ clock_offset_ms: null, feed_delay: { ...status().feed_delay, samples: 0 } }));
    expect(text(v.el, "stat-clock-offset")).toBe("unknown (no timestamps)");
    expect(text(v.el, "stat-feed-delay")).toBe("no timestamps");
  });
});

describe("failover", () => {
  it("lists every feed with its breaker and marks the one in use", () => {
    const v = new ConnectionStatus({ reconnect: () => {}, toggle: () => {} });
    v.update(
      status({
        label: "Connected · backup 1 · 12 ms",
        endpoint: 1,
        endpoints: [
          { url: "wss://a.example/ws", role: "primary", breaker: "open", failures: 3, open_for_secs: 41.2 },
          { url: "wss://b.example/ws", role: "backup 1", breaker: "closed", failures: 0, open_for_secs: null },
        ],
      }),
    );
    const li = (i: number) => v.el.querySelector(`[data-testid="endpoint-${i}"]`) as HTMLElement;
    expect(li(0).querySelector(".breaker")!.textContent).toBe("skipped for 42 s · 3 failures");
    expect(li(0).dataset.breaker).toBe("open");
    expect(li(1).classList.contains("current")).toBe(true);
    expect(li(1).querySelector(".breaker")!.textContent).toBe("ok");
    expect(text(v.el, "state-detail")).toBe("Connected · backup 1 · 12 ms");
  });
});

describe("bounds", () => {
  it("keeps at most ORDERS_SHOWN order rows, the newest", async () => {
    const { Orders, ORDERS_SHOWN } = await import("../views/market");
    const o = new Orders({ add: async () => null, remove: () => {}, order: async () => null, act: async () => null });
    const order = (i: number) => ({ key: `k${i}`, id: null, symbol: "A", side: "buy", qty: 1, status: "sent" as const, filled_qty: 0, avg_price: null, reason: null, updated_unix_ms: 0, held: false, history: [] });
    o.apply(Array.from({ length: ORDERS_SHOWN + 50 }, (_, i) => order(i)));
    const rows = o.el.querySelectorAll("tbody tr");
    expect(rows.length).toBe(ORDERS_SHOWN);
    expect((rows[0] as HTMLElement).dataset.testid).toBe(`order-k${ORDERS_SHOWN + 49}`);
  });
});
