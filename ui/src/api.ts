// The backend's API: typed commands and events. The backend pushes; the UI never polls.
import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

import type { ApiError, LogEntry, Settings, SettingsInput, SettingsView, Snapshot, UiLatency, UiMarket, UiStatus } from "./generated/ipc";

// The IPC types are generated from the Rust types (src-tauri/tests/ipc_types.rs).
export type * from "./generated/ipc";
/** The status as the window receives it. */
export type Status = UiStatus;
export type LatencySample = UiLatency;
export type MarketDelta = UiMarket;
export type Order = import("./generated/ipc").OrderView;

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
  /** Connect when idle, disconnect otherwise: the status's `toggle` says which. */
  toggle: () => invoke<void>("toggle"),
  reconnect: () => invoke<void>("reconnect"),
  subscribe: (symbols: string[]) => invoke<string[]>("subscribe", { symbols }),
  unsubscribe: (symbols: string[]) => invoke<string[]>("unsubscribe", { symbols }),
  placeOrder: (symbol: string, side: string, qty: number) => invoke<string>("place_order", { symbol, side, qty }),
  /** Cancel a queued order; resend or discard an unconfirmed (held) one. */
  orderAction: (key: string, action: "cancel" | "resend" | "discard") => invoke<void>(`${action}_order`, { key }),
  getSettings: () => invoke<SettingsView>("get_settings"),
  /** `token_change`: undefined keeps the stored token, "" removes it, anything else replaces it. */
  saveSettings: (settings: Settings, tokenChange?: string) =>
    invoke<SettingsView>("save_settings", { input: { ...settings, token_change: tokenChange ?? null } satisfies SettingsInput }),
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
