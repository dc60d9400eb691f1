// The backend's API: typed commands and events. The backend pushes; the UI never polls.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

export type StateKind = "disconnected" | "connecting" | "connected" | "reconnecting" | "error";

export interface LatencySummary {
  last_ms: number | null;
  avg_ms: number | null;
  min_ms: number | null;
  max_ms: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  window: number;
  samples: number;
}

export interface LastError {
  kind: string;
  message: string;
  at_unix_ms: number;
}

export interface Stats {
  messages_received: number;
  bytes_received: number;
  messages_sent: number;
  bytes_sent: number;
  reconnections: number;
  reconnect_attempts: number;
  errors: number;
  errors_by_kind: Record<string, number>;
  malformed_messages: number;
  uptime_secs: number;
  total_uptime_secs: number;
  last_error: LastError | null;
  queue_depth: number;
  queue_dropped: number;
}

export interface Status {
  state: StateKind;
  reason: string | null;
  error_kind: string | null;
  gave_up: boolean;
  since_unix_ms: number;
  attempt: number;
  max_attempts: number;
  next_retry_in_ms: number | null;
  next_retry_unix_ms: number | null;
  latency: LatencySummary;
  stats: Stats;
  queue_size: number;
  queue_capacity: number;
  subscriptions: string[];
  url: string;
  demo: boolean;
}

export interface LatencySample {
  ms: number;
  avg_ms: number | null;
  p99_ms: number | null;
  at_unix_ms: number;
}

export interface Quote {
  symbol: string;
  price: number;
  change: number;
  change_percent: number;
  volume: number;
  updates: number;
}

export interface Order {
  key: string;
  id: string | null;
  symbol: string;
  side: string;
  qty: number;
  status: string;
  filled_qty: number;
  avg_price: number | null;
  reason: string | null;
  updated_unix_ms: number;
}

export interface MarketDelta {
  quotes: Quote[];
  orders: Order[];
  removed: string[];
}

export interface LogEntry {
  at_unix_ms: number;
  level: "info" | "warn" | "error";
  message: string;
}

export interface NotifySettings {
  on_error: boolean;
  on_give_up: boolean;
  on_recover: boolean;
  on_order_fill: boolean;
  on_order_reject: boolean;
}

export interface Settings {
  feed_url: string;
  heartbeat_interval_secs: number;
  pong_timeout_secs: number;
  reconnect_base_delay_secs: number;
  reconnect_max_delay_secs: number;
  max_reconnect_attempts: number;
  queue_size: number;
  notify: NotifySettings;
  start_minimized: boolean;
  launch_at_login: boolean;
  watchlist: string[];
}

export interface SettingsView extends Settings {
  token_set: boolean;
  token_masked: string;
}

export interface Snapshot {
  status: Status | null;
  quotes: Quote[];
  orders: Order[];
  log: LogEntry[];
  settings: SettingsView;
}

/** An error from a command: `{code, message, fields?}`. */
export interface ApiError {
  code: string;
  message: string;
  fields?: Record<string, string>;
}

export function asApiError(e: unknown): ApiError {
  if (e && typeof e === "object" && "message" in e && "code" in e) return e as ApiError;
  return { code: "internal", message: String(e) };
}

export const events = {
  status: "uplink://status",
  latency: "uplink://latency",
  market: "uplink://market",
  log: "uplink://log",
} as const;

export const api = {
  snapshot: () => invoke<Snapshot>("get_snapshot"),
  connect: () => invoke<void>("connect"),
  disconnect: () => invoke<void>("disconnect"),
  reconnect: () => invoke<void>("reconnect"),
  subscribe: (symbols: string[]) => invoke<string[]>("subscribe", { symbols }),
  unsubscribe: (symbols: string[]) => invoke<string[]>("unsubscribe", { symbols }),
  placeOrder: (symbol: string, side: string, qty: number) => invoke<string>("place_order", { symbol, side, qty }),
  getSettings: () => invoke<SettingsView>("get_settings"),
  /** `token_change`: undefined keeps the stored token, "" removes it, anything else replaces it. */
  saveSettings: (settings: Settings, tokenChange?: string) =>
    invoke<SettingsView>("save_settings", { input: { ...settings, token_change: tokenChange ?? null } }),
};

export interface Handlers {
  status(s: Status): void;
  latency(l: LatencySample): void;
  market(m: MarketDelta): void;
  log(l: LogEntry): void;
}

export async function subscribeEvents(h: Handlers): Promise<UnlistenFn> {
  const offs = await Promise.all([
    listen<Status>(events.status, (e) => h.status(e.payload)),
    listen<LatencySample>(events.latency, (e) => h.latency(e.payload)),
    listen<MarketDelta>(events.market, (e) => h.market(e.payload)),
    listen<LogEntry>(events.log, (e) => h.log(e.payload)),
  ]);
  return () => offs.forEach((off) => off());
}
