//! The app's model, in plain Rust with no Tauri types: the watchlist with its quotes,
//! orders with a typed lifecycle, the event log, the notification policy, and the one
//! mapping from engine events to what the window and the notifier see.
//!
//! The connection's status is not kept here: the engine publishes it (a `watch`), and
//! [`AppModel::ui_status`] only adds what the app knows (the demo flag). Market data is
//! coalesced: the latest quote per symbol and the latest state of each changed order
//! are kept, and [`AppModel::take_market`] hands over only what changed, at most once
//! per flush tick (20 Hz), so a 100,000 msg/s feed cannot flood the webview.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tokio::sync::Notify;
use uplink_engine::core::{fmt_secs, shorten, LatencySummary, LatencyTracker};
use uplink_engine::proto::{CompactString, OrderStatus, OrderUpdate, Payload, Side};
use uplink_engine::{
    EngineEvent, ErrorKind, Expiry, MessageId, Redactor, StateKind, Status, Unconfirmed,
};

use crate::notify::{Notification, NotifyPolicy};
use crate::settings::NotifySettings;

/// UI event names, namespaced.
pub mod names {
    /// [`super::UiStatus`]: whenever the engine publishes a new status.
    pub const STATUS: &str = "uplink://status";
    /// [`super::UiLatency`]: on every heartbeat round trip.
    pub const LATENCY: &str = "uplink://latency";
    /// [`super::UiMarket`]: changed quotes and orders, at most 20 per second.
    pub const MARKET: &str = "uplink://market";
    /// [`super::LogEntry`]: state changes, retries, errors, drops.
    pub const LOG: &str = "uplink://log";
}

/// An identical log line within this many milliseconds is counted, not repeated.
const REPEAT_WINDOW_MS: u64 = 10_000;

/// Log lines kept for a window that opens later.
pub const LOG_KEPT: usize = 300;
/// Orders kept for display.
pub const ORDERS_KEPT: usize = 200;

/// The connection status, as the window shows it.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
pub struct UiStatus {
    /// Everything the engine publishes.
    #[serde(flatten)]
    pub status: Status,
    /// Whether this is the built-in demo feed.
    pub demo: bool,
    /// Uplink's own lag, ms: from a frame being read off the socket to its data
    /// being sent to this window, per market flush.
    pub window_lag: LatencySummary,
}

/// One round trip.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
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
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
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

/// The model's copy of a symbol's latest quote.
#[derive(Debug)]
struct Latest {
    /// The quote as the window shows it.
    quote: Quote,
    /// Changed since the last flush: it goes out in the next market frame.
    unsent: bool,
}

/// Why an order is unconfirmed after the engine ended unexpectedly.
pub const ENGINE_STOPPED_ORDER: &str =
    "the connection engine stopped before the feed acknowledged it: check with your broker";

/// Where an order is in its life, as the window shows it:
/// queued → sent → acknowledged → partially filled → filled (or rejected), or
/// unconfirmed, expired, cancelled, dropped, discarded.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// The engine has it; not yet written (offline, or behind other messages).
    Queued,
    /// Written to the socket; the feed has not acknowledged it yet.
    Sent,
    /// The feed acknowledged it (echoed its client order id, status accepted).
    Acknowledged,
    /// Partly filled.
    PartiallyFilled,
    /// Filled.
    Filled,
    /// The feed rejected it (see `reason`).
    Rejected,
    /// Cancelled: at the feed, or by the trader before it was written.
    Cancelled,
    /// Written, but no acknowledgement: it may or may not have reached the feed.
    Unconfirmed,
    /// Waited too long offline (or the feed changed): never sent.
    Expired,
    /// Dropped from a full outbound queue before it was written.
    Dropped,
    /// Unconfirmed, and the trader chose not to send it again.
    Discarded,
}

/// [`OrderState::progress`] of the feed's own final states.
const SETTLED: u8 = 3;

impl OrderState {
    /// How far the feed has taken the order: 0 before it said anything (or for the
    /// engine's and the trader's own outcomes), then acknowledged, partially filled,
    /// and [`SETTLED`] (filled, rejected, cancelled). A report never moves a row to
    /// less.
    fn progress(self) -> u8 {
        match self {
            OrderState::Acknowledged => 1,
            OrderState::PartiallyFilled => 2,
            OrderState::Filled | OrderState::Rejected | OrderState::Cancelled => SETTLED,
            _ => 0,
        }
    }

    /// Nothing more will happen to it.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderState::Filled
                | OrderState::Rejected
                | OrderState::Cancelled
                | OrderState::Expired
                | OrderState::Dropped
                | OrderState::Discarded
        )
    }
}

/// One step of an order's life, with its time.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, ts_rs::TS)]
pub struct OrderStep {
    /// The state it entered.
    pub state: OrderState,
    /// When, Unix ms.
    pub at_unix_ms: u64,
}

/// Steps kept per order.
const STEPS_KEPT: usize = 16;

impl From<OrderStatus> for OrderState {
    fn from(s: OrderStatus) -> Self {
        match s {
            OrderStatus::Accepted => OrderState::Acknowledged,
            OrderStatus::PartiallyFilled => OrderState::PartiallyFilled,
            OrderStatus::Filled => OrderState::Filled,
            OrderStatus::Rejected => OrderState::Rejected,
            OrderStatus::Cancelled => OrderState::Cancelled,
        }
    }
}

/// An order as the window lists it.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
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
    /// Where it is in its life.
    pub status: OrderState,
    /// Filled so far.
    pub filled_qty: f64,
    /// Average fill price.
    pub avg_price: Option<f64>,
    /// Why it was rejected, dropped, expired or is unconfirmed.
    pub reason: Option<String>,
    /// Last change, Unix ms.
    pub updated_unix_ms: u64,
    /// Unconfirmed and held for the trader (`unacked_orders = hold`): the window
    /// offers Resend and Discard.
    pub held: bool,
    /// Its life so far, oldest first (the last 16 steps).
    pub history: Vec<OrderStep>,
}

/// What changed in the market since the last flush.
#[derive(Debug, Clone, Serialize, PartialEq, Default, ts_rs::TS)]
pub struct UiMarket {
    /// Changed quotes.
    pub quotes: Vec<Quote>,
    /// Changed orders.
    pub orders: Vec<OrderView>,
    /// Symbols no longer on the watchlist.
    pub removed: Vec<String>,
}

/// How serious a log line is.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Normal operation.
    Info,
    /// Something to notice (a retry, a feed error, a drop).
    Warn,
    /// Something failed for good until someone acts.
    Error,
}

/// One line of the event log.
#[derive(Debug, Clone, Serialize, PartialEq, ts_rs::TS)]
pub struct LogEntry {
    /// When, Unix ms.
    pub at_unix_ms: u64,
    /// How serious.
    pub level: Level,
    /// What happened.
    pub message: String,
}

/// What the shell must do after an event. (Status and tray follow the engine's
/// published status directly; they are not outputs of the model.)
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// Emit [`names::LATENCY`].
    Latency(UiLatency),
    /// Emit [`names::LOG`].
    Log(LogEntry),
    /// Raise a desktop notification.
    Notify(Notification),
}

/// The model's memory: market book, orders, log, notification policy.
#[derive(Debug)]
pub struct AppModel {
    /// Whether the built-in demo feed is in use (shown as a badge).
    demo: bool,
    /// Which notifications the user wants.
    prefs: NotifySettings,
    /// Latest quote per symbol, each marked when it changed since the last flush: one
    /// lookup per price update, the hot path.
    quotes: HashMap<String, Latest>,
    /// Symbols whose quote was marked since the last flush, each once per mark (a
    /// symbol taken off the watchlist may linger here; the flush skips it). As decoded,
    /// so that marking one allocates nothing.
    dirty_quotes: Vec<CompactString>,
    /// Symbols taken off the watchlist since the last flush.
    removed: Vec<String>,
    /// Orders, oldest first, at most [`ORDERS_KEPT`].
    orders: VecDeque<OrderView>,
    /// Orders that changed since the last flush, by key.
    dirty_orders: BTreeSet<String>,
    /// Orders placed here, by the engine's message id, to their key; entries leave
    /// with their row (at most [`ORDERS_KEPT`]).
    by_id: HashMap<MessageId, String>,
    /// The event log, oldest first, at most [`LOG_KEPT`].
    log: VecDeque<LogEntry>,
    /// When to notify.
    policy: NotifyPolicy,
    /// The last log line, when it was first written, and how often it came again
    /// since (not repeated in the log).
    repeat: Option<(String, u64, u64)>,
    /// Symbols on the watchlist: quotes for others are not kept (a feed cannot fill
    /// the book with symbols nobody asked for).
    watchlist: BTreeSet<String>,
    /// When the oldest frame behind the market data not yet flushed was read.
    unflushed_since: Option<Instant>,
    /// Frame read to window, per market flush.
    window_lag: LatencyTracker,
    /// Told whenever market data becomes due (a quote, an order row, a removed
    /// symbol), whoever changed it (the feed or a command): what wakes the window's
    /// next frame ([`crate::pump::frames`]). Holds one permit at most.
    market_due: Arc<Notify>,
    /// Cleans the feed's own strings (order ids, symbols, reasons) before the window,
    /// the log or a notification shows them: the configuration's secrets removed,
    /// control characters escaped, at most [`uplink_engine::core::redact::MAX_TEXT`]
    /// characters. The feed bounds none of them.
    redactor: Redactor,
}

fn push_step(history: &mut Vec<OrderStep>, state: OrderState, at_unix_ms: u64) {
    if history.len() == STEPS_KEPT {
        history.remove(0);
    }
    history.push(OrderStep { state, at_unix_ms });
}

fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

impl AppModel {
    /// An empty model; `demo` marks the built-in feed.
    pub fn new(demo: bool, prefs: NotifySettings) -> Self {
        AppModel {
            demo,
            prefs,
            quotes: HashMap::new(),
            dirty_quotes: Vec::new(),
            removed: Vec::new(),
            orders: VecDeque::new(),
            dirty_orders: BTreeSet::new(),
            by_id: HashMap::new(),
            log: VecDeque::new(),
            policy: NotifyPolicy::new(),
            repeat: None,
            watchlist: BTreeSet::new(),
            unflushed_since: None,
            window_lag: LatencyTracker::new(100),
            redactor: Redactor::default(),
            market_due: Arc::new(Notify::new()),
        }
    }

    /// Notified whenever [`AppModel::take_market`] has something new.
    pub fn market_due(&self) -> Arc<Notify> {
        Arc::clone(&self.market_due)
    }

    /// Marks whether the built-in demo feed is in use (after a settings change).
    pub fn set_demo(&mut self, demo: bool) {
        self.demo = demo;
    }

    /// Cleans what the feed says with the secrets of the configuration in use
    /// ([`uplink_engine::ClientConfig::redactor`]).
    pub fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    /// The symbols on the watchlist; quotes of any other are ignored.
    pub fn set_watchlist(&mut self, symbols: &[String]) {
        self.watchlist = symbols.iter().cloned().collect();
        let keep = &self.watchlist;
        self.quotes.retain(|s, _| keep.contains(s));
    }

    /// Which notifications the user wants (after a settings change).
    pub fn set_prefs(&mut self, prefs: NotifySettings) {
        self.prefs = prefs;
    }

    /// The engine's status as the window shows it.
    pub fn ui_status(&self, status: &Status) -> UiStatus {
        UiStatus {
            status: status.clone(),
            demo: self.demo,
            window_lag: self.window_lag.summary(),
        }
    }

    /// All quotes, by symbol.
    pub fn quotes(&self) -> Vec<Quote> {
        let mut q: Vec<Quote> = self.quotes.values().map(|l| l.quote.clone()).collect();
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

    fn push_log(&mut self, out: &mut Vec<Out>, at_unix_ms: u64, level: Level, message: String) {
        // The same line again within REPEAT_WINDOW (a flood of malformed frames or feed
        // errors) is counted, not repeated; the count goes out with the next new line.
        if let Some((last, at, n)) = &mut self.repeat {
            if *last == message && at_unix_ms.saturating_sub(*at) < REPEAT_WINDOW_MS {
                *n += 1;
                return;
            }
        }
        if let Some((last, _, n)) = self.repeat.take() {
            if n > 0 {
                let summary = LogEntry {
                    at_unix_ms,
                    level: Level::Info,
                    message: format!(
                        "(the line \"{}\" repeated {n} more times)",
                        shorten(&last, 80)
                    ),
                };
                if self.log.len() == LOG_KEPT {
                    self.log.pop_front();
                }
                self.log.push_back(summary.clone());
                out.push(Out::Log(summary));
            }
        }
        self.repeat = Some((message.clone(), at_unix_ms, 0));
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
    pub fn note(&mut self, level: Level, message: String, now_ms: u64) {
        let mut out = Vec::new();
        self.push_log(&mut out, now_ms, level, message);
    }

    /// Records an order placed from the window, once the engine has accepted it under
    /// `id`. (Call it before the engine can report on `id`: the service holds the
    /// model's lock across `send` and this call.)
    pub fn order_placed(
        &mut self,
        id: MessageId,
        key: &str,
        symbol: &str,
        side: Side,
        qty: f64,
        now_ms: u64,
    ) {
        self.by_id.insert(id, key.to_owned());
        self.upsert_order(OrderView {
            key: key.to_owned(),
            id: None,
            symbol: symbol.to_owned(),
            side: side_name(side).into(),
            qty,
            status: OrderState::Queued,
            filled_qty: 0.0,
            avg_price: None,
            reason: None,
            updated_unix_ms: now_ms,
            held: false,
            history: vec![OrderStep {
                state: OrderState::Queued,
                at_unix_ms: now_ms,
            }],
        });
    }

    /// The engine's message id of the order `key` placed here, if it is still listed.
    pub fn message_id(&self, key: &str) -> Option<MessageId> {
        self.by_id
            .iter()
            .find(|(_, k)| k.as_str() == key)
            .map(|(id, _)| *id)
    }

    /// The engine ended without being asked, and `failed` is the `error` status the
    /// app now shows. Raises the error notification (as for any `error`), logs it,
    /// and marks every order placed here that the feed had not acknowledged
    /// (queued, sent or unconfirmed) as unconfirmed: its last events may have died
    /// with the engine, so it may or may not have reached the feed. The message ids
    /// of the dead engine are forgotten, so nothing of the next engine's is mistaken
    /// for them; the feed's later reports still find the rows by client order id.
    pub fn engine_stopped(&mut self, failed: &Status, now: Instant, now_ms: u64) -> Vec<Out> {
        let mut out = Vec::new();
        if let Some(n) = self.policy.on_status(now, failed, &self.prefs) {
            out.push(Out::Notify(n));
        }
        self.push_log(
            &mut out,
            now_ms,
            Level::Error,
            format!(
                "{}: a fresh engine is ready, press Connect",
                failed
                    .reason
                    .as_deref()
                    .unwrap_or("the connection engine stopped")
            ),
        );
        let open = [
            OrderState::Queued,
            OrderState::Sent,
            OrderState::Unconfirmed,
        ];
        let ids: Vec<MessageId> = self.by_id.keys().copied().collect();
        for id in ids {
            self.step(
                id,
                &open,
                OrderState::Unconfirmed,
                Some(ENGINE_STOPPED_ORDER.into()),
                false,
                now_ms,
            );
        }
        self.by_id.clear();
        out
    }

    /// Drops quotes of symbols taken off the watchlist.
    pub fn remove_symbols(&mut self, symbols: &[String]) {
        for s in symbols {
            self.quotes.remove(s);
            self.removed.push(s.clone());
            self.market_due.notify_one();
        }
    }

    fn upsert_order(&mut self, o: OrderView) {
        self.dirty_orders.insert(o.key.clone());
        self.market_due.notify_one();
        if let Some(slot) = self.orders.iter_mut().find(|x| x.key == o.key) {
            *slot = o;
            return;
        }
        if self.orders.len() == ORDERS_KEPT {
            // The oldest row nobody can act on any more goes: one that is final, or
            // not placed from here. Only if every row is an open order of this window
            // does the oldest of those go (and with it the window's hold on it).
            let mine = |o: &OrderView| self.by_id.values().any(|k| *k == o.key);
            let gone = self
                .orders
                .iter()
                .position(|o| o.status.is_final() || !mine(o))
                .unwrap_or(0);
            if let Some(old) = self.orders.remove(gone) {
                self.by_id.retain(|_, k| *k != old.key);
            }
        }
        self.orders.push_back(o);
    }

    /// Records the feed's id of the order `key`, if it has none yet.
    fn set_feed_id(&mut self, key: &str, order_id: Option<String>) {
        let Some(order_id) = order_id.map(|id| self.redactor.clean(&id)) else {
            return;
        };
        if let Some(o) = self
            .orders
            .iter_mut()
            .find(|o| o.key == key && o.id.is_none())
        {
            o.id = Some(order_id);
            self.dirty_orders.insert(key.to_owned());
            self.market_due.notify_one();
        }
    }

    /// Moves the order placed here as `id` to `to`, if it is in one of `from` (a late
    /// report never undoes what the feed said).
    fn step(
        &mut self,
        id: MessageId,
        from: &[OrderState],
        to: OrderState,
        reason: Option<String>,
        held: bool,
        now_ms: u64,
    ) {
        let Some(key) = self.by_id.get(&id).cloned() else {
            return;
        };
        let Some(o) = self
            .orders
            .iter()
            .find(|o| o.key == key && from.contains(&o.status))
            .cloned()
        else {
            return;
        };
        let mut history = o.history.clone();
        push_step(&mut history, to, now_ms);
        self.upsert_order(OrderView {
            status: to,
            reason: reason.or(o.reason.clone()),
            updated_unix_ms: now_ms,
            held,
            history,
            ..o
        });
    }

    fn on_order(&mut self, o: &OrderUpdate, now_ms: u64) {
        let key = o
            .client_order_id
            .clone()
            .or_else(|| o.id.clone())
            .unwrap_or_default();
        let status = o.status.map_or(OrderState::Sent, OrderState::from);
        let prev = self.orders.iter().find(|x| x.key == key);
        // A late or repeated report (a deduplicated re-send's "accepted", reports
        // overtaking each other) never moves a row back: not out of a final state,
        // not below how far the feed has taken it, not from one of the feed's final
        // states to another, and its fill never shrinks.
        if let Some(p) = prev {
            let back = status.progress() < p.status.progress();
            let settled = p.status.progress() == SETTLED && status != p.status;
            if (p.status.is_final() && !status.is_final()) || back || settled {
                return;
            }
        }
        let mut history = prev.map(|p| p.history.clone()).unwrap_or_default();
        if prev.map(|p| p.status) != Some(status) {
            push_step(&mut history, status, now_ms);
        }
        let filled = o.filled_qty.unwrap_or(0.0);
        self.upsert_order(OrderView {
            key,
            id: o.id.clone().or_else(|| prev.and_then(|p| p.id.clone())),
            symbol: o.symbol.clone(),
            side: side_name(o.side).into(),
            qty: o.qty,
            status,
            filled_qty: prev.map_or(filled, |p| p.filled_qty.max(filled)),
            avg_price: o.avg_price.or_else(|| prev.and_then(|p| p.avg_price)),
            reason: o
                .reason
                .clone()
                .or_else(|| prev.and_then(|p| p.reason.clone())),
            updated_unix_ms: now_ms,
            held: false,
            history,
        });
    }

    /// A feed message other than a venue's own order report (see [`AppModel::apply`]).
    fn message(&mut self, payload: Payload, now: Instant, now_ms: u64, out: &mut Vec<Out>) {
        match payload {
            Payload::Update(u) => {
                // Hot path: one lookup, and no allocation unless the symbol is new.
                if let Some(l) = self.quotes.get_mut(u.symbol.as_str()) {
                    l.quote.price = u.price;
                    l.quote.change = u.change;
                    l.quote.change_percent = u.change_percent;
                    l.quote.volume = u.volume;
                    l.quote.updates += 1;
                    if !l.unsent {
                        l.unsent = true;
                        self.dirty_quotes.push(u.symbol);
                        self.market_due.notify_one();
                    }
                } else if self.watchlist.contains(u.symbol.as_str()) {
                    let symbol = String::from(u.symbol.as_str());
                    let quote = Quote {
                        symbol: symbol.clone(),
                        price: u.price,
                        change: u.change,
                        change_percent: u.change_percent,
                        volume: u.volume,
                        updates: 1,
                    };
                    let l = Latest {
                        quote,
                        unsent: true,
                    };
                    self.quotes.insert(symbol, l);
                    self.dirty_quotes.push(u.symbol);
                    self.market_due.notify_one();
                }
            }
            Payload::Order(o) => self.order_message(&o, now, now_ms, out),
            // A feed's `error` is logged from the engine's `Error` event, which carries
            // it cleaned of secrets and bounded.
            _ => {}
        }
    }

    /// An order message in the protocol's shape (or a venue's report made into one):
    /// the row, a notification if the trader wants one, and a log line for a rejection.
    fn order_message(&mut self, o: &OrderUpdate, now: Instant, now_ms: u64, out: &mut Vec<Out>) {
        let clean = |s: &str| self.redactor.clean(s);
        let o = &OrderUpdate {
            id: o.id.as_deref().map(clean),
            client_order_id: o.client_order_id.as_deref().map(clean),
            symbol: clean(&o.symbol),
            reason: o.reason.as_deref().map(clean),
            filled_at: o.filled_at.as_deref().map(clean),
            ..*o
        };
        self.on_order(o, now_ms);
        if let Some(n) = self.policy.on_order(now, o, &self.prefs) {
            out.push(Out::Notify(n));
        }
        if o.status == Some(OrderStatus::Rejected) {
            let why = o.reason.as_deref().unwrap_or("no reason given");
            self.push_log(
                out,
                now_ms,
                Level::Warn,
                format!(
                    "Order {} {} {} rejected: {why}",
                    side_name(o.side),
                    o.qty,
                    o.symbol
                ),
            );
        }
    }

    /// A venue's own report on an order shown here (an `order` message that does not
    /// fit the protocol's type, such as `{id, client_order_id, status: "FILLED",
    /// filled_qty: "100"}`), for a row this model has:
    /// * `Ok`: its status is one Uplink reads, made into the protocol's order message.
    ///   The symbol, side and quantity come from the row, and a fill or price the
    ///   report leaves out stays as shown.
    /// * `Err`: its status word is none Uplink reads (such as "DONE_FOR_DAY"), and the
    ///   log line that says so: the row stays as it was, so the trader is told rather
    ///   than left with a row that may be out of date.
    ///
    /// `None` for anything else; a report whose status only acknowledges (such as
    /// "new") says nothing [`EngineEvent::Acked`] did not.
    fn venue_report(
        &self,
        message: &uplink_engine::proto::Envelope,
    ) -> Option<Result<OrderUpdate, String>> {
        if !matches!(message.payload, Payload::Other(_)) {
            return None;
        }
        let e = message.order_echo()?;
        let row = self.orders.iter().find(|o| o.key == e.client_order_id)?;
        let Some(status) = e.status else {
            let word = e.unread_status?;
            let shown = serde_json::to_value(row.status)
                .ok()
                .and_then(|v| v.as_str().map(|s| s.replace('_', " ")))
                .unwrap_or_default();
            return Some(Err(format!(
                "Order {} {} {} {}: the feed reports the status \"{}\", which Uplink does not read; the row still shows {shown}",
                row.key,
                row.side,
                row.qty,
                row.symbol,
                shorten(&self.redactor.clean(word), 40)
            )));
        };
        Some(Ok(OrderUpdate {
            id: e.order_id.or_else(|| row.id.clone()),
            client_order_id: Some(row.key.clone()),
            symbol: row.symbol.clone(),
            side: if row.side == "sell" {
                Side::Sell
            } else {
                Side::Buy
            },
            qty: row.qty,
            status: Some(status),
            filled_qty: e.filled_qty.or(Some(row.filled_qty)),
            avg_price: e.avg_price.or(row.avg_price),
            filled_at: None,
            reason: e.reason.map(str::to_owned),
        }))
    }

    /// Maps one engine event. Market data only updates the book (see
    /// [`AppModel::take_market`]).
    pub fn apply(&mut self, ev: EngineEvent, now: Instant, now_ms: u64) -> Vec<Out> {
        let mut out = Vec::new();
        match ev {
            EngineEvent::Message { message } => match self.venue_report(&message) {
                Some(Ok(o)) => self.order_message(&o, now, now_ms, &mut out),
                Some(Err(line)) => self.push_log(&mut out, now_ms, Level::Warn, line),
                None => self.message(message.payload, now, now_ms, &mut out),
            },
            EngineEvent::State(st) => {
                if let Some(n) = self.policy.on_status(now, &st, &self.prefs) {
                    out.push(Out::Notify(n));
                }
                if let Some((level, line)) = describe(&st) {
                    self.push_log(&mut out, now_ms, level, line);
                }
            }
            EngineEvent::EndpointSwitched { from, to, url } => {
                let line = if to == 0 {
                    format!("Back on the primary feed {url}")
                } else {
                    format!(
                        "Switched from the {} to {} {url}",
                        uplink_engine::core::role(from),
                        uplink_engine::core::role(to)
                    )
                };
                self.push_log(&mut out, now_ms, Level::Warn, line);
                if let Some(n) = self.policy.on_switch(now, to, &url, &self.prefs) {
                    out.push(Out::Notify(n));
                }
            }
            EngineEvent::Retrying {
                attempt,
                max_attempts,
                in_secs,
                reason,
            } => {
                let why = reason.map(|r| format!(" ({r})")).unwrap_or_default();
                self.push_log(
                    &mut out,
                    now_ms,
                    Level::Warn,
                    format!(
                        "Reconnecting: attempt {attempt}/{max_attempts} in {in_secs:.1} s{why}"
                    ),
                );
            }
            EngineEvent::Latency(l) => {
                out.push(Out::Latency(UiLatency {
                    ms: l.ms,
                    avg_ms: l.summary.avg_ms,
                    p99_ms: l.summary.p99_ms,
                    at_unix_ms: now_ms,
                }));
            }
            EngineEvent::Sent { id } => {
                self.step(
                    id,
                    &[OrderState::Queued],
                    OrderState::Sent,
                    None,
                    false,
                    now_ms,
                );
            }
            EngineEvent::Acked {
                id,
                order_id,
                status,
            } => {
                // A protocol-shaped order message carries the details; this catches
                // an acknowledgement whose status is not newer than what is shown,
                // and a venue's short one (only its id and a status of its own).
                let to = status.map_or(OrderState::Acknowledged, OrderState::from);
                self.step(
                    id,
                    &[OrderState::Sent, OrderState::Unconfirmed],
                    to,
                    None,
                    false,
                    now_ms,
                );
                if let Some(key) = self.by_id.get(&id).cloned() {
                    self.set_feed_id(&key, order_id);
                }
            }
            EngineEvent::Resent { id } => {
                self.step(
                    id,
                    &[OrderState::Sent, OrderState::Unconfirmed],
                    OrderState::Sent,
                    Some("re-sent after a reconnect, same client order id".into()),
                    false,
                    now_ms,
                );
            }
            EngineEvent::Unconfirmed { id, reason } => {
                let (why, held) = match reason {
                    Unconfirmed::AckTimeout => ("no acknowledgement from the feed in time", false),
                    Unconfirmed::ConnectionLost => (
                        "the connection dropped before the feed acknowledged it: check with your broker, then resend or discard",
                        true,
                    ),
                    Unconfirmed::FeedChanged => ("the feed changed before it was acknowledged", false),
                    Unconfirmed::Untracked => ("too many orders awaiting acknowledgement", false),
                };
                self.step(
                    id,
                    &[OrderState::Sent, OrderState::Unconfirmed],
                    OrderState::Unconfirmed,
                    Some(why.into()),
                    held,
                    now_ms,
                );
                self.push_log(
                    &mut out,
                    now_ms,
                    Level::Warn,
                    format!("Order unconfirmed: {why}"),
                );
            }
            EngineEvent::Expired { id, reason } => {
                let why = match reason {
                    Expiry::Ttl => "waited too long offline; never sent",
                    Expiry::FeedChanged => "the feed changed; never sent to the new one",
                };
                self.step(
                    id,
                    &[OrderState::Queued],
                    OrderState::Expired,
                    Some(why.into()),
                    false,
                    now_ms,
                );
            }
            EngineEvent::Cancelled { id } => {
                self.step(
                    id,
                    &[OrderState::Queued],
                    OrderState::Cancelled,
                    Some("cancelled before it was sent".into()),
                    false,
                    now_ms,
                );
            }
            EngineEvent::Discarded { id } => {
                self.step(
                    id,
                    &[OrderState::Unconfirmed],
                    OrderState::Discarded,
                    Some("discarded by the trader; not sent again".into()),
                    false,
                    now_ms,
                );
            }
            EngineEvent::QueueDropped { id, total } => {
                self.step(
                    id,
                    &[OrderState::Queued],
                    OrderState::Dropped,
                    Some("outbound queue full".into()),
                    false,
                    now_ms,
                );
                self.push_log(
                    &mut out,
                    now_ms,
                    Level::Warn,
                    format!(
                        "Outbound queue full: dropped the oldest message ({total} dropped so far)"
                    ),
                );
            }
            EngineEvent::Stale { age_secs, symbols } => {
                self.push_log(
                    &mut out,
                    now_ms,
                    Level::Warn,
                    format!(
                        "Prices stale: no data for {} while the feed answers pings",
                        fmt_secs(age_secs as u64)
                    ),
                );
                if let Some(n) = self.policy.on_stale(now, age_secs, &symbols, &self.prefs) {
                    out.push(Out::Notify(n));
                }
            }
            EngineEvent::Fresh { stale_for_secs } => {
                self.push_log(
                    &mut out,
                    now_ms,
                    Level::Info,
                    format!(
                        "Prices flowing again after {} stale",
                        fmt_secs(stale_for_secs as u64)
                    ),
                );
            }
            EngineEvent::OutageAlert { down_secs } => {
                self.push_log(
                    &mut out,
                    now_ms,
                    Level::Warn,
                    format!(
                        "Feed down for {}; still retrying",
                        fmt_secs(down_secs as u64)
                    ),
                );
                if let Some(n) = self.policy.on_outage(now, down_secs, &self.prefs) {
                    out.push(Out::Notify(n));
                }
            }
            EngineEvent::Recovered { down_secs, .. } => {
                self.push_log(
                    &mut out,
                    now_ms,
                    Level::Info,
                    format!("Feed back after {}", fmt_secs(down_secs as u64)),
                );
                if let Some(n) = self.policy.on_recovered(now, down_secs) {
                    out.push(Out::Notify(n));
                }
            }
            EngineEvent::ClockSkew { offset_ms, skewed } => {
                let (level, line) = if skewed {
                    (
                        Level::Warn,
                        format!(
                            "The feed's clock is {:.1} s {} ours: delays and ages are suspect",
                            offset_ms.abs() / 1000.0,
                            if offset_ms > 0.0 {
                                "ahead of"
                            } else {
                                "behind"
                            }
                        ),
                    )
                } else {
                    (
                        Level::Info,
                        "The feed's clock agrees with ours again (within 2 s)".to_owned(),
                    )
                };
                self.push_log(&mut out, now_ms, level, line);
            }
            EngineEvent::Error { kind, message } => {
                // Connection failures are logged with the state change they cause.
                if kind.keeps_connection() {
                    let what = if kind == ErrorKind::MalformedMessage {
                        "Malformed message"
                    } else {
                        "Feed error"
                    };
                    self.push_log(&mut out, now_ms, Level::Warn, format!("{what}: {message}"));
                }
            }
        }
        out
    }

    /// Notes when the frames behind the events being applied were read, for the
    /// frame-to-window lag.
    pub fn note_read(&mut self, read_at: Instant) {
        let t = self.unflushed_since.get_or_insert(read_at);
        *t = (*t).min(read_at);
    }

    /// What changed in the market since the last call, if anything, to be sent to the
    /// window `now`.
    pub fn take_market(&mut self, now: Instant) -> Option<UiMarket> {
        if self.dirty_quotes.is_empty() && self.dirty_orders.is_empty() && self.removed.is_empty() {
            return None;
        }
        if let Some(read) = self.unflushed_since.take() {
            self.window_lag.record(now.saturating_duration_since(read));
        }
        let mut quotes: Vec<Quote> = std::mem::take(&mut self.dirty_quotes)
            .into_iter()
            .filter_map(|s| {
                let l = self.quotes.get_mut(s.as_str())?;
                std::mem::take(&mut l.unsent).then(|| l.quote.clone())
            })
            .collect();
        quotes.sort_by(|a, b| a.symbol.cmp(&b.symbol));
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
}

/// The log line for a state change. Retries have their own line (`Retrying`).
fn describe(st: &Status) -> Option<(Level, String)> {
    let reason = st.reason.as_deref().unwrap_or("");
    let with_reason = |s: &str| {
        if reason.is_empty() {
            s.to_owned()
        } else {
            format!("{s} ({reason})")
        }
    };
    Some(match st.state {
        StateKind::Connected => (Level::Info, format!("Connected to {}", st.url)),
        StateKind::Connecting => (Level::Info, format!("Connecting to {}", st.url)),
        StateKind::Disconnected => (Level::Info, with_reason("Disconnected")),
        StateKind::Error => (Level::Error, format!("Error: {reason}")),
        StateKind::Reconnecting => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};
    use uplink_engine::core::{Config, Connection};

    fn msg(text: &str) -> EngineEvent {
        EngineEvent::Message {
            message: uplink_engine::proto::Envelope::decode(text).unwrap(),
        }
    }

    fn model(demo: bool) -> AppModel {
        let mut m = AppModel::new(demo, NotifySettings::default());
        m.set_watchlist(&["AAPL".into(), "MSFT".into()]);
        m
    }

    #[test]
    fn a_flood_of_updates_becomes_one_quote_per_symbol_per_flush() {
        let mut b = model(true);
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
            );
            assert!(out.is_empty(), "market data is never emitted per message");
        }
        let m = b.take_market(Instant::now()).unwrap();
        assert_eq!(m.quotes.len(), 2);
        let aapl = m.quotes.iter().find(|q| q.symbol == "AAPL").unwrap();
        // The last AAPL update is i = 99,998, priced 100 + 99,998 % 7 = 103.5.
        assert_eq!(
            (aapl.updates, aapl.volume, aapl.price),
            (50_000, 99_998, 103.5)
        );
        assert_eq!(b.take_market(Instant::now()), None, "nothing changed since");
    }

    #[test]
    fn a_quote_goes_out_once_per_flush_it_changed_in_also_after_a_removal() {
        let mut b = model(true);
        let now = Instant::now();
        let price = |b: &mut AppModel, sym: &str, p: f64| {
            b.apply(
                msg(&format!(
                    r#"{{"type":"update","data":{{"symbol":"{sym}","price":{p}}}}}"#
                )),
                now,
                0,
            )
        };
        // Each quote in a frame: its symbol and price.
        let shown = |m: &UiMarket| -> Vec<(String, f64)> {
            m.quotes
                .iter()
                .map(|q| (q.symbol.clone(), q.price))
                .collect()
        };
        price(&mut b, "MSFT", 1.0);
        price(&mut b, "AAPL", 2.0);
        let m = b.take_market(now).unwrap();
        let both = [("AAPL".to_string(), 2.0), ("MSFT".to_string(), 1.0)];
        assert_eq!(shown(&m), both, "by symbol");

        // Changed again after the flush: it goes out again, once.
        price(&mut b, "AAPL", 3.0);
        price(&mut b, "AAPL", 4.0);
        let m = b.take_market(now).unwrap();
        assert_eq!(shown(&m), [("AAPL".to_string(), 4.0)]);

        // Taken off and put back on the watchlist before the next flush: the frame
        // says it was removed and carries its new quote once.
        price(&mut b, "AAPL", 5.0);
        b.remove_symbols(&["AAPL".into()]);
        b.set_watchlist(&["AAPL".into(), "MSFT".into()]);
        price(&mut b, "AAPL", 6.0);
        let m = b.take_market(now).unwrap();
        assert_eq!(m.removed, ["AAPL"]);
        assert_eq!(shown(&m), [("AAPL".to_string(), 6.0)]);
        assert_eq!(m.quotes[0].updates, 1, "a fresh quote after the removal");
        assert_eq!(b.take_market(now), None);
    }

    #[test]
    fn orders_move_from_queued_to_the_feeds_status() {
        let mut b = model(false);
        let now = Instant::now();
        b.order_placed(MessageId(7), "ui-1", "AAPL", Side::Buy, 10.0, 1);
        assert_eq!(
            b.take_market(Instant::now()).unwrap().orders[0].status,
            OrderState::Queued
        );
        b.apply(EngineEvent::Sent { id: MessageId(7) }, now, 2);
        assert_eq!(b.orders()[0].status, OrderState::Sent);
        b.apply(
            msg(r#"{"type":"order","data":{"id":"ord-1","client_order_id":"ui-1","symbol":"AAPL","side":"buy","qty":10,"status":"filled","filled_qty":10,"avg_price":190.1}}"#),
            now,
            3,
        );
        let o = &b.orders()[0];
        assert_eq!(
            (o.status, o.id.as_deref(), o.filled_qty, o.avg_price),
            (OrderState::Filled, Some("ord-1"), 10.0, Some(190.1))
        );
        assert_eq!(b.orders().len(), 1, "one row per order");
        // A late write report never undoes what the feed said.
        b.apply(EngineEvent::Sent { id: MessageId(7) }, now, 4);
        assert_eq!(b.orders()[0].status, OrderState::Filled);

        let out = b.apply(
            msg(r#"{"type":"order","data":{"id":"ord-2","symbol":"ZZZ","side":"sell","qty":1,"status":"rejected","reason":"unknown symbol ZZZ"}}"#),
            now,
            4,
        );
        assert!(out
            .iter()
            .any(|o| matches!(o, Out::Notify(n) if n.title == "Order rejected: sell 1 ZZZ")));
        assert!(out.iter().any(|o| matches!(o, Out::Log(l) if l.level == Level::Warn && l.message.contains("unknown symbol ZZZ"))));
        let json = serde_json::to_value(b.orders()).unwrap();
        assert_eq!(json[0]["status"], "rejected");
        assert_eq!(json[1]["status"], "filled");
    }

    #[test]
    fn state_changes_and_retries_reach_the_log_and_the_notifier() {
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
        let mut b = model(true);
        let st = |c: &Connection| EngineEvent::State(Box::new(c.status(now, wall)));

        core.handle_connect(now);
        let out = b.apply(st(&core), now, 0);
        assert!(
            matches!(&out[0], Out::Log(l) if l.message == "Connecting to ws://127.0.0.1:9000/ws")
        );
        assert!(b.ui_status(&core.status(now, wall)).demo);

        let conn = core.current_conn().unwrap();
        core.handle_connect_failed(now, conn, ErrorKind::ConnectFailed, "connection refused");
        assert!(b.apply(st(&core), now, 0).is_empty(), "the retry says it");
        let out = b.apply(
            EngineEvent::Retrying {
                attempt: 1,
                max_attempts: 1,
                in_secs: 1.0,
                reason: Some("connection refused".into()),
            },
            now,
            0,
        );
        assert!(
            matches!(&out[0], Out::Log(l) if l.level == Level::Warn && l.message == "Reconnecting: attempt 1/1 in 1.0 s (connection refused)"),
            "{out:?}"
        );

        core.handle_timeout(now + Duration::from_secs(1));
        let conn = core.current_conn().unwrap();
        core.handle_connect_failed(now, conn, ErrorKind::ConnectFailed, "connection refused");
        let out = b.apply(st(&core), now, 0);
        assert!(out.iter().any(|o| matches!(o, Out::Notify(n) if n.body == "gave up after 1 attempts: connection refused")));
        assert!(out
            .iter()
            .any(|o| matches!(o, Out::Log(l) if l.level == Level::Error)));
        let json = serde_json::to_value(b.ui_status(&core.status(now, wall))).unwrap();
        assert_eq!(
            (json["state"].as_str(), json["demo"].as_bool()),
            (Some("error"), Some(true))
        );
    }

    #[test]
    fn a_venues_short_acknowledgement_gives_the_row_its_feed_id() {
        let mut b = model(false);
        let now = Instant::now();
        b.order_placed(MessageId(3), "ui-3", "AAPL", Side::Buy, 1.0, 1);
        b.apply(EngineEvent::Sent { id: MessageId(3) }, now, 2);
        // {"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"new"}}
        b.apply(
            EngineEvent::Acked {
                id: MessageId(3),
                order_id: Some("V9".into()),
                status: None,
            },
            now,
            3,
        );
        let o = &b.orders()[0];
        assert_eq!(
            (o.status, o.id.as_deref()),
            (OrderState::Acknowledged, Some("V9"))
        );
    }

    /// A venue reports on the order in its own shape after its short acknowledgement:
    /// upper-case statuses, quantities and prices as strings, no symbol, side or
    /// quantity. The row follows it to filled, with the fill and the price, and a
    /// trader who asked for fill notifications gets one, once; a late report never
    /// undoes it, and a
    /// report on an order not shown here adds no row.
    #[test]
    fn a_venues_own_fill_reports_move_the_row_to_filled() {
        let mut b = AppModel::new(
            false,
            NotifySettings {
                on_order_fill: true,
                ..NotifySettings::default()
            },
        );
        b.set_watchlist(&["AAPL".into()]);
        let now = Instant::now();
        b.order_placed(MessageId(3), "ui-3", "AAPL", Side::Buy, 100.0, 1);
        b.apply(EngineEvent::Sent { id: MessageId(3) }, now, 2);
        let ack = EngineEvent::Acked {
            id: MessageId(3),
            order_id: Some("V9".into()),
            status: None,
        };
        b.apply(ack, now, 3);
        let new = r#"{"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"new"}}"#;
        assert!(b.apply(msg(new), now, 3).is_empty());
        let partial = r#"{"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"PARTIALLY_FILLED","filled_qty":"40","avg_price":"101.25"}}"#;
        b.apply(msg(partial), now, 4);
        let o = &b.orders()[0];
        assert_eq!(
            (
                o.status,
                o.filled_qty,
                o.avg_price,
                o.qty,
                o.symbol.as_str(),
                o.side.as_str()
            ),
            (
                OrderState::PartiallyFilled,
                40.0,
                Some(101.25),
                100.0,
                "AAPL",
                "buy"
            )
        );
        // Reports overtaking each other: an older "accepted" and an older, smaller
        // fill leave the row where it is.
        let accepted =
            r#"{"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"ACCEPTED"}}"#;
        b.apply(msg(accepted), now, 4);
        let older = r#"{"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"PARTIALLY_FILLED","filled_qty":"30"}}"#;
        b.apply(msg(older), now, 4);
        let o = &b.orders()[0];
        assert_eq!(
            (o.status, o.filled_qty, o.avg_price),
            (OrderState::PartiallyFilled, 40.0, Some(101.25))
        );
        let filled = r#"{"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"FILLED","filled_qty":"100","avg_price":"101.5"}}"#;
        let out = b.apply(msg(filled), now, 5);
        let notes: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Out::Notify(n) => Some(n.title.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(notes, ["Order filled: buy 100 AAPL"]);
        let o = &b.orders()[0];
        assert_eq!(
            (o.status, o.filled_qty, o.avg_price, o.id.as_deref()),
            (OrderState::Filled, 100.0, Some(101.5), Some("V9"))
        );
        let life: Vec<_> = o.history.iter().map(|s| s.state).collect();
        assert_eq!(
            life,
            [
                OrderState::Queued,
                OrderState::Sent,
                OrderState::Acknowledged,
                OrderState::PartiallyFilled,
                OrderState::Filled
            ]
        );
        // Late or repeated reports never move the row back: not the repeat of the
        // fill (nor a second notification), not the partial report, not another
        // final status, and a fill never shrinks.
        assert!(b.apply(msg(filled), now, 6).is_empty());
        b.apply(msg(partial), now, 6);
        let cancelled =
            r#"{"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"CANCELED"}}"#;
        b.apply(msg(cancelled), now, 6);
        let o = &b.orders()[0];
        assert_eq!((o.status, o.filled_qty), (OrderState::Filled, 100.0));
        // A status word Uplink does not read: the row stays, and the log says so.
        let expired = r#"{"type":"order","data":{"id":"V9","client_order_id":"ui-3","status":"DONE_FOR_DAY"}}"#;
        let out = b.apply(msg(expired), now, 7);
        let lines: Vec<_> = out
            .iter()
            .filter_map(|o| match o {
                Out::Log(l) => Some(l.message.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            lines,
            ["Order ui-3 buy 100 AAPL: the feed reports the status \"DONE_FOR_DAY\", which Uplink does not read; the row still shows filled"]
        );
        assert_eq!(b.orders()[0].status, OrderState::Filled);
        // Someone else's order: no row to update, none made up.
        let other = r#"{"type":"order","data":{"id":"V10","client_order_id":"elsewhere","status":"FILLED"}}"#;
        b.apply(msg(other), now, 7);
        assert_eq!(b.orders().len(), 1);
    }

    #[test]
    fn when_the_engine_stops_open_orders_become_unconfirmed_and_old_ids_are_forgotten() {
        let mut b = model(false);
        let now = Instant::now();
        b.order_placed(MessageId(1), "ui-1", "AAPL", Side::Buy, 1.0, 1);
        b.order_placed(MessageId(2), "ui-2", "AAPL", Side::Buy, 2.0, 1);
        b.order_placed(MessageId(3), "ui-3", "AAPL", Side::Buy, 3.0, 1);
        b.apply(EngineEvent::Sent { id: MessageId(2) }, now, 2);
        b.apply(EngineEvent::Sent { id: MessageId(3) }, now, 2);
        b.apply(
            msg(r#"{"type":"order","data":{"id":"o3","client_order_id":"ui-3","symbol":"AAPL","side":"buy","qty":3,"status":"accepted"}}"#),
            now,
            3,
        );
        let core = Connection::new(Config::default(), 1, now).unwrap();
        let failed = core
            .status(now, SystemTime::now())
            .engine_stopped("the connection engine stopped unexpectedly", 4);
        let out = b.engine_stopped(&failed, now, 4);
        assert!(
            out.iter().any(|o| matches!(o, Out::Notify(n) if n.title == "Uplink connection error" && n.body == "the connection engine stopped unexpectedly")),
            "{out:?}"
        );
        assert!(out.iter().any(|o| matches!(o, Out::Log(l) if l.level == Level::Error
            && l.message == "the connection engine stopped unexpectedly: a fresh engine is ready, press Connect")));
        fn by_key(b: &AppModel, k: &str) -> OrderView {
            b.orders().into_iter().find(|o| o.key == k).unwrap()
        }
        for k in ["ui-1", "ui-2"] {
            let o = by_key(&b, k);
            assert_eq!(o.status, OrderState::Unconfirmed, "{k}");
            assert_eq!(o.reason.as_deref(), Some(ENGINE_STOPPED_ORDER));
            assert!(
                !o.held,
                "nothing to resend it with: the engine that had it is gone"
            );
        }
        assert_eq!(
            by_key(&b, "ui-3").status,
            OrderState::Acknowledged,
            "the feed said so"
        );
        // The next engine numbers from 1 again: its events are not about these rows.
        b.apply(EngineEvent::Sent { id: MessageId(1) }, now, 5);
        assert_eq!(by_key(&b, "ui-1").status, OrderState::Unconfirmed);
        assert_eq!(b.message_id("ui-1"), None);
        // The feed's later reports still reach the rows, by client order id.
        b.apply(
            msg(r#"{"type":"order","data":{"id":"o3","client_order_id":"ui-3","symbol":"AAPL","side":"buy","qty":3,"status":"filled","filled_qty":3}}"#),
            now,
            6,
        );
        assert_eq!(by_key(&b, "ui-3").status, OrderState::Filled);
    }

    #[test]
    fn a_dropped_order_is_marked_so_the_trader_sees_it() {
        let mut b = model(false);
        b.order_placed(MessageId(3), "ui-7", "AAPL", Side::Buy, 1.0, 0);
        let out = b.apply(
            EngineEvent::QueueDropped {
                id: MessageId(3),
                total: 1,
            },
            Instant::now(),
            5,
        );
        assert_eq!(b.orders()[0].status, OrderState::Dropped);
        assert_eq!(b.orders()[0].reason.as_deref(), Some("outbound queue full"));
        assert!(matches!(&out[0], Out::Log(l) if l.message.contains("dropped the oldest message")));
        // The feed knows better: a fill it reports for the order overrides the
        // engine's own outcome.
        let fill = r#"{"type":"order","data":{"id":"F1","client_order_id":"ui-7","symbol":"AAPL","side":"buy","qty":1,"status":"filled","filled_qty":1}}"#;
        b.apply(msg(fill), Instant::now(), 6);
        let o = &b.orders()[0];
        assert_eq!((o.status, o.filled_qty), (OrderState::Filled, 1.0));
    }

    /// Expired and discarded are Uplink's own outcomes, as dropped is: what the feed
    /// reports (a fill, a rejection, a cancellation) overrides them.
    #[test]
    fn uplinks_own_outcomes_give_way_to_what_the_feed_reports() {
        let mut b = model(false);
        let now = Instant::now();
        b.order_placed(MessageId(1), "exp", "AAPL", Side::Buy, 1.0, 0);
        b.apply(
            EngineEvent::Expired {
                id: MessageId(1),
                reason: Expiry::Ttl,
            },
            now,
            1,
        );
        b.order_placed(MessageId(2), "dis", "AAPL", Side::Buy, 1.0, 0);
        b.apply(EngineEvent::Sent { id: MessageId(2) }, now, 1);
        b.apply(
            EngineEvent::Unconfirmed {
                id: MessageId(2),
                reason: Unconfirmed::ConnectionLost,
            },
            now,
            1,
        );
        b.apply(EngineEvent::Discarded { id: MessageId(2) }, now, 2);
        let status = |b: &AppModel, k: &str| b.orders().iter().find(|o| o.key == k).unwrap().status;
        assert_eq!(status(&b, "exp"), OrderState::Expired);
        assert_eq!(status(&b, "dis"), OrderState::Discarded);
        let report = |cid: &str, st: &str| {
            msg(&format!(
                r#"{{"type":"order","data":{{"id":"F-{cid}","client_order_id":"{cid}","symbol":"AAPL","side":"buy","qty":1,"status":"{st}"}}}}"#
            ))
        };
        b.apply(report("exp", "rejected"), now, 3);
        b.apply(report("dis", "cancelled"), now, 3);
        assert_eq!(status(&b, "exp"), OrderState::Rejected);
        assert_eq!(status(&b, "dis"), OrderState::Cancelled);
        // Once the feed has spoken, its final word stays.
        b.apply(report("exp", "filled"), now, 4);
        assert_eq!(status(&b, "exp"), OrderState::Rejected);
    }

    #[test]
    fn the_log_and_the_order_list_stay_bounded() {
        let mut b = model(false);
        for i in 0..(LOG_KEPT + 50) {
            b.note(Level::Info, format!("line {i}"), 0);
        }
        // Quotes only for the watchlist, whatever the feed sends.
        for i in 0..1000 {
            b.apply(
                msg(&format!(
                    r#"{{"type":"update","data":{{"symbol":"JUNK{i}","price":1}}}}"#
                )),
                Instant::now(),
                0,
            );
        }
        assert!(b.quotes().is_empty());
        assert_eq!(b.log().len(), LOG_KEPT);
        assert_eq!(b.log()[0].message, "line 50");
        for i in 0..(ORDERS_KEPT as u64 + 10) {
            b.order_placed(MessageId(i), &format!("k{i}"), "A", Side::Buy, 1.0, 0);
        }
        assert_eq!(b.orders().len(), ORDERS_KEPT);
    }

    #[test]
    fn the_feeds_reports_on_other_orders_never_push_out_one_placed_here() {
        let mut b = model(false);
        let now = Instant::now();
        // Placed here, written, never answered: the trader may still resend it.
        b.order_placed(MessageId(1), "mine", "AAPL", Side::Buy, 1.0, 0);
        b.apply(EngineEvent::Sent { id: MessageId(1) }, now, 1);
        // A feed that reports every order of the account: more than the list keeps.
        for i in 0..(2 * ORDERS_KEPT) {
            b.apply(
                msg(&format!(
                    r#"{{"type":"order","data":{{"id":"x{i}","client_order_id":"other-{i}","symbol":"MSFT","side":"sell","qty":1,"status":"accepted"}}}}"#
                )),
                now,
                2,
            );
        }
        assert_eq!(b.orders().len(), ORDERS_KEPT);
        let mine = b.orders().into_iter().find(|o| o.key == "mine");
        assert_eq!(mine.map(|o| o.status), Some(OrderState::Sent), "still here");
        assert_eq!(b.by_id.get(&MessageId(1)).map(String::as_str), Some("mine"));
        // The rows that went are the oldest of the others.
        let kept = |k: String| b.orders().iter().any(|o| o.key == k);
        assert!(kept(format!("other-{}", ORDERS_KEPT + 1)));
        assert!(!kept(format!("other-{ORDERS_KEPT}")));
        // Once final, it is the oldest row anyone can spare, and goes first.
        b.apply(
            msg(r#"{"type":"order","data":{"id":"m1","client_order_id":"mine","symbol":"AAPL","side":"buy","qty":1,"status":"filled"}}"#),
            now,
            3,
        );
        b.apply(
            msg(r#"{"type":"order","data":{"id":"y","client_order_id":"last","symbol":"MSFT","side":"sell","qty":1,"status":"accepted"}}"#),
            now,
            4,
        );
        assert!(b.orders().iter().all(|o| o.key != "mine"));
        assert!(b.by_id.is_empty());
    }

    #[test]
    fn what_the_feed_says_about_orders_is_cleaned_and_bounded_before_anyone_sees_it() {
        let mut b = model(false);
        b.set_redactor(Redactor::new(["sk-live-0042".to_string()]));
        let now = Instant::now();
        let huge = "x".repeat(100_000);
        let out = b.apply(
            msg(&format!(
                r#"{{"type":"order","data":{{"id":"{huge}","client_order_id":"c\n1","symbol":"A{huge}","side":"buy","qty":1,"status":"rejected","reason":"bad token sk-live-0042 {huge}"}}}}"#
            )),
            now,
            1,
        );
        let o = &b.orders()[0];
        assert_eq!(o.key, "c\\n1", "a newline shows as \\n");
        for text in [
            o.id.as_deref().unwrap(),
            &o.symbol,
            o.reason.as_deref().unwrap(),
        ] {
            assert!(text.chars().count() <= uplink_engine::core::redact::MAX_TEXT + 1);
        }
        assert!(o
            .reason
            .as_deref()
            .unwrap()
            .starts_with("bad token *** xxx"));
        let said: Vec<String> = out
            .iter()
            .map(|o| match o {
                Out::Log(l) => l.message.clone(),
                Out::Notify(n) => format!("{} {}", n.title, n.body),
                other => format!("{other:?}"),
            })
            .collect();
        assert!(!said.is_empty());
        for line in &said {
            assert!(
                !line.contains("sk-live") && line.len() < 2_000,
                "{line:.200}"
            );
        }
        // A feed's `error` frame: its line comes from the engine's cleaned `Error`
        // event, never from the raw frame.
        let out = b.apply(
            msg(
                r#"{"type":"error","data":{"code":"AUTH","message":"token sk-live-0042 expired"}}"#,
            ),
            now,
            2,
        );
        assert!(out.is_empty(), "{out:?}");
        let out = b.apply(
            EngineEvent::Error {
                kind: ErrorKind::ServerError,
                message: "feed error AUTH: token *** expired".into(),
            },
            now,
            3,
        );
        assert!(
            matches!(&out[..], [Out::Log(l)] if l.message == "Feed error: feed error AUTH: token *** expired"),
            "{out:?}"
        );
        // A venue's status word of its own is cleaned too (a newline forges no line).
        b.order_placed(MessageId(9), "v1", "AAPL", Side::Buy, 1.0, 4);
        let out = b.apply(
            msg(r#"{"type":"order","data":{"client_order_id":"v1","status":"ODD\nINFO forged"}}"#),
            now,
            5,
        );
        assert!(
            matches!(&out[..], [Out::Log(l)] if l.message.contains("\"ODD\\nINFO forged\"")),
            "{out:?}"
        );
    }

    #[test]
    fn an_orders_life_is_kept_step_by_step_with_times() {
        let mut b = model(false);
        let now = Instant::now();
        b.order_placed(MessageId(1), "k1", "AAPL", Side::Buy, 2.0, 100);
        b.apply(EngineEvent::Sent { id: MessageId(1) }, now, 200);
        b.apply(
            EngineEvent::Unconfirmed {
                id: MessageId(1),
                reason: Unconfirmed::ConnectionLost,
            },
            now,
            300,
        );
        let o = &b.orders()[0];
        assert_eq!((o.status, o.held), (OrderState::Unconfirmed, true));
        b.apply(EngineEvent::Resent { id: MessageId(1) }, now, 400);
        b.apply(
            msg(r#"{"type":"order","data":{"id":"o1","client_order_id":"k1","symbol":"AAPL","side":"buy","qty":2,"status":"accepted"}}"#),
            now,
            500,
        );
        b.apply(
            msg(r#"{"type":"order","data":{"id":"o1","client_order_id":"k1","symbol":"AAPL","side":"buy","qty":2,"status":"filled","filled_qty":2}}"#),
            now,
            600,
        );
        // A deduplicated re-send answered "accepted" late: never undoes the fill.
        b.apply(
            msg(r#"{"type":"order","data":{"id":"o1","client_order_id":"k1","symbol":"AAPL","side":"buy","qty":2,"status":"accepted"}}"#),
            now,
            700,
        );
        let o = &b.orders()[0];
        let steps: Vec<(OrderState, u64)> =
            o.history.iter().map(|s| (s.state, s.at_unix_ms)).collect();
        assert_eq!(
            steps,
            [
                (OrderState::Queued, 100),
                (OrderState::Sent, 200),
                (OrderState::Unconfirmed, 300),
                (OrderState::Sent, 400),
                (OrderState::Acknowledged, 500),
                (OrderState::Filled, 600),
            ]
        );
        assert!(!o.held);
    }

    #[test]
    fn queued_orders_expire_or_are_cancelled_and_say_why() {
        let mut b = model(false);
        let now = Instant::now();
        b.order_placed(MessageId(1), "k1", "AAPL", Side::Buy, 1.0, 0);
        b.order_placed(MessageId(2), "k2", "AAPL", Side::Sell, 1.0, 0);
        b.apply(
            EngineEvent::Expired {
                id: MessageId(1),
                reason: Expiry::Ttl,
            },
            now,
            1,
        );
        b.apply(EngineEvent::Cancelled { id: MessageId(2) }, now, 2);
        let by_key = |b: &AppModel, k: &str| b.orders().into_iter().find(|o| o.key == k).unwrap();
        assert_eq!(by_key(&b, "k1").status, OrderState::Expired);
        assert_eq!(
            by_key(&b, "k1").reason.as_deref(),
            Some("waited too long offline; never sent")
        );
        assert_eq!(by_key(&b, "k2").status, OrderState::Cancelled);
        assert_eq!(b.message_id("k2"), Some(MessageId(2)));
        // A late "sent" for an expired order changes nothing.
        b.apply(EngineEvent::Sent { id: MessageId(1) }, now, 3);
        assert_eq!(by_key(&b, "k1").status, OrderState::Expired);
    }

    #[test]
    fn a_flood_of_identical_errors_is_one_line_and_a_count() {
        let mut b = model(false);
        let now = Instant::now();
        let err = |b: &mut AppModel, ms| {
            b.apply(
                EngineEvent::Error {
                    kind: ErrorKind::MalformedMessage,
                    message: "malformed message: expected value".into(),
                },
                now,
                ms,
            )
        };
        assert_eq!(err(&mut b, 0).len(), 1);
        for ms in 1..1000 {
            assert!(err(&mut b, ms).is_empty(), "counted, not repeated");
        }
        b.note(Level::Info, "something else".into(), 2000);
        let log = b.log();
        assert_eq!(log.len(), 3, "{log:?}");
        assert_eq!(
            log[1].message,
            "(the line \"Malformed message: malformed message: expected value\" repeated 999 more times)"
        );
    }
}
