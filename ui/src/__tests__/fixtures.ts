import type { Settings, SettingsView, Snapshot, Status } from "../api";

export function status(over: Partial<Status> = {}): Status {
  return {
    state: "connected",
    label: "Connected · 12 ms",
    toggle: "disconnect",
    reason: null,
    error_kind: null,
    gave_up: false,
    since_unix_ms: Date.UTC(2025, 0, 1, 12, 0, 0),
    attempt: 0,
    max_attempts: 10,
    next_retry_unix_ms: null,
    latency: { last_ms: 12.3, avg_ms: 10.5, min_ms: 8, max_ms: 20, p50_ms: 10, p99_ms: 19.6, window: 20, samples: 20 },
    stats: {
      messages_received: 12345,
      bytes_received: 2048,
      messages_sent: 67,
      bytes_sent: 512,
      reconnections: 3,
      reconnect_attempts: 5,
      errors: 2,
      errors_by_kind: { server_closed: 1, heartbeat_timeout: 1 },
      malformed_messages: 0,
      uptime_secs: 125,
      total_uptime_secs: 3600,
      last_error: { kind: "server_closed", message: "the server closed the connection (code 1001 going away)", at_unix_ms: Date.UTC(2025, 0, 1, 11, 59, 0) },
      queue_depth: 0,
      queue_dropped: 0,
      awaiting_ack: 0,
      unknown_acks: 0,
      unexpected_messages: 0,
      unreadable_timestamps: 0,
      events_dropped: 0,
    },
    queue_capacity: 1000,
    subscriptions: ["AAPL"],
    url: "ws://127.0.0.1:9000/ws",
    stale: false,
    data_age_secs: 0.4,
    symbols: [{ symbol: "AAPL", last_update_unix_ms: Date.UTC(2025, 0, 1, 12, 0, 0), age_secs: 0.4, stale: false }],
    down_since_unix_ms: null,
    feed_delay: { last_ms: 3, avg_ms: 3, min_ms: 1, max_ms: 9, p50_ms: 3, p99_ms: 9, window: 100, samples: 40 },
    clock_offset_ms: 12,
    clock_skewed: false,
    endpoint: 0,
    endpoints: [{ url: "ws://127.0.0.1:9000/ws", role: "primary", breaker: "closed", failures: 0, open_for_secs: null }],
    window_lag: { last_ms: 20, avg_ms: 25, min_ms: 5, max_ms: 60, p50_ms: 24, p99_ms: 58, window: 100, samples: 100 },
    demo: false,
    ...over,
  };
}

export const defaults: Settings = {
  feed_urls: [],
  token: null,
  heartbeat_interval_secs: 30,
  pong_timeout_secs: 10,
  reconnect_base_delay_secs: 1,
  reconnect_max_delay_secs: 60,
  max_reconnect_attempts: 10,
  queue_size: 1000,
  stale_after_secs: 30,
  alert_after_secs: 10,
  unacked_orders: "resend",
  ack_timeout_secs: 10,
  order_ttl_secs: 60,
  rate_limit_max: 100,
  rate_limit_window_secs: 60,
  failback_after_secs: 300,
  heartbeat: "json",
  ping_text: "",
  pong_type: "",
  pong_field: "",
  proxy: "",
  ca_file: "",
  headers: [],
  token_placement: "both",
  notify: { on_error: true, on_give_up: true, on_recover: false, on_order_fill: false, on_order_reject: true, on_stale: true, on_outage: true, sound: false, on_switch: true },
  start_minimized: false,
  launch_at_login: false,
  watchlist: ["AAPL", "MSFT"],
};

export function settingsView(over: Partial<SettingsView> = {}): SettingsView {
  return { ...defaults, token_set: false, token_masked: "", warnings: [], ...over };
}

export function snapshot(over: Partial<Snapshot> = {}): Snapshot {
  return { status: status(), quotes: [], orders: [], log: [], settings: settingsView(), ...over };
}
