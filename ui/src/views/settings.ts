// Settings: every field validated by the backend, with one message per field;
// nothing is saved unless everything is valid. The token is write-only here.
import { asApiError, type Settings, type SettingsView } from "../api";
import { h, setText } from "../dom";

export interface SettingsActions {
  save(s: Settings, tokenChange?: string): Promise<SettingsView>;
}

type NumKey =
  | "heartbeat_interval_secs"
  | "pong_timeout_secs"
  | "reconnect_base_delay_secs"
  | "reconnect_max_delay_secs"
  | "max_reconnect_attempts"
  | "queue_size"
  | "stale_after_secs"
  | "alert_after_secs"
  | "ack_timeout_secs"
  | "order_ttl_secs"
  | "rate_limit_max"
  | "rate_limit_window_secs"
  | "failback_after_secs";
const NUM_KEYS: NumKey[] = [
  "heartbeat_interval_secs",
  "pong_timeout_secs",
  "reconnect_base_delay_secs",
  "reconnect_max_delay_secs",
  "max_reconnect_attempts",
  "queue_size",
  "stale_after_secs",
  "alert_after_secs",
  "ack_timeout_secs",
  "order_ttl_secs",
  "rate_limit_max",
  "rate_limit_window_secs",
  "failback_after_secs",
];
const WHOLE_KEYS: NumKey[] = ["max_reconnect_attempts", "queue_size", "rate_limit_max"];
type NotifyKey = keyof Settings["notify"];

/** A `<select>` for the setting `key`, with `[value, label]` options. */
function choice(key: string, options: [string, string][]): HTMLSelectElement {
  return h(
    "select",
    { id: `set-${key}`, "data-testid": `setting-${key}` },
    ...options.map(([value, text]) => h("option", { value, text })),
  );
}

export class SettingsForm {
  readonly el: HTMLFormElement;
  private inputs = new Map<string, HTMLInputElement>();
  private errors = new Map<string, HTMLElement>();
  private result = h("div", { class: "result", "data-testid": "settings-result", role: "status" });
  private tokenState = h("span", { class: "muted", "data-testid": "token-state" });
  private current: SettingsView | null = null;
  private warnings = h("div", { class: "warn", "data-testid": "settings-warnings", role: "alert" });
  private heartbeat = choice("heartbeat", [
    ["json", "JSON ping/pong (the seed's)"],
    ["websocket", "WebSocket Ping/Pong frames"],
    ["custom", "Custom ping and answer"],
    ["none", "None: data alone"],
  ]);
  private placement = choice("token_placement", [
    ["both", "Query and Authorization header"],
    ["query", "Query (?token=…)"],
    ["header", "Authorization: Bearer"],
  ]);
  private unacked = choice("unacked_orders", [
    ["resend", "Resend them"],
    ["hold", "Hold them for me"],
  ]);

  constructor(private readonly actions: SettingsActions) {
    const field = (key: string, label: string, input: HTMLInputElement, hint = "") => {
      input.name = key;
      input.id = `set-${key}`;
      input.dataset.testid = `setting-${key}`;
      this.inputs.set(key, input);
      const err = h("div", { class: "error", "data-testid": `error-${key}`, role: "alert" });
      this.errors.set(key, err);
      return h("div", { class: "field" }, h("label", { for: input.id, text: label }), input, hint ? h("small", { class: "muted", text: hint }) : null, err);
    };
    const num = (step: string) => h("input", { type: "number", step, min: "0" });
    const check = (key: string, label: string) => {
      const input = h("input", { type: "checkbox" });
      input.name = key;
      input.dataset.testid = `setting-${key}`;
      this.inputs.set(key, input);
      return h("label", { class: "check" }, input, ` ${label}`);
    };
    this.el = h(
      "form",
      { class: "panel settings", "data-testid": "settings", novalidate: true },
      h("h2", { text: "Settings" }),
      field(
        "feed_urls",
        "Feed URLs",
        h("textarea", { rows: 2, placeholder: "empty = built-in demo feed", autocomplete: "off", spellcheck: "false" }) as unknown as HTMLInputElement,
        "one per line: the primary first, then backups in order; ws:// or wss://; empty for the built-in demo feed",
      ),
      field("token", "Token", h("input", { type: "password", autocomplete: "off", placeholder: "unchanged" })),
      h("div", { class: "field" }, this.tokenState, h("button", { type: "button", class: "link", "data-testid": "clear-token", text: "Remove token" })),
      h("div", { class: "field" }, h("label", { for: "set-token_placement", text: "Send the token in" }), this.placement),
      this.warnings,
      field("proxy", "Proxy", h("input", { type: "text", placeholder: "empty = from the environment", autocomplete: "off", spellcheck: "false" }), "http://host:port or socks5://host:port (user:password@ optional); direct for none"),
      field("ca_file", "Extra CA file", h("input", { type: "text", placeholder: "none", autocomplete: "off", spellcheck: "false" }), "PEM; trusted besides the system's store and the web roots"),
      field(
        "headers",
        "Extra headers",
        h("textarea", { rows: 2, placeholder: "X-Api-Key: …", autocomplete: "off", spellcheck: "false" }) as unknown as HTMLInputElement,
        "one per line, Name: value; values are never shown again",
      ),
      h("div", { class: "field" }, h("label", { for: "set-heartbeat", text: "Heartbeat" }), this.heartbeat),
      field("ping_text", "Custom ping", h("input", { type: "text", placeholder: '{"op":"ping"}', autocomplete: "off", spellcheck: "false" })),
      field("pong_type", "Answer's type", h("input", { type: "text", placeholder: "pong", autocomplete: "off" })),
      field("pong_field", "… or answer's field", h("input", { type: "text", placeholder: "op=pong", autocomplete: "off" })),
      h(
        "div",
        { class: "grid" },
        field("heartbeat_interval_secs", "Heartbeat interval (s)", num("any")),
        field("pong_timeout_secs", "Pong deadline (s)", num("any")),
        field("reconnect_base_delay_secs", "Backoff base (s)", num("any")),
        field("reconnect_max_delay_secs", "Backoff max (s)", num("any")),
        field("max_reconnect_attempts", "Max attempts", num("1")),
        field("queue_size", "Queue size", num("1")),
        field("stale_after_secs", "Stale after (s)", num("any"), "no prices this long: amber; 0 = off"),
        field("alert_after_secs", "Alert when down (s)", num("any"), "0 = only when giving up"),
        field("ack_timeout_secs", "Order ack deadline (s)", num("any")),
        field("order_ttl_secs", "Queued order expiry (s)", num("any"), "0 = never"),
        field("rate_limit_max", "Sends per window", num("1"), "0 = no limit"),
        field("rate_limit_window_secs", "Rate window (s)", num("any")),
        field("failback_after_secs", "Back to the primary after (s)", num("any"), "0 = never"),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "set-unacked_orders", text: "Unacknowledged orders after a reconnect" }),
        this.unacked,
        h("small", { class: "muted", text: "resend with the same client order id (a deduplicating feed executes once), or hold for you to check" }),
      ),
      h(
        "fieldset",
        {},
        h("legend", { text: "Notifications" }),
        check("notify.on_error", "Connection errors"),
        check("notify.on_give_up", "Giving up after the last attempt"),
        check("notify.on_recover", "Recovery after an outage"),
        check("notify.on_order_fill", "Order fills"),
        check("notify.on_order_reject", "Order rejections"),
        check("notify.on_stale", "Prices stale while connected"),
        check("notify.on_outage", "Feed down (early alert), and back"),
        check("notify.on_switch", "Switching to a backup feed, and back"),
        check("notify.sound", "Play a sound with alerts"),
      ),
      h("fieldset", {}, h("legend", { text: "Desktop" }), check("start_minimized", "Start minimized to the tray"), check("launch_at_login", "Launch at login")),
      h("div", { class: "error", "data-testid": "error-_", role: "alert" }),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", "data-testid": "save-settings", text: "Save" }), this.result),
    );
    this.errors.set("_", this.el.querySelector('[data-testid="error-_"]') as HTMLElement);
    // Nothing can be edited until the backend's settings are shown: an edit made
    // earlier would be overwritten when they arrive, and a save would store defaults.
    this.setEnabled(false);
    this.el.querySelector('[data-testid="clear-token"]')?.addEventListener("click", () => void this.submit(""));
    this.el.addEventListener("submit", (e) => {
      e.preventDefault();
      const t = this.inputs.get("token")?.value ?? "";
      void this.submit(t === "" ? undefined : t);
    });
  }

  private setEnabled(on: boolean): void {
    for (const el of this.el.querySelectorAll<HTMLInputElement>("input, select, textarea, button")) el.disabled = !on;
    if (on) this.el.dataset.loaded = "true";
    else delete this.el.dataset.loaded;
  }

  show(v: SettingsView): void {
    this.current = v;
    this.setEnabled(true);
    const set = (k: string, val: string | number | boolean) => {
      const i = this.inputs.get(k);
      if (!i) return;
      if (i.type === "checkbox") i.checked = Boolean(val);
      else i.value = String(val);
    };
    set("feed_urls", v.feed_urls.join("\n"));
    set("token", "");
    for (const k of NUM_KEYS) set(k, v[k]);
    this.unacked.value = v.unacked_orders;
    this.heartbeat.value = v.heartbeat;
    this.placement.value = v.token_placement;
    set("proxy", v.proxy);
    set("ca_file", v.ca_file);
    set("headers", v.headers.join("\n"));
    set("ping_text", v.ping_text);
    set("pong_type", v.pong_type);
    set("pong_field", v.pong_field);
    setText(this.warnings, v.warnings.join(" "));
    for (const k of Object.keys(v.notify) as NotifyKey[]) set(`notify.${k}`, v.notify[k]);
    set("start_minimized", v.start_minimized);
    set("launch_at_login", v.launch_at_login);
    setText(this.tokenState, v.token_set ? `Token stored (${v.token_masked})` : "No token stored");
  }

  private read(): Settings {
    const val = (k: string) => this.inputs.get(k)?.value ?? "";
    const on = (k: string) => this.inputs.get(k)?.checked ?? false;
    const n = (k: string) => (val(k).trim() === "" ? Number.NaN : Number(val(k)));
    return {
      feed_urls: val("feed_urls")
        .split("\n")
        .map((u) => u.trim())
        .filter((u) => u !== ""),
      // Write-only: the token travels as `token_change`, never in the settings.
      token: null,
      heartbeat_interval_secs: n("heartbeat_interval_secs"),
      pong_timeout_secs: n("pong_timeout_secs"),
      reconnect_base_delay_secs: n("reconnect_base_delay_secs"),
      reconnect_max_delay_secs: n("reconnect_max_delay_secs"),
      max_reconnect_attempts: n("max_reconnect_attempts"),
      queue_size: n("queue_size"),
      stale_after_secs: n("stale_after_secs"),
      alert_after_secs: n("alert_after_secs"),
      unacked_orders: this.unacked.value === "hold" ? "hold" : "resend",
      heartbeat: this.heartbeat.value as Settings["heartbeat"],
      ping_text: val("ping_text"),
      pong_type: val("pong_type"),
      pong_field: val("pong_field"),
      proxy: val("proxy").trim(),
      ca_file: val("ca_file").trim(),
      headers: val("headers")
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== ""),
      token_placement: this.placement.value as Settings["token_placement"],
      ack_timeout_secs: n("ack_timeout_secs"),
      order_ttl_secs: n("order_ttl_secs"),
      rate_limit_max: n("rate_limit_max"),
      rate_limit_window_secs: n("rate_limit_window_secs"),
      failback_after_secs: n("failback_after_secs"),
      notify: {
        on_error: on("notify.on_error"),
        on_give_up: on("notify.on_give_up"),
        on_recover: on("notify.on_recover"),
        on_order_fill: on("notify.on_order_fill"),
        on_order_reject: on("notify.on_order_reject"),
        on_stale: on("notify.on_stale"),
        on_outage: on("notify.on_outage"),
        sound: on("notify.sound"),
        on_switch: on("notify.on_switch"),
      },
      start_minimized: on("start_minimized"),
      launch_at_login: on("launch_at_login"),
      watchlist: this.current?.watchlist ?? [],
    };
  }

  /** Client-side checks for what JSON cannot carry (empty or non-numeric fields). */
  private localErrors(s: Settings): Record<string, string> {
    const e: Record<string, string> = {};
    for (const k of NUM_KEYS) {
      if (!Number.isFinite(s[k])) e[k] = "must be a number";
    }
    for (const k of WHOLE_KEYS) {
      if (Number.isFinite(s[k]) && !Number.isInteger(s[k])) e[k] = "must be a whole number";
    }
    return e;
  }

  async submit(tokenChange?: string): Promise<boolean> {
    for (const el of this.errors.values()) setText(el, "");
    setText(this.result, "");
    if (this.current === null) {
      setText(this.result, "Not saved: the settings have not loaded yet.");
      return false;
    }
    const s = this.read();
    const local = this.localErrors(s);
    if (Object.keys(local).length) {
      this.showErrors(local);
      setText(this.result, "Not saved: fix the fields marked above.");
      return false;
    }
    try {
      const saved = await this.actions.save(s, tokenChange);
      this.show(saved);
      setText(this.result, "Saved.");
      return true;
    } catch (err) {
      const e = asApiError(err);
      this.showErrors(e.fields ?? { _: e.message });
      setText(this.result, `Not saved: ${e.message}`);
      return false;
    }
  }

  private showErrors(fields: Record<string, string>): void {
    for (const [k, msg] of Object.entries(fields)) setText(this.errors.get(k) ?? this.errors.get("_")!, msg);
  }
}
