// The live market panel: a watchlist (add/remove subscribes/unsubscribes on the feed)
// and the orders list with an order form.
import type { Order, Quote, SymbolHealth } from "../api";
import { h, setText } from "../dom";
import { clock, count, price, signed } from "../format";

export interface MarketActions {
  add(symbol: string): Promise<string | null>;
  remove(symbol: string): void;
  order(symbol: string, side: string, qty: number): Promise<string | null>;
  /** Cancel a queued order, or resend/discard an unconfirmed one; resolves to an error message or null. */
  act(key: string, action: "cancel" | "resend" | "discard"): Promise<string | null>;
}

/** An order's life for people: "queued 12:00:01 → sent 12:00:03 → filled 12:00:04". */
export function lifeText(o: Order): string {
  return o.history.map((s) => `${s.state.replaceAll("_", " ")} ${clock(s.at_unix_ms)}`).join(" → ");
}

interface Row {
  tr: HTMLTableRowElement;
  price: HTMLElement;
  change: HTMLElement;
  pct: HTMLElement;
  volume: HTMLElement;
  age: HTMLElement;
  last: number;
}

/** A quote's age for people: "3 s", "2 min", or "no data". */
export function ageText(h: SymbolHealth): string {
  if (h.age_secs === null) return "no data";
  const s = Math.floor(h.age_secs);
  return s < 120 ? `${s} s` : `${Math.floor(s / 60)} min`;
}

export class Watchlist {
  readonly el: HTMLElement;
  private body = h("tbody");
  private rows = new Map<string, Row>();
  private input = h("input", { placeholder: "Add symbol, e.g. AMD", "data-testid": "add-symbol", maxlength: 32, autocomplete: "off" });
  private error = h("div", { class: "error", "data-testid": "watchlist-error", role: "alert" });

  constructor(private readonly actions: MarketActions) {
    const form = h("form", { class: "inline" }, this.input, h("button", { type: "submit", text: "Add" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const sym = this.input.value.trim().toUpperCase();
      if (!sym) return;
      const err = await this.actions.add(sym);
      setText(this.error, err ?? "");
      if (!err) {
        this.input.value = "";
        this.ensure(sym);
      }
    });
    this.el = h(
      "section",
      { class: "panel watchlist" },
      h("h2", { text: "Watchlist" }),
      form,
      this.error,
      h(
        "table",
        { "data-testid": "watchlist" },
        h("thead", {}, h("tr", {}, ...["Symbol", "Last", "Change", "Change %", "Volume", "Age", ""].map((t) => h("th", { text: t })))),
        this.body,
      ),
    );
  }

  /** The symbols shown, in order. */
  symbols(): string[] {
    return [...this.rows.keys()];
  }

  setSymbols(symbols: string[]): void {
    for (const s of symbols) this.ensure(s);
    for (const s of [...this.rows.keys()]) if (!symbols.includes(s)) this.drop(s);
  }

  private ensure(symbol: string): Row {
    const existing = this.rows.get(symbol);
    if (existing) return existing;
    const cell = (cls: string) => h("td", { class: cls, text: "–" });
    const remove = h("button", { type: "button", class: "link", title: `Remove ${symbol}`, "aria-label": `Remove ${symbol}`, text: "×" });
    remove.addEventListener("click", () => {
      this.actions.remove(symbol);
      this.drop(symbol);
    });
    const row: Row = { tr: h("tr", { "data-testid": `quote-${symbol}` }), price: cell("price num"), change: cell("num"), pct: cell("num"), volume: cell("num"), age: cell("age num"), last: 0 };
    row.tr.append(h("td", { class: "sym", text: symbol }), row.price, row.change, row.pct, row.volume, row.age, h("td", {}, remove));
    this.body.append(row.tr);
    this.rows.set(symbol, row);
    return row;
  }

  private drop(symbol: string): void {
    this.rows.get(symbol)?.tr.remove();
    this.rows.delete(symbol);
  }

  /** Each symbol's freshness, from the backend's status: its age, and stale rows dimmed. */
  health(symbols: SymbolHealth[]): void {
    for (const s of symbols) {
      const r = this.rows.get(s.symbol);
      if (!r) continue;
      setText(r.age, ageText(s));
      r.tr.dataset.stale = String(s.stale);
      r.tr.title = s.stale ? `${s.symbol}: no update for ${ageText(s)}` : "";
    }
  }

  apply(quotes: Quote[], removed: string[] = []): void {
    for (const s of removed) this.drop(s);
    for (const q of quotes) {
      const r = this.ensure(q.symbol);
      setText(r.price, price(q.price));
      setText(r.change, signed(q.change));
      setText(r.pct, `${signed(q.change_percent)}%`);
      setText(r.volume, count(q.volume));
      const dir = q.change > 0 ? "up" : q.change < 0 ? "down" : "flat";
      r.change.dataset.dir = dir;
      r.pct.dataset.dir = dir;
      r.price.dataset.tick = q.price > r.last ? "up" : q.price < r.last ? "down" : "same";
      r.last = q.price;
    }
  }
}

/** Order rows kept in the window (the backend keeps the same number). */
export const ORDERS_SHOWN = 200;

export class Orders {
  readonly el: HTMLElement;
  private body = h("tbody");
  private rows = new Map<string, HTMLTableRowElement>();
  private symbol = h("input", { value: "AAPL", "data-testid": "order-symbol", maxlength: 32, "aria-label": "Symbol" });
  private side = h("select", { "data-testid": "order-side", "aria-label": "Side" }, h("option", { value: "buy", text: "Buy" }), h("option", { value: "sell", text: "Sell" }));
  private qty = h("input", { type: "number", value: "100", min: "0", step: "any", "data-testid": "order-qty", "aria-label": "Quantity" });
  private error = h("div", { class: "error", "data-testid": "order-error", role: "alert" });

  constructor(private readonly actions: MarketActions) {
    const form = h("form", { class: "inline" }, this.symbol, this.side, this.qty, h("button", { type: "submit", "data-testid": "place-order", text: "Place order" }));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const err = await actions.order(this.symbol.value.trim().toUpperCase(), this.side.value, Number(this.qty.value));
      setText(this.error, err ?? "");
    });
    this.el = h(
      "section",
      { class: "panel orders" },
      h("h2", { text: "Orders" }),
      form,
      this.error,
      h(
        "table",
        { "data-testid": "orders" },
        h("thead", {}, h("tr", {}, ...["Time", "Symbol", "Side", "Qty", "Status", "Filled", "Avg price", "Id", ""].map((t) => h("th", { text: t })))),
        this.body,
      ),
    );
  }

  apply(orders: Order[]): void {
    for (const o of orders) {
      let tr = this.rows.get(o.key);
      if (!tr) {
        tr = h("tr", { "data-testid": `order-${o.key}` });
        this.rows.set(o.key, tr);
        this.body.prepend(tr);
        // As many rows as the backend keeps: the oldest leaves.
        while (this.rows.size > ORDERS_SHOWN) {
          const oldest = this.body.lastElementChild as HTMLTableRowElement | null;
          if (!oldest) break;
          oldest.remove();
          for (const [k, r] of this.rows) if (r === oldest) this.rows.delete(k);
        }
      }
      const status = h("td", { class: `order-status ${o.status}`, "data-testid": "order-status", text: o.status.replaceAll("_", " ") });
      // The whole life with times, and why it ended where it did, on hover.
      status.title = [lifeText(o), o.reason ?? ""].filter(Boolean).join("\n");
      const act = (action: "cancel" | "resend" | "discard", label: string) => {
        const b = h("button", { type: "button", class: "link", "data-testid": `order-${action}`, text: label });
        b.addEventListener("click", async () => setText(this.error, (await this.actions.act(o.key, action)) ?? ""));
        return b;
      };
      const buttons = h("td", { class: "actions" });
      if (o.status === "queued") buttons.append(act("cancel", "Cancel"));
      if (o.held) buttons.append(act("resend", "Resend"), act("discard", "Discard"));
      tr.replaceChildren(
        h("td", { text: clock(o.updated_unix_ms) }),
        h("td", { text: o.symbol }),
        h("td", { text: o.side }),
        h("td", { class: "num", text: String(o.qty) }),
        status,
        h("td", { class: "num", text: String(o.filled_qty) }),
        h("td", { class: "num", text: o.avg_price === null ? "–" : price(o.avg_price) }),
        h("td", { class: "muted", text: o.id ?? "" }),
        buttons,
      );
      tr.dataset.status = o.status;
    }
  }
}
