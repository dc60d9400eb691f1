// Puts the views together. Loads one snapshot, then only listens: the backend pushes
// status, latency, market and log events; nothing here polls.
import { api, asApiError, subscribeEvents, type Snapshot, type Status } from "./api";
import { h } from "./dom";
import { ConnectionStatusCard } from "./views/card";
import { ConnectionIndicator } from "./views/indicator";
import { EventLog } from "./views/log";
import { Orders, Watchlist, type MarketActions } from "./views/market";
import { SettingsForm } from "./views/settings";
import { ConnectionStatus } from "./views/status";

export class App {
  readonly indicator = new ConnectionIndicator();
  readonly status: ConnectionStatus;
  readonly card = new ConnectionStatusCard();
  readonly watchlist: Watchlist;
  readonly orders: Orders;
  readonly log = new EventLog();
  readonly settings: SettingsForm;
  private unlisten: (() => void) | undefined;

  constructor(private readonly root: HTMLElement) {
    this.status = new ConnectionStatus({
      reconnect: () => void this.run(api.reconnect()),
      toggle: () => void this.run(api.toggle()),
    });
    const market: MarketActions = {
      add: async (symbol) => {
        try {
          await api.subscribe([symbol]);
          return null;
        } catch (e) {
          return asApiError(e).message;
        }
      },
      remove: (symbol) => void this.run(api.unsubscribe([symbol])),
      order: async (symbol, side, qty) => {
        try {
          await api.placeOrder(symbol, side, qty);
          return null;
        } catch (e) {
          return asApiError(e).message;
        }
      },
      act: async (key, action) => {
        try {
          await api.orderAction(key, action);
          return null;
        } catch (e) {
          return asApiError(e).message;
        }
      },
    };
    this.watchlist = new Watchlist(market);
    this.orders = new Orders(market);
    this.settings = new SettingsForm({ save: (s, t) => api.saveSettings(s, t) });
  }

  private async run(p: Promise<unknown>): Promise<void> {
    try {
      await p;
    } catch (e) {
      this.log.add({ at_unix_ms: Date.now(), level: "error", message: asApiError(e).message });
    }
  }

  async start(): Promise<void> {
    this.root.replaceChildren(
      h(
        "header",
        {},
        h("h1", { text: "Uplink" }),
        this.indicator.el,
      ),
      h(
        "main",
        {},
        h("div", { class: "col" }, this.status.el, this.log.el),
        h("div", { class: "col" }, this.card.el, this.watchlist.el, this.orders.el, this.settings.el),
      ),
    );
    // Listen first, then load: nothing that happens in between is missed.
    this.unlisten = await subscribeEvents({
      status: (s) => this.showStatus(s),
      latency: (l) => this.status.chart.push(l.ms),
      market: (m) => {
        this.watchlist.apply(m.quotes, m.removed);
        this.orders.apply(m.orders);
      },
      log: (e) => this.log.add(e),
    });
    this.load(await api.snapshot());
  }

  load(snap: Snapshot): void {
    this.watchlist.setSymbols(snap.settings.watchlist);
    this.watchlist.apply(snap.quotes);
    this.orders.apply([...snap.orders].reverse());
    for (const e of snap.log) this.log.add(e);
    this.settings.show(snap.settings);
    this.showStatus(snap.status);
  }

  showStatus(s: Status): void {
    this.indicator.update(s);
    this.status.update(s);
    this.watchlist.health(s.symbols);
    this.card.update(s);
    document.title = `Uplink: ${s.state}`;
  }

  stop(): void {
    this.unlisten?.();
  }
}
