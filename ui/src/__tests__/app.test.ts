// The whole window against a mocked backend (mockIPC): commands and pushed events.
import { emit } from "@tauri-apps/api/event";
import type { Order } from "../api";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { App } from "../app";
import type { Settings } from "../api";
import { settingsView, snapshot, status } from "./fixtures";

const q = (sel: string) => document.querySelector(sel) as HTMLElement;
const tid = (id: string) => q(`[data-testid="${id}"]`);
const flush = () => new Promise((r) => setTimeout(r, 0));

let calls: { cmd: string; args: unknown }[];
let app: App;
let saveReply: (input: Settings & { token_change: string | null }) => unknown;

beforeEach(async () => {
  calls = [];
  saveReply = (input) => settingsView({ ...input, token_set: input.token_change !== null && input.token_change !== "" });
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case "get_snapshot":
          return snapshot({
            status: status({ state: "connected", demo: true }),
            quotes: [{ symbol: "AAPL", price: 189.5, change: 0.5, change_percent: 0.26, volume: 1000, updates: 3 }],
            log: [{ at_unix_ms: 0, level: "info", message: "Connected to ws://127.0.0.1:9000/ws" }],
          });
        case "place_order":
          return "ui-1";
        case "subscribe":
          if ((args as { symbols: string[] }).symbols[0] === "BAD SYM") throw { code: "invalid_input", message: 'invalid symbol "BAD SYM"' };
          return ["AAPL", "MSFT", "AMD"];
        case "save_settings":
          return saveReply((args as { input: Settings & { token_change: string | null } }).input);
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  document.body.innerHTML = '<div id="app"></div>';
  app = new App(document.getElementById("app")!);
  await app.start();
});

afterEach(() => {
  app.stop();
  clearMocks();
});

describe("the window", () => {
  it("opens on the snapshot: state, demo label, prices, log", () => {
    expect(tid("indicator").dataset.state).toBe("connected");
    expect(tid("state").textContent).toBe("Connected");
    expect(tid("demo-badge").hidden).toBe(false);
    expect(q('[data-testid="quote-AAPL"] .price').textContent).toBe("189.50");
    expect(tid("quote-MSFT")).not.toBeNull();
    expect(tid("event-log").textContent).toContain("Connected to ws://127.0.0.1:9000/ws");
  });

  it("follows pushed status, market and log events without polling", async () => {
    const before = calls.length;
    const label = "Reconnecting · attempt 2/10 · next try in 4 s";
    await emit("uplink://status", status({ state: "reconnecting", label, attempt: 2, next_retry_unix_ms: Date.now() + 4000 }));
    await emit("uplink://market", { quotes: [{ symbol: "AAPL", price: 190.25, change: 1.25, change_percent: 0.66, volume: 2000, updates: 4 }], orders: [], removed: ["MSFT"] });
    await emit("uplink://log", { at_unix_ms: 0, level: "warn", message: "Reconnecting: attempt 2/10 in 4.0 s" });
    await emit("uplink://latency", { ms: 5, avg_ms: 5, p99_ms: 5, at_unix_ms: 0 });
    await flush();
    expect(tid("indicator").dataset.state).toBe("reconnecting");
    expect(tid("state-detail").textContent).toBe(label);
    expect(tid("indicator-label").textContent).toBe(label);
    expect(q('[data-testid="quote-AAPL"] .price').textContent).toBe("190.25");
    expect(q('[data-testid="quote-AAPL"] .price').dataset.tick).toBe("up");
    expect(tid("quote-MSFT")).toBeNull();
    expect(tid("event-log").textContent).toContain("Reconnecting: attempt 2/10");
    expect(calls.length).toBe(before);
  });

  it("Reconnect and the toggle call the backend, which decides what the toggle does", async () => {
    tid("reconnect").click();
    tid("toggle").click();
    await flush();
    expect(calls.map((c) => c.cmd)).toEqual(expect.arrayContaining(["reconnect", "toggle"]));
    expect(tid("toggle").textContent).toBe("Disconnect");
    await emit("uplink://status", status({ state: "disconnected", label: "Disconnected", toggle: "connect" }));
    await flush();
    expect(tid("toggle").textContent).toBe("Connect");
    tid("toggle").click();
    await flush();
    expect(calls.at(-1)!.cmd).toBe("toggle");
  });

  it("adds symbols, refuses bad ones with the backend's message", async () => {
    (tid("add-symbol") as HTMLInputElement).value = "amd";
    (tid("add-symbol").closest("form") as HTMLFormElement).requestSubmit();
    await flush();
    expect(calls.at(-1)).toEqual({ cmd: "subscribe", args: { symbols: ["AMD"] } });
    expect(tid("quote-AMD")).not.toBeNull();
    (tid("add-symbol") as HTMLInputElement).value = "bad sym";
    (tid("add-symbol").closest("form") as HTMLFormElement).requestSubmit();
    await flush();
    expect(tid("watchlist-error").textContent).toBe('invalid symbol "BAD SYM"');
  });

  it("places orders and shows their status as it changes", async () => {
    (tid("order-qty") as HTMLInputElement).value = "25";
    tid("place-order").click();
    await flush();
    expect(calls.at(-1)).toEqual({ cmd: "place_order", args: { symbol: "AAPL", side: "buy", qty: 25 } });
    const t0 = Date.UTC(2025, 0, 1, 12, 0, 0);
    const order: Order = { key: "ui-1", id: null, symbol: "AAPL", side: "buy", qty: 25, status: "queued", filled_qty: 0, avg_price: null, reason: null, updated_unix_ms: t0, held: false, history: [{ state: "queued", at_unix_ms: t0 }] };
    await emit("uplink://market", { quotes: [], orders: [order], removed: [] });
    await flush();
    expect(q('[data-testid="order-ui-1"] [data-testid="order-status"]').textContent).toBe("queued");
    // A queued order can be cancelled from its row.
    q('[data-testid="order-ui-1"] [data-testid="order-cancel"]').click();
    await flush();
    expect(calls.at(-1)).toEqual({ cmd: "cancel_order", args: { key: "ui-1" } });
    const history = [...order.history, { state: "sent", at_unix_ms: t0 + 1000 }, { state: "acknowledged", at_unix_ms: t0 + 1200 }, { state: "filled", at_unix_ms: t0 + 2000 }];
    await emit("uplink://market", { quotes: [], orders: [{ ...order, id: "ord-1", status: "filled", filled_qty: 25, avg_price: 190, history }], removed: [] });
    await flush();
    const status = q('[data-testid="order-ui-1"] [data-testid="order-status"]');
    expect(status.textContent).toBe("filled");
    expect(status.title).toBe("queued 12:00:00 → sent 12:00:01 → acknowledged 12:00:01 → filled 12:00:02");
    expect(document.querySelector('[data-testid="order-ui-1"] [data-testid="order-cancel"]')).toBeNull();
    expect(document.querySelectorAll('[data-testid="orders"] tbody tr')).toHaveLength(1);
  });

  it("offers Resend and Discard for an order held as unconfirmed", async () => {
    const order: Order = { key: "ui-9", id: null, symbol: "MSFT", side: "sell", qty: 1, status: "unconfirmed", filled_qty: 0, avg_price: null, reason: "the connection dropped before the feed acknowledged it", updated_unix_ms: 0, held: true, history: [] };
    await emit("uplink://market", { quotes: [], orders: [order], removed: [] });
    await flush();
    q('[data-testid="order-ui-9"] [data-testid="order-resend"]').click();
    await flush();
    expect(calls.at(-1)).toEqual({ cmd: "resend_order", args: { key: "ui-9" } });
    q('[data-testid="order-ui-9"] [data-testid="order-discard"]').click();
    await flush();
    expect(calls.at(-1)).toEqual({ cmd: "discard_order", args: { key: "ui-9" } });
  });
});

describe("settings", () => {
  it("shows each field's error from the backend and says nothing was saved", async () => {
    saveReply = () => {
      throw { code: "invalid_settings", message: "1 setting(s) need attention; nothing was saved", fields: { feed_urls: "must start with ws:// or wss://" } };
    };
    (tid("setting-feed_urls") as HTMLInputElement).value = "http://example.com";
    tid("save-settings").click();
    await flush();
    expect(tid("error-feed_urls").textContent).toBe("must start with ws:// or wss://");
    expect(tid("settings-result").textContent).toContain("Not saved");
  });

  it("catches fields that are not numbers before asking the backend", async () => {
    (tid("setting-queue_size") as HTMLInputElement).value = "";
    (tid("setting-max_reconnect_attempts") as HTMLInputElement).value = "2.5";
    tid("save-settings").click();
    await flush();
    expect(tid("error-queue_size").textContent).toBe("must be a number");
    expect(tid("error-max_reconnect_attempts").textContent).toBe("must be a whole number");
    expect(calls.some((c) => c.cmd === "save_settings")).toBe(false);
  });

  it("saves valid settings; the token is sent only when typed, never shown", async () => {
    (tid("setting-feed_urls") as HTMLInputElement).value = " ws://127.0.0.1:9100/ws \n\n ws://127.0.0.1:9101/ws";
    (tid("setting-notify.on_recover") as HTMLInputElement).checked = true;
    tid("save-settings").click();
    await flush();
    const first = calls.at(-1)!.args as { input: Settings & { token_change: string | null } };
    expect(first.input.feed_urls).toEqual(["ws://127.0.0.1:9100/ws", "ws://127.0.0.1:9101/ws"]);
    expect(first.input.notify.on_recover).toBe(true);
    expect(first.input.token_change).toBeNull();
    expect(tid("settings-result").textContent).toBe("Saved.");

    (tid("setting-token") as HTMLInputElement).value = "s3cret";
    tid("save-settings").click();
    await flush();
    expect((calls.at(-1)!.args as { input: { token_change: string } }).input.token_change).toBe("s3cret");
    expect((tid("setting-token") as HTMLInputElement).value).toBe("");
    expect(tid("token-state").textContent).toContain("Token stored");
    expect(document.body.textContent).not.toContain("s3cret");
  });
});

/** A settings form whose saves are recorded and echoed back as the backend would. */
async function recordingForm() {
  const { SettingsForm } = await import("../views/settings");
  const { settingsView } = await import("./fixtures");
  const saved: unknown[] = [];
  const form = new SettingsForm({
    save: async (s) => {
      saved.push(s);
      return settingsView(s);
    },
  });
  return { form, saved, settingsView };
}

describe("settings before they load", () => {
  it("cannot be edited or saved until the backend's settings are shown", async () => {
    const { form, saved, settingsView } = await recordingForm();
    const login = form.el.querySelector('[data-testid="setting-launch_at_login"]') as HTMLInputElement;
    expect(login.disabled).toBe(true);
    expect(form.el.dataset.loaded).toBeUndefined();
    expect(await form.submit()).toBe(false);
    expect(saved).toEqual([]);
    expect(form.el.querySelector('[data-testid="settings-result"]')?.textContent).toContain("have not loaded yet");
    form.show(settingsView({ feed_urls: ["ws://feed.example/ws"] }));
    expect(login.disabled).toBe(false);
    expect(form.el.dataset.loaded).toBe("true");
    login.checked = true;
    expect(await form.submit()).toBe(true);
    expect((saved[0] as Record<string, unknown>).launch_at_login).toBe(true);
  });
});

describe("network settings", () => {
  it("shows the backend's warnings and sends the proxy, headers and heartbeat", async () => {
    const { form, saved, settingsView } = await recordingForm();
    form.show(
      settingsView({
        feed_urls: ["ws://feed.example/ws"],
        proxy: "http://alice:***@proxy:3128/",
        headers: ["X-Api-Key: ***"],
        warnings: ["The token is sent unencrypted over ws:// to feed.example: anyone on the way can read it. Use wss://."],
      }),
    );
    const q = (id: string) => form.el.querySelector(`[data-testid="${id}"]`) as HTMLInputElement;
    expect(q("settings-warnings").textContent).toContain("unencrypted over ws://");
    expect(q("setting-proxy").value).toBe("http://alice:***@proxy:3128/");
    (form.el.querySelector('[data-testid="setting-heartbeat"]') as HTMLSelectElement).value = "custom";
    q("setting-ping_text").value = '{"op":"ping"}';
    q("setting-pong_field").value = "op=pong";
    expect(await form.submit()).toBe(true);
    const s = saved[0] as Record<string, unknown>;
    expect(s.heartbeat).toBe("custom");
    expect(s.pong_field).toBe("op=pong");
    expect(s.proxy).toBe("http://alice:***@proxy:3128/");
    expect(s.headers).toEqual(["X-Api-Key: ***"]);
    expect(s.token_placement).toBe("both");
  });
});
