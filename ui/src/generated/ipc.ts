// Generated from the Rust types by src-tauri/tests/ipc_types.rs (ts-rs). Do not edit:
// change the Rust type, then run UPDATE_IPC_TYPES=1 cargo test -p uplink-app --test ipc_types

export type StateKind = "disconnected" | "connecting" | "connected" | "reconnecting" | "error";

export type Toggle = "connect" | "disconnect";

export type ErrorKind = "connect_failed" | "connect_timeout" | "handshake" | "auth" | "tls" | "server_closed" | "io" | "protocol" | "message_too_large" | "heartbeat_timeout" | "idle_timeout" | "malformed_message" | "server_error";

export type LatencySummary = { 
/**
 * The last round trip.
 */
last_ms: number | null, 
/**
 * Mean of the window (the moving average).
 */
avg_ms: number | null, 
/**
 * Fastest round trip in the window.
 */
min_ms: number | null, 
/**
 * Slowest round trip in the window.
 */
max_ms: number | null, 
/**
 * Median of the window.
 */
p50_ms: number | null, 
/**
 * 99th percentile of the window (nearest rank).
 */
p99_ms: number | null, 
/**
 * Samples in the window.
 */
window: number, 
/**
 * Samples ever recorded.
 */
samples: number, };

export type LastError = { 
/**
 * What went wrong.
 */
kind: ErrorKind, 
/**
 * Human-readable explanation.
 */
message: string, 
/**
 * Wall-clock time, Unix milliseconds.
 */
at_unix_ms: number, };

export type StatsSnapshot = { 
/**
 * Frames received (text, binary; pongs included).
 */
messages_received: number, 
/**
 * Payload bytes received.
 */
bytes_received: number, 
/**
 * Frames written (pings, subscriptions and queued messages).
 */
messages_sent: number, 
/**
 * Payload bytes written.
 */
bytes_sent: number, 
/**
 * Connections re-established after a loss.
 */
reconnections: number, 
/**
 * Dials made by the reconnect loop.
 */
reconnect_attempts: number, 
/**
 * Errors of every kind.
 */
errors: number, 
/**
 * Errors by kind.
 */
errors_by_kind: { [key in ErrorKind]?: number }, 
/**
 * Inbound messages that could not be decoded.
 */
malformed_messages: number, 
/**
 * How long the current connection has been up, in seconds.
 */
uptime_secs: number, 
/**
 * Time connected since start, all connections together, in seconds.
 */
total_uptime_secs: number, 
/**
 * The most recent error.
 */
last_error: LastError | null, 
/**
 * Messages waiting in the outbound queue.
 */
queue_depth: number, 
/**
 * Messages dropped from the queue because it overflowed.
 */
queue_dropped: number, 
/**
 * Messages that were JSON but did not fit the protocol (a known type with an
 * unexpected body, or no string `type`): passed on as raw JSON.
 */
unexpected_messages: number, 
/**
 * Timestamps that were neither a string nor a number: dropped.
 */
unreadable_timestamps: number, 
/**
 * Events lost by a subscriber that fell behind (the engine never waits for
 * one): market data, for which it sees the next message instead, and beyond its
 * backlog's bounds the oldest of the rest.
 */
events_dropped: number, 
/**
 * Orders written and not yet acknowledged by the feed.
 */
awaiting_ack: number, 
/**
 * Inbound order messages whose `client_order_id` was never sent from here
 * (ignored).
 */
unknown_acks: number, };

export type SymbolHealth = { 
/**
 * The symbol.
 */
symbol: string, 
/**
 * When its last update arrived, Unix milliseconds; `None` if none yet.
 */
last_update_unix_ms: number | null, 
/**
 * Seconds since its last update; `None` if none yet.
 */
age_secs: number | null, 
/**
 * Connected, and no update for `stale_after` (counted from its last update, or
 * from when it was subscribed or the connection opened, whichever is later).
 */
stale: boolean, };

export type BreakerState = "closed" | "open" | "half_open";

export type EndpointStatus = { 
/**
 * Its URL, credentials masked.
 */
url: string, 
/**
 * "primary", or "backup 1", "backup 2", …
 */
role: string, 
/**
 * Its breaker.
 */
breaker: BreakerState, 
/**
 * Consecutive failures since its last success.
 */
failures: number, 
/**
 * While open: seconds until the cool-down ends.
 */
open_for_secs: number | null, };

export type Status = { 
/**
 * Current state.
 */
state: StateKind, 
/**
 * Connected, with symbols subscribed, but no data message for `stale_after`:
 * a health flag on top of the five states (the tray turns amber).
 */
stale: boolean, 
/**
 * The headline people read, e.g. "Connected · 12 ms" or
 * "Reconnecting · attempt 2/10 · next try in 4 s" (see [`Status::label`]).
 */
label: string, 
/**
 * What the Connect/Disconnect control does now.
 */
toggle: Toggle, 
/**
 * Why the connection is in this state (last failure, or what the user did).
 */
reason: string | null, 
/**
 * The failure that led to `error` or `reconnecting`.
 */
error_kind: ErrorKind | null, 
/**
 * In `error`: the reconnect loop ran out of attempts.
 */
gave_up: boolean, 
/**
 * When the current state was entered, Unix milliseconds.
 */
since_unix_ms: number, 
/**
 * Current reconnect attempt (1-based; 0 when not reconnecting).
 */
attempt: number, 
/**
 * Attempts before giving up.
 */
max_attempts: number, 
/**
 * When the next attempt dials, Unix milliseconds, while waiting for it. Absolute,
 * so a snapshot read later still counts down correctly.
 */
next_retry_unix_ms: number | null, 
/**
 * Latency figures.
 */
latency: LatencySummary, 
/**
 * Counters, the outbound queue's depth and drops among them.
 */
stats: StatsSnapshot, 
/**
 * Capacity of the outbound queue.
 */
queue_capacity: number, 
/**
 * Symbols subscribed to (re-sent after every reconnect).
 */
subscriptions: Array<string>, 
/**
 * The feed's URL with any credentials masked.
 */
url: string, 
/**
 * Seconds since the last data message (anything but pong, heartbeat or
 * acknowledgement), from any connection; `None` before the first.
 */
data_age_secs: number | null, 
/**
 * Every subscribed symbol's freshness, by symbol.
 */
symbols: Array<SymbolHealth>, 
/**
 * When the outage in progress began, Unix milliseconds (lost or failing, not by
 * the user's choice); `None` when there is none.
 */
down_since_unix_ms: number | null, 
/**
 * The feed's delay (receive time minus the message's timestamp, corrected by the
 * clock offset), ms, over the last messages that carried a timestamp.
 */
feed_delay: LatencySummary, 
/**
 * The feed's clock minus ours, ms, estimated from ping/pong round trips
 * (NTP-style); `None` until a pong carried a timestamp.
 */
clock_offset_ms: number | null, 
/**
 * The offset is beyond 2 s either way: delays and timestamps are suspect.
 */
clock_skewed: boolean, 
/**
 * The endpoint dialing or in use: 0 is the primary, 1 the first backup, ….
 */
endpoint: number, 
/**
 * Every endpoint, primary first, with its circuit breaker.
 */
endpoints: Array<EndpointStatus>, };

export type UiStatus = { 
/**
 * Whether this is the built-in demo feed.
 */
demo: boolean, 
/**
 * Uplink's own lag, ms: from a frame being read off the socket to its data
 * being sent to this window, per market flush.
 */
window_lag: LatencySummary, 
/**
 * Current state.
 */
state: StateKind, 
/**
 * Connected, with symbols subscribed, but no data message for `stale_after`:
 * a health flag on top of the five states (the tray turns amber).
 */
stale: boolean, 
/**
 * The headline people read, e.g. "Connected · 12 ms" or
 * "Reconnecting · attempt 2/10 · next try in 4 s" (see [`Status::label`]).
 */
label: string, 
/**
 * What the Connect/Disconnect control does now.
 */
toggle: Toggle, 
/**
 * Why the connection is in this state (last failure, or what the user did).
 */
reason: string | null, 
/**
 * The failure that led to `error` or `reconnecting`.
 */
error_kind: ErrorKind | null, 
/**
 * In `error`: the reconnect loop ran out of attempts.
 */
gave_up: boolean, 
/**
 * When the current state was entered, Unix milliseconds.
 */
since_unix_ms: number, 
/**
 * Current reconnect attempt (1-based; 0 when not reconnecting).
 */
attempt: number, 
/**
 * Attempts before giving up.
 */
max_attempts: number, 
/**
 * When the next attempt dials, Unix milliseconds, while waiting for it. Absolute,
 * so a snapshot read later still counts down correctly.
 */
next_retry_unix_ms: number | null, 
/**
 * Latency figures.
 */
latency: LatencySummary, 
/**
 * Counters, the outbound queue's depth and drops among them.
 */
stats: StatsSnapshot, 
/**
 * Capacity of the outbound queue.
 */
queue_capacity: number, 
/**
 * Symbols subscribed to (re-sent after every reconnect).
 */
subscriptions: Array<string>, 
/**
 * The feed's URL with any credentials masked.
 */
url: string, 
/**
 * Seconds since the last data message (anything but pong, heartbeat or
 * acknowledgement), from any connection; `None` before the first.
 */
data_age_secs: number | null, 
/**
 * Every subscribed symbol's freshness, by symbol.
 */
symbols: Array<SymbolHealth>, 
/**
 * When the outage in progress began, Unix milliseconds (lost or failing, not by
 * the user's choice); `None` when there is none.
 */
down_since_unix_ms: number | null, 
/**
 * The feed's delay (receive time minus the message's timestamp, corrected by the
 * clock offset), ms, over the last messages that carried a timestamp.
 */
feed_delay: LatencySummary, 
/**
 * The feed's clock minus ours, ms, estimated from ping/pong round trips
 * (NTP-style); `None` until a pong carried a timestamp.
 */
clock_offset_ms: number | null, 
/**
 * The offset is beyond 2 s either way: delays and timestamps are suspect.
 */
clock_skewed: boolean, 
/**
 * The endpoint dialing or in use: 0 is the primary, 1 the first backup, ….
 */
endpoint: number, 
/**
 * Every endpoint, primary first, with its circuit breaker.
 */
endpoints: Array<EndpointStatus>, };

export type UiLatency = { 
/**
 * This sample, ms.
 */
ms: number, 
/**
 * Moving average, ms.
 */
avg_ms: number | null, 
/**
 * 99th percentile of the window, ms.
 */
p99_ms: number | null, 
/**
 * Wall-clock time of the sample.
 */
at_unix_ms: number, };

export type Quote = { 
/**
 * Symbol.
 */
symbol: string, 
/**
 * Last price.
 */
price: number, 
/**
 * Change since open.
 */
change: number, 
/**
 * Change since open, %.
 */
change_percent: number, 
/**
 * Session volume.
 */
volume: number, 
/**
 * Updates received for it.
 */
updates: number, };

export type OrderState = "queued" | "sent" | "acknowledged" | "partially_filled" | "filled" | "rejected" | "cancelled" | "unconfirmed" | "expired" | "dropped" | "discarded";

export type OrderStep = { 
/**
 * The state it entered.
 */
state: OrderState, 
/**
 * When, Unix ms.
 */
at_unix_ms: number, };

export type UnackedOrders = "resend" | "hold";

export type OrderView = { 
/**
 * The client's own id (orders placed from this window), or the feed's.
 */
key: string, 
/**
 * The feed's id, once accepted.
 */
id: string | null, 
/**
 * Symbol.
 */
symbol: string, 
/**
 * "buy" or "sell".
 */
side: string, 
/**
 * Quantity.
 */
qty: number, 
/**
 * Where it is in its life.
 */
status: OrderState, 
/**
 * Filled so far.
 */
filled_qty: number, 
/**
 * Average fill price.
 */
avg_price: number | null, 
/**
 * Why it was rejected, dropped, expired or is unconfirmed.
 */
reason: string | null, 
/**
 * Last change, Unix ms.
 */
updated_unix_ms: number, 
/**
 * Unconfirmed and held for the trader (`unacked_orders = hold`): the window
 * offers Resend and Discard.
 */
held: boolean, 
/**
 * Its life so far, oldest first (the last 16 steps).
 */
history: Array<OrderStep>, };

export type UiMarket = { 
/**
 * Changed quotes.
 */
quotes: Array<Quote>, 
/**
 * Changed orders.
 */
orders: Array<OrderView>, 
/**
 * Symbols no longer on the watchlist.
 */
removed: Array<string>, };

export type Level = "info" | "warn" | "error";

export type LogEntry = { 
/**
 * When, Unix ms.
 */
at_unix_ms: number, 
/**
 * How serious.
 */
level: Level, 
/**
 * What happened.
 */
message: string, };

export type NotifySettings = { 
/**
 * When the connection enters `error` (auth, TLS, …).
 */
on_error: boolean, 
/**
 * When the reconnect loop gives up after its last attempt.
 */
on_give_up: boolean, 
/**
 * When the connection recovers after an outage.
 */
on_recover: boolean, 
/**
 * When an order fills.
 */
on_order_fill: boolean, 
/**
 * When an order is rejected.
 */
on_order_reject: boolean, 
/**
 * When prices stop while the link is up (once per stale episode).
 */
on_stale: boolean, 
/**
 * When the feed has been down for `alert_after_secs`, and when it is back.
 */
on_outage: boolean, 
/**
 * Play the desktop's notification sound with the stale and outage alerts.
 */
sound: boolean, 
/**
 * When the feed switches to a backup endpoint, or back to the primary.
 */
on_switch: boolean, };

export type HeartbeatSetting = "json" | "websocket" | "custom" | "none";

export type Placement = "query" | "header" | "both";

export type Settings = { 
/**
 * Feed URLs, the primary first, then its backups in order of preference; none
 * means the built-in demo feed. An older file's single `feed_url` is read as a
 * one-entry list.
 */
feed_urls: Array<string>, 
/**
 * Auth token for the feed. Never logged, never sent to the UI.
 */
token: string | null, 
/**
 * Seconds between heartbeats.
 */
heartbeat_interval_secs: number, 
/**
 * Seconds to wait for a pong.
 */
pong_timeout_secs: number, 
/**
 * First reconnect delay, seconds.
 */
reconnect_base_delay_secs: number, 
/**
 * Largest reconnect delay, seconds.
 */
reconnect_max_delay_secs: number, 
/**
 * Attempts before giving up.
 */
max_reconnect_attempts: number, 
/**
 * Outbound queue capacity.
 */
queue_size: number, 
/**
 * Seconds without prices, while symbols are subscribed and the link is up,
 * before the feed is shown stale; 0 turns it off.
 */
stale_after_secs: number, 
/**
 * Seconds down before the outage alert; 0: only the give-up notifies.
 */
alert_after_secs: number, 
/**
 * Orders unacknowledged when the connection drops: re-sent (same client order
 * id) or held for the trader.
 */
unacked_orders: UnackedOrders, 
/**
 * Seconds an order may go unacknowledged before it is shown unconfirmed.
 */
ack_timeout_secs: number, 
/**
 * Seconds an order may wait offline before it expires; 0 = never.
 */
order_ttl_secs: number, 
/**
 * At most this many sends (orders and other messages) …; 0 = no limit.
 */
rate_limit_max: number, 
/**
 * … in any window of this many seconds.
 */
rate_limit_window_secs: number, 
/**
 * On a backup feed this long, probe the primary and switch back once it
 * answers; 0 = never.
 */
failback_after_secs: number, 
/**
 * How the link is kept alive: the seed's JSON ping, WebSocket Ping frames, a
 * custom ping, or none.
 */
heartbeat: HeartbeatSetting, 
/**
 * With `heartbeat = custom`: the text sent as a ping, e.g. `{"op":"ping"}`.
 */
ping_text: string, 
/**
 * With `heartbeat = custom`: the answer is a message of this `type` …
 */
pong_type: string, 
/**
 * … or has this top-level field, `name=value` (value as JSON, else a string).
 */
pong_field: string, 
/**
 * "" = from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY),
 * "direct" = none, or `http://[user:pass@]host:port` / `socks5://…`. Its
 * password is masked like the token in what the window sees.
 */
proxy: string, 
/**
 * A PEM file of extra CA certificates to trust, besides the system's and the
 * bundled web roots ("" = none).
 */
ca_file: string, 
/**
 * Extra headers for the WebSocket upgrade, `Name: value`; values are masked in
 * what the window sees.
 */
headers: Array<string>, 
/**
 * Where the token goes.
 */
token_placement: Placement, 
/**
 * Notifications on/off by kind.
 */
notify: NotifySettings, 
/**
 * Start hidden in the tray.
 */
start_minimized: boolean, 
/**
 * Start with the desktop session.
 */
launch_at_login: boolean, 
/**
 * Symbols on the watchlist (subscribed on the feed).
 */
watchlist: Array<string>, };

export type SettingsView = { 
/**
 * Whether a token is stored.
 */
token_set: boolean, 
/**
 * The token masked for display ("" when none).
 */
token_masked: string, 
/**
 * Things the trader should know about these settings (e.g. a token sent in the
 * clear).
 */
warnings: Array<string>, 
/**
 * Feed URLs, the primary first, then its backups in order of preference; none
 * means the built-in demo feed. An older file's single `feed_url` is read as a
 * one-entry list.
 */
feed_urls: Array<string>, 
/**
 * Auth token for the feed. Never logged, never sent to the UI.
 */
token: string | null, 
/**
 * Seconds between heartbeats.
 */
heartbeat_interval_secs: number, 
/**
 * Seconds to wait for a pong.
 */
pong_timeout_secs: number, 
/**
 * First reconnect delay, seconds.
 */
reconnect_base_delay_secs: number, 
/**
 * Largest reconnect delay, seconds.
 */
reconnect_max_delay_secs: number, 
/**
 * Attempts before giving up.
 */
max_reconnect_attempts: number, 
/**
 * Outbound queue capacity.
 */
queue_size: number, 
/**
 * Seconds without prices, while symbols are subscribed and the link is up,
 * before the feed is shown stale; 0 turns it off.
 */
stale_after_secs: number, 
/**
 * Seconds down before the outage alert; 0: only the give-up notifies.
 */
alert_after_secs: number, 
/**
 * Orders unacknowledged when the connection drops: re-sent (same client order
 * id) or held for the trader.
 */
unacked_orders: UnackedOrders, 
/**
 * Seconds an order may go unacknowledged before it is shown unconfirmed.
 */
ack_timeout_secs: number, 
/**
 * Seconds an order may wait offline before it expires; 0 = never.
 */
order_ttl_secs: number, 
/**
 * At most this many sends (orders and other messages) …; 0 = no limit.
 */
rate_limit_max: number, 
/**
 * … in any window of this many seconds.
 */
rate_limit_window_secs: number, 
/**
 * On a backup feed this long, probe the primary and switch back once it
 * answers; 0 = never.
 */
failback_after_secs: number, 
/**
 * How the link is kept alive: the seed's JSON ping, WebSocket Ping frames, a
 * custom ping, or none.
 */
heartbeat: HeartbeatSetting, 
/**
 * With `heartbeat = custom`: the text sent as a ping, e.g. `{"op":"ping"}`.
 */
ping_text: string, 
/**
 * With `heartbeat = custom`: the answer is a message of this `type` …
 */
pong_type: string, 
/**
 * … or has this top-level field, `name=value` (value as JSON, else a string).
 */
pong_field: string, 
/**
 * "" = from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY),
 * "direct" = none, or `http://[user:pass@]host:port` / `socks5://…`. Its
 * password is masked like the token in what the window sees.
 */
proxy: string, 
/**
 * A PEM file of extra CA certificates to trust, besides the system's and the
 * bundled web roots ("" = none).
 */
ca_file: string, 
/**
 * Extra headers for the WebSocket upgrade, `Name: value`; values are masked in
 * what the window sees.
 */
headers: Array<string>, 
/**
 * Where the token goes.
 */
token_placement: Placement, 
/**
 * Notifications on/off by kind.
 */
notify: NotifySettings, 
/**
 * Start hidden in the tray.
 */
start_minimized: boolean, 
/**
 * Start with the desktop session.
 */
launch_at_login: boolean, 
/**
 * Symbols on the watchlist (subscribed on the feed).
 */
watchlist: Array<string>, };

export type SettingsInput = { 
/**
 * `None`: keep the stored token; `Some("")`: remove it; `Some(t)`: replace it.
 */
token_change: string | null, 
/**
 * Feed URLs, the primary first, then its backups in order of preference; none
 * means the built-in demo feed. An older file's single `feed_url` is read as a
 * one-entry list.
 */
feed_urls: Array<string>, 
/**
 * Auth token for the feed. Never logged, never sent to the UI.
 */
token: string | null, 
/**
 * Seconds between heartbeats.
 */
heartbeat_interval_secs: number, 
/**
 * Seconds to wait for a pong.
 */
pong_timeout_secs: number, 
/**
 * First reconnect delay, seconds.
 */
reconnect_base_delay_secs: number, 
/**
 * Largest reconnect delay, seconds.
 */
reconnect_max_delay_secs: number, 
/**
 * Attempts before giving up.
 */
max_reconnect_attempts: number, 
/**
 * Outbound queue capacity.
 */
queue_size: number, 
/**
 * Seconds without prices, while symbols are subscribed and the link is up,
 * before the feed is shown stale; 0 turns it off.
 */
stale_after_secs: number, 
/**
 * Seconds down before the outage alert; 0: only the give-up notifies.
 */
alert_after_secs: number, 
/**
 * Orders unacknowledged when the connection drops: re-sent (same client order
 * id) or held for the trader.
 */
unacked_orders: UnackedOrders, 
/**
 * Seconds an order may go unacknowledged before it is shown unconfirmed.
 */
ack_timeout_secs: number, 
/**
 * Seconds an order may wait offline before it expires; 0 = never.
 */
order_ttl_secs: number, 
/**
 * At most this many sends (orders and other messages) …; 0 = no limit.
 */
rate_limit_max: number, 
/**
 * … in any window of this many seconds.
 */
rate_limit_window_secs: number, 
/**
 * On a backup feed this long, probe the primary and switch back once it
 * answers; 0 = never.
 */
failback_after_secs: number, 
/**
 * How the link is kept alive: the seed's JSON ping, WebSocket Ping frames, a
 * custom ping, or none.
 */
heartbeat: HeartbeatSetting, 
/**
 * With `heartbeat = custom`: the text sent as a ping, e.g. `{"op":"ping"}`.
 */
ping_text: string, 
/**
 * With `heartbeat = custom`: the answer is a message of this `type` …
 */
pong_type: string, 
/**
 * … or has this top-level field, `name=value` (value as JSON, else a string).
 */
pong_field: string, 
/**
 * "" = from the environment (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY, NO_PROXY),
 * "direct" = none, or `http://[user:pass@]host:port` / `socks5://…`. Its
 * password is masked like the token in what the window sees.
 */
proxy: string, 
/**
 * A PEM file of extra CA certificates to trust, besides the system's and the
 * bundled web roots ("" = none).
 */
ca_file: string, 
/**
 * Extra headers for the WebSocket upgrade, `Name: value`; values are masked in
 * what the window sees.
 */
headers: Array<string>, 
/**
 * Where the token goes.
 */
token_placement: Placement, 
/**
 * Notifications on/off by kind.
 */
notify: NotifySettings, 
/**
 * Start hidden in the tray.
 */
start_minimized: boolean, 
/**
 * Start with the desktop session.
 */
launch_at_login: boolean, 
/**
 * Symbols on the watchlist (subscribed on the feed).
 */
watchlist: Array<string>, };

export type Snapshot = { 
/**
 * The engine's current status.
 */
status: UiStatus, 
/**
 * Latest quote of each symbol.
 */
quotes: Array<Quote>, 
/**
 * Orders, newest first.
 */
orders: Array<OrderView>, 
/**
 * The event log, oldest first.
 */
log: Array<LogEntry>, 
/**
 * Settings, token masked.
 */
settings: SettingsView, };

export type ApiError = { 
/**
 * Machine-readable: `invalid_input`, `invalid_settings`, `engine_stopped`, `internal`.
 */
code: string, 
/**
 * For people.
 */
message: string, 
/**
 * Per-field messages, for forms.
 */
fields?: { [key in string]: string }, 
/**
 * With `rate_limited`: seconds until the next send is allowed.
 */
retry_in_secs?: number, };
