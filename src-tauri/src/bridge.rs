//! The one mapping from engine events to what the UI, the tray and the notifier see.
//!
//! State, latency and stats go out as they come (they are few). Market data is
//! coalesced: the latest quote per symbol and the latest state of each changed order
//! are kept, and [`Bridge::take_market`] hands over only what changed, at most once per
//! flush tick (20 Hz), so a 100,000 msg/s feed cannot flood the webview.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::Instant;

use serde::Serialize;
use uplink_engine::proto::{OrderStatus, OrderUpdate, Payload, Side};
use uplink_engine::{EngineEvent, ErrorKind, StateKind, Status};

use crate::notify::{Notification, NotifyPolicy};
use crate::settings::NotifySettings;

/// UI event names, namespaced.
pub mod names {
    /// [`super::UiStatus`]: on every state change and every stats tick.
    pub const STATUS: &str = "uplink://status";
    /// [`super::UiLatency`]: on every heartbeat round trip.
    pub const LATENCY: &str = "uplink://latency";
    /// [`super::UiMarket`]: changed quotes and orders, at most 20 per second.
    pub const MARKET: &str = "uplink://market";
    /// [`super::LogEntry`]: state changes, errors, drops.
    pub const LOG: &str = "uplink://log";
}

/// Log lines kept for a window that opens later.
const LOG_KEPT: usize = 300;
/// Orders kept for display.
const ORDERS_KEPT: usize = 200;

/// The connection status, as the window shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UiStatus {
    /// Everything the engine reports.
    #[serde(flatten)]
    pub status: Status,
    /// Whether this is the built-in demo feed.
    pub demo: bool,
}

/// One round trip.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UiLatency {
    /// This sample, ms.
    pub ms: f64,
    /// Moving average, ms.
    pub avg_ms: Option<f64>,
    /// 99th percentile of the window, ms.
    pub p99_ms: Option<f64>,
    /// Wall-clock time of the sample.
    pub at_unix_ms: u64,
}

/// The latest quote of one symbol.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Quote {
    /// Symbol.
    pub symbol: String,
    /// Last price.
    pub price: f64,
    /// Change since open.
    pub change: f64,
    /// Change since open, %.
    pub change_percent: f64,
    /// Session volume.
    pub volume: u64,
    /// Updates received for it.
    pub updates: u64,
}

/// An order as the window lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OrderView {
    /// The client's own id (orders placed from this window), or the feed's.
    pub key: String,
    /// The feed's id, once accepted.
    pub id: Option<String>,
    /// Symbol.
    pub symbol: String,
    /// "buy" or "sell".
    pub side: String,
    /// Quantity.
    pub qty: f64,
    /// "queued" (not yet written), "sent", or the feed's status.
    pub status: String,
    /// Filled so far.
    pub filled_qty: f64,
    /// Average fill price.
    pub avg_price: Option<f64>,
    /// Why it was rejected or dropped.
    pub reason: Option<String>,
    /// Last change, Unix ms.
    pub updated_unix_ms: u64,
}

/// What changed in the market since the last flush.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct UiMarket {
    /// Changed quotes.
    pub quotes: Vec<Quote>,
    /// Changed orders.
    pub orders: Vec<OrderView>,
    /// Symbols no longer on the watchlist.
    pub removed: Vec<String>,
}

/// One line of the event log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogEntry {
    /// When, Unix ms.
    pub at_unix_ms: u64,
    /// "info", "warn" or "error".
    pub level: &'static str,
    /// What happened.
    pub message: String,
}

/// What the shell must do after an event.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// Emit [`names::STATUS`].
    Status(Box<UiStatus>),
    /// Emit [`names::LATENCY`].
    Latency(UiLatency),
    /// Emit [`names::LOG`].
    Log(LogEntry),
    /// Raise a desktop notification.
    Notify(Notification),
    /// The tray should be redrawn from [`Bridge::status`].
    Tray,
}

/// The bridge's memory: last status, market book, orders, log, notification policy.
#[derive(Debug)]
pub struct Bridge {
    demo: bool,
    status: Option<UiStatus>,
    quotes: HashMap<String, Quote>,
    dirty_quotes: BTreeSet<String>,
    removed: Vec<String>,
    orders: VecDeque<OrderView>,
    dirty_orders: BTreeSet<String>,
    log: VecDeque<LogEntry>,
    policy: NotifyPolicy,
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn status_name(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::Accepted => "accepted",
        OrderStatus::PartiallyFilled => "partially_filled",
        OrderStatus::Filled => "filled",
        OrderStatus::Rejected => "rejected",
        OrderStatus::Cancelled => "cancelled",
    }
}

impl Bridge {
    /// An empty bridge; `demo` marks the built-in feed.
    pub fn new(demo: bool) -> Self {
        Bridge {
            demo,
            status: None,
            quotes: HashMap::new(),
            dirty_quotes: BTreeSet::new(),
            removed: Vec::new(),
            orders: VecDeque::new(),
            dirty_orders: BTreeSet::new(),
            log: VecDeque::new(),
            policy: NotifyPolicy::new(),
        }
    }

    /// Marks whether the built-in demo feed is in use (after a settings change).
    pub fn set_demo(&mut self, demo: bool) {
        self.demo = demo;
        if let Some(s) = &mut self.status {
            s.demo = demo;
        }
    }

    /// The last status seen.
    pub fn status(&self) -> Option<&UiStatus> {
        self.status.as_ref()
    }

    /// All quotes, by symbol.
    pub fn quotes(&self) -> Vec<Quote> {
        let mut q: Vec<Quote> = self.quotes.values().cloned().collect();
        q.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        q
    }

    /// All orders, newest first.
    pub fn orders(&self) -> Vec<OrderView> {
        self.orders.iter().rev().cloned().collect()
    }

    /// The event log, oldest first.
    pub fn log(&self) -> Vec<LogEntry> {
        self.log.iter().cloned().collect()
    }

    fn push_log(
        &mut self,
        out: &mut Vec<Out>,
        at_unix_ms: u64,
        level: &'static str,
        message: String,
    ) {
        let e = LogEntry {
            at_unix_ms,
            level,
            message,
        };
        if self.log.len() == LOG_KEPT {
            self.log.pop_front();
        }
        self.log.push_back(e.clone());
        out.push(Out::Log(e));
    }

    /// Adds a line to the event log that no engine event carries (e.g. a settings
    /// file that could not be read at start).
    pub fn note(&mut self, level: &'static str, message: String, now_ms: u64) {
        let mut out = Vec::new();
        self.push_log(&mut out, now_ms, level, message);
    }

    /// Records an order placed from the window, before it is written.
    pub fn add_local_order(&mut self, key: &str, symbol: &str, side: &str, qty: f64, now_ms: u64) {
        self.upsert_order(OrderView {
            key: key.to_owned(),
            id: None,
            symbol: symbol.to_owned(),
            side: side.to_owned(),
            qty,
            status: "queued".into(),
            filled_qty: 0.0,
            avg_price: None,
            reason: None,
            updated_unix_ms: now_ms,
        });
    }

    /// Drops quotes of symbols taken off the watchlist.
    pub fn remove_symbols(&mut self, symbols: &[String]) {
        for s in symbols {
            if self.quotes.remove(s).is_some() {
                self.dirty_quotes.remove(s);
            }
            self.removed.push(s.clone());
        }
    }

    fn upsert_order(&mut self, o: OrderView) {
        self.dirty_orders.insert(o.key.clone());
        if let Some(slot) = self.orders.iter_mut().find(|x| x.key == o.key) {
            *slot = o;
            return;
        }
        if self.orders.len() == ORDERS_KEPT {
            self.orders.pop_front();
        }
        self.orders.push_back(o);
    }

    fn on_order(&mut self, o: &OrderUpdate, now_ms: u64) {
        let key = o
            .client_order_id
            .clone()
            .or_else(|| o.id.clone())
            .unwrap_or_default();
        let status = o.status.map_or("sent", status_name).to_owned();
        self.upsert_order(OrderView {
            key,
            id: o.id.clone(),
            symbol: o.symbol.clone(),
            side: side_name(o.side).into(),
            qty: o.qty,
            status,
            filled_qty: o.filled_qty.unwrap_or(0.0),
            avg_price: o.avg_price,
            reason: o.reason.clone(),
            updated_unix_ms: now_ms,
        });
    }

    /// Maps one engine event. Market data only updates the book (see [`Bridge::take_market`]).
    pub fn apply(
        &mut self,
        ev: EngineEvent,
        now: Instant,
        now_ms: u64,
        prefs: &NotifySettings,
    ) -> Vec<Out> {
        let mut out = Vec::new();
        match ev {
            EngineEvent::Message { message } => match message.payload {
                Payload::Update(u) => {
                    // Hot path: no allocation unless the symbol is new.
                    if let Some(q) = self.quotes.get_mut(&u.symbol) {
                        q.price = u.price;
                        q.change = u.change;
                        q.change_percent = u.change_percent;
                        q.volume = u.volume;
                        q.updates += 1;
                    } else {
                        self.quotes.insert(
                            u.symbol.clone(),
                            Quote {
                                symbol: u.symbol.clone(),
                                price: u.price,
                                change: u.change,
                                change_percent: u.change_percent,
                                volume: u.volume,
                                updates: 1,
                            },
                        );
                    }
                    if !self.dirty_quotes.contains(&u.symbol) {
                        self.dirty_quotes.insert(u.symbol);
                    }
                }
                Payload::Order(o) => {
                    self.on_order(&o, now_ms);
                    if let Some(n) = self.policy.on_order(now, &o, prefs) {
                        out.push(Out::Notify(n));
                    }
                    if o.status == Some(OrderStatus::Rejected) {
                        let why = o.reason.as_deref().unwrap_or("no reason given");
                        self.push_log(
                            &mut out,
                            now_ms,
                            "warn",
                            format!(
                                "Order {} {} {} rejected: {why}",
                                side_name(o.side),
                                o.qty,
                                o.symbol
                            ),
                        );
                    }
                }
                Payload::Error(e) => {
                    self.push_log(
                        &mut out,
                        now_ms,
                        "warn",
                        format!("Feed error {}: {}", e.code, e.message),
                    );
                }
                _ => {}
            },
            EngineEvent::State(st) => {
                let prev = self.status.as_ref().map(|s| s.status.state);
                let line = describe(&st, prev);
                let level = match st.state {
                    StateKind::Error => "error",
                    StateKind::Reconnecting => "warn",
                    _ => "info",
                };
                if let Some(n) = self.policy.on_status(now, &st, prefs) {
                    out.push(Out::Notify(n));
                }
                let ui = UiStatus {
                    status: *st,
                    demo: self.demo,
                };
                self.status = Some(ui.clone());
                if let Some(line) = line {
                    self.push_log(&mut out, now_ms, level, line);
                }
                out.push(Out::Status(Box::new(ui)));
                out.push(Out::Tray);
            }
            EngineEvent::Latency(l) => {
                if let Some(s) = &mut self.status {
                    s.status.latency = l.summary;
                }
                out.push(Out::Latency(UiLatency {
                    ms: l.ms,
                    avg_ms: l.summary.avg_ms,
                    p99_ms: l.summary.p99_ms,
                    at_unix_ms: now_ms,
                }));
                out.push(Out::Tray);
            }
            EngineEvent::Stats(s) => {
                if let Some(ui) = &mut self.status {
                    ui.status.stats = s.stats;
                    ui.status.latency = s.latency;
                    ui.status.queue_size = ui.status.stats.queue_depth;
                    if let Some(at) = ui.status.next_retry_unix_ms {
                        ui.status.next_retry_in_ms = Some(at.saturating_sub(now_ms));
                    }
                    out.push(Out::Status(Box::new(ui.clone())));
                    out.push(Out::Tray);
                }
            }
            EngineEvent::Sent { message } => {
                if let Some(key) = client_order_id(&message) {
                    self.mark_sent(&key, now_ms);
                }
            }
            EngineEvent::QueueDropped { message, total } => {
                if let Some(key) = client_order_id(&message) {
                    if let Some(o) = self.orders.iter().find(|o| o.key == key).cloned() {
                        self.upsert_order(OrderView {
                            status: "dropped".into(),
                            reason: Some("outbound queue full".into()),
                            updated_unix_ms: now_ms,
                            ..o
                        });
                    }
                }
                self.push_log(
                    &mut out,
                    now_ms,
                    "warn",
                    format!(
                        "Outbound queue full: dropped the oldest message ({total} dropped so far)"
                    ),
                );
            }
            EngineEvent::Error { kind, message } => {
                // Connection failures are logged with the state change they cause.
                if kind.keeps_connection() {
                    let what = if kind == ErrorKind::MalformedMessage {
                        "Malformed message"
                    } else {
                        "Feed error"
                    };
                    self.push_log(&mut out, now_ms, "warn", format!("{what}: {message}"));
                }
            }
        }
        out
    }

    /// What changed in the market since the last call, if anything.
    pub fn take_market(&mut self) -> Option<UiMarket> {
        if self.dirty_quotes.is_empty() && self.dirty_orders.is_empty() && self.removed.is_empty() {
            return None;
        }
        let quotes = std::mem::take(&mut self.dirty_quotes)
            .into_iter()
            .filter_map(|s| self.quotes.get(&s).cloned())
            .collect();
        let dirty = std::mem::take(&mut self.dirty_orders);
        let orders = self
            .orders
            .iter()
            .filter(|o| dirty.contains(&o.key))
            .cloned()
            .collect();
        Some(UiMarket {
            quotes,
            orders,
            removed: std::mem::take(&mut self.removed),
        })
    }

    /// Marks an order written to the feed (its queued state ends).
    pub fn mark_sent(&mut self, key: &str, now_ms: u64) {
        if let Some(o) = self
            .orders
            .iter()
            .find(|o| o.key == key && o.status == "queued")
            .cloned()
        {
            self.upsert_order(OrderView {
                status: "sent".into(),
                updated_unix_ms: now_ms,
                ..o
            });
        }
    }
}

/// The `client_order_id` of an outbound order message, if it is one.
fn client_order_id(message: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(message).ok()?;
    (v["type"] == "order").then(|| v["data"]["client_order_id"].as_str().map(str::to_owned))?
}

/// The log line for a state change; `None` for repeats that say nothing new.
fn describe(st: &Status, prev: Option<StateKind>) -> Option<String> {
    let reason = st.reason.as_deref().unwrap_or("");
    Some(match st.state {
        StateKind::Connected => format!("Connected to {}", st.url),
        StateKind::Connecting => format!("Connecting to {}", st.url),
        StateKind::Disconnected => format!(
            "Disconnected{}",
            if reason.is_empty() {
                String::new()
            } else {
                format!(" ({reason})")
            }
        ),
        StateKind::Error => format!("Error: {reason}"),
        StateKind::Reconnecting => match st.next_retry_in_ms {
            Some(ms) => format!(
                "Reconnecting: attempt {}/{} in {:.1} s{}",
                st.attempt,
                st.max_attempts,
                ms as f64 / 1000.0,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            ),
            // The dial of an attempt already announced.
            None if prev == Some(StateKind::Reconnecting) => return None,
            None => format!("Reconnecting: attempt {}/{}", st.attempt, st.max_attempts),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;
    use uplink_engine::core::{Config, Connection};

    fn msg(text: &str) -> EngineEvent {
        EngineEvent::Message {
            message: uplink_engine::proto::Envelope::decode(text).unwrap(),
        }
    }

    #[test]
    fn a_flood_of_updates_becomes_one_quote_per_symbol_per_flush() {
        let mut b = Bridge::new(true);
        let prefs = NotifySettings::default();
        let now = Instant::now();
        for i in 0..100_000 {
            let sym = ["AAPL", "MSFT"][i % 2];
            let out = b.apply(
                msg(&format!(
                    r#"{{"type":"update","data":{{"symbol":"{sym}","price":{}.5,"volume":{i}}}}}"#,
                    100 + i % 7
                )),
                now,
                0,
                &prefs,
            );
            assert!(out.is_empty(), "market data is never emitted per message");
        }
        let m = b.take_market().unwrap();
        assert_eq!(m.quotes.len(), 2);
        let aapl = m.quotes.iter().find(|q| q.symbol == "AAPL").unwrap();
        // The last AAPL update is i = 99,998, priced 100 + 99,998 % 7 = 103.5.
        assert_eq!(
            (aapl.updates, aapl.volume, aapl.price),
            (50_000, 99_998, 103.5)
        );
        assert_eq!(b.take_market(), None, "nothing changed since");
    }

    #[test]
    fn orders_move_from_queued_to_the_feeds_status() {
        let mut b = Bridge::new(false);
        let prefs = NotifySettings::default();
        let now = Instant::now();
        b.add_local_order("ui-1", "AAPL", "buy", 10.0, 1);
        assert_eq!(b.take_market().unwrap().orders[0].status, "queued");
        b.mark_sent("ui-1", 2);
        assert_eq!(b.orders()[0].status, "sent");
        b.apply(
            msg(r#"{"type":"order","data":{"id":"ord-1","client_order_id":"ui-1","symbol":"AAPL","side":"buy","qty":10,"status":"filled","filled_qty":10,"avg_price":190.1}}"#),
            now,
            3,
            &prefs,
        );
        let o = &b.orders()[0];
        assert_eq!(
            (
                o.status.as_str(),
                o.id.as_deref(),
                o.filled_qty,
                o.avg_price
            ),
            ("filled", Some("ord-1"), 10.0, Some(190.1))
        );
        assert_eq!(b.orders().len(), 1, "one row per order");

        let out = b.apply(
            msg(r#"{"type":"order","data":{"id":"ord-2","symbol":"ZZZ","side":"sell","qty":1,"status":"rejected","reason":"unknown symbol ZZZ"}}"#),
            now,
            4,
            &prefs,
        );
        assert!(out
            .iter()
            .any(|o| matches!(o, Out::Notify(n) if n.title == "Order rejected: sell 1 ZZZ")));
        assert!(out.iter().any(|o| matches!(o, Out::Log(l) if l.level == "warn" && l.message.contains("unknown symbol ZZZ"))));
    }

    #[test]
    fn state_changes_reach_the_ui_the_tray_the_log_and_the_notifier() {
        let now = Instant::now();
        let wall = SystemTime::now();
        let mut core = Connection::new(
            Config {
                max_reconnect_attempts: 1,
                jitter: 0.0,
                ..Config::default()
            },
            1,
            now,
        )
        .unwrap();
        core.set_url("ws://127.0.0.1:9000/ws");
        let mut b = Bridge::new(true);
        let prefs = NotifySettings::default();
        let st = |c: &Connection| EngineEvent::State(Box::new(c.status(now, wall)));

        core.handle_connect(now);
        let out = b.apply(st(&core), now, 0, &prefs);
        assert!(
            matches!(&out[0], Out::Log(l) if l.message == "Connecting to ws://127.0.0.1:9000/ws")
        );
        assert!(
            matches!(&out[1], Out::Status(s) if s.demo && s.status.state == StateKind::Connecting)
        );
        assert_eq!(out[2], Out::Tray);

        let conn = core.current_conn().unwrap();
        core.handle_connect_failed(now, conn, ErrorKind::ConnectFailed, "connection refused");
        let out = b.apply(st(&core), now, 0, &prefs);
        assert!(
            matches!(&out[0], Out::Log(l) if l.level == "warn" && l.message == "Reconnecting: attempt 1/1 in 1.0 s (connection refused)"),
            "{out:?}"
        );

        core.handle_timeout(now + std::time::Duration::from_secs(1));
        let conn = core.current_conn().unwrap();
        b.apply(st(&core), now, 0, &prefs);
        core.handle_connect_failed(now, conn, ErrorKind::ConnectFailed, "connection refused");
        let out = b.apply(st(&core), now, 0, &prefs);
        assert!(out.iter().any(|o| matches!(o, Out::Notify(n) if n.body == "gave up after 1 attempts: connection refused")));
        assert!(out
            .iter()
            .any(|o| matches!(o, Out::Log(l) if l.level == "error")));
        let json = serde_json::to_value(b.status().unwrap()).unwrap();
        assert_eq!(
            (json["state"].as_str(), json["demo"].as_bool()),
            (Some("error"), Some(true))
        );
    }

    #[test]
    fn a_dropped_order_is_marked_so_the_trader_sees_it() {
        let mut b = Bridge::new(false);
        b.add_local_order("ui-7", "AAPL", "buy", 1.0, 0);
        let dropped = r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":1,"client_order_id":"ui-7"}}"#;
        let out = b.apply(
            EngineEvent::QueueDropped {
                message: dropped.into(),
                total: 1,
            },
            Instant::now(),
            5,
            &NotifySettings::default(),
        );
        assert_eq!(b.orders()[0].status, "dropped");
        assert!(matches!(&out[0], Out::Log(l) if l.message.contains("dropped the oldest message")));
    }
}
