//! Uplink's connection engine: the sans-IO [`uplink_core::Connection`] driven by tokio
//! over tokio-tungstenite.
//!
//! ```no_run
//! # async fn demo() -> Result<(), uplink_engine::EngineError> {
//! use uplink_engine::{ClientConfig, Engine, EngineEvent};
//! let (handle, mut events) = Engine::start(ClientConfig::new("ws://127.0.0.1:9000/ws"))?;
//! handle.subscribe(vec!["AAPL".into()])?;
//! handle.connect()?;
//! // The picture of the connection: one published snapshot, always current.
//! let status = handle.status();
//! println!("{}", status.borrow().label);
//! // What happens: messages, round trips, sends, failures.
//! while let Some(ev) = events.recv().await {
//!     if let EngineEvent::Message { message } = ev { println!("{}", message.encode()); }
//! }
//! # Ok(()) }
//! ```
//!
//! Module tour:
//! * `asleep`: whether the machine slept between two stats ticks, from two clocks
//!   per OS;
//! * `config`: [`ClientConfig`], validated before anything connects (URL, token,
//!   headers, TLS roots, limits), and URL masking;
//! * `driver`: the task that owns the socket and the core, feeds the core socket
//!   events and deadlines, carries out its actions and publishes its [`Status`];
//! * `event`: [`EngineEvent`], what subscribers receive;
//! * this file: [`Engine::start`], the cloneable [`Handle`] and [`EventStream`].
//!
//! Two outputs, each with one job: [`Handle::status`] is a `watch` of the one
//! [`Status`] snapshot (state, label, attempt, countdown, latency, counters, queue),
//! and an [`EventStream`] says what happened (state changes, retries, messages,
//! round trips, sends by [`MessageId`], drops, errors). Nobody rebuilds the status from
//! events.
//!
//! Time: the driver reads one clock, tokio's (`tokio::time::Instant`, handed to the
//! core as a `std::time::Instant`), and sleeps on the same clock, so tests may run it
//! under tokio's paused time. It also reads the wall clock (and on Windows the
//! unbiased interrupt time) at every stats tick, to tell whether the machine slept.
//!
//! Shutdown is explicit: [`Handle::shutdown`] closes the socket with a close frame and
//! waits for the task to end. Dropping every handle does the same, without waiting.

mod asleep;
mod config;
mod driver;
mod event;
mod proxy;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::sync::{mpsc, oneshot, watch};

pub use config::{has_secret, is_secret_key, mask_url, mask_url_str, ClientConfig, TokenPlacement};
pub use event::{EngineEvent, LatencyEvent};
pub use proxy::ProxySetting;
pub use uplink_core::Redactor;
pub use uplink_core::{
    self as core, CommandError, ConfigError, ErrorKind, Expiry, MessageId, StateKind, Status,
    Toggle, UnackedOrders, Unconfirmed,
};
use uplink_core::{RateLimit, RateLimiter};
pub use uplink_proto as proto;
use uplink_proto::Payload;
pub use uplink_proto::{OrderRequest, Outbound, OutboundError};

/// Why the engine refused something.
#[derive(Debug, Error)]
pub enum EngineError {
    /// The feed URL cannot be used.
    #[error("invalid feed URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, credentials masked.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tunable is out of range.
    #[error("invalid setting: {0}")]
    Config(#[from] ConfigError),
    /// An extra header has an invalid name or value.
    #[error("invalid header {0:?}: names must be tokens and values visible ASCII")]
    InvalidHeader(String),
    /// The token is empty or contains whitespace or control characters.
    #[error("invalid token: it must be non-empty, without spaces or control characters")]
    InvalidToken,
    /// The extra CA file cannot be used.
    #[error("cannot use CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The proxy setting cannot be used.
    #[error("{0}")]
    Proxy(String),
    /// The TLS setup failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// A command was refused (bad symbol).
    #[error(transparent)]
    Command(#[from] CommandError),
    /// An outbound message could not be built (bad JSON, symbol, quantity, …).
    #[error(transparent)]
    Message(#[from] OutboundError),
    /// The engine has shut down.
    #[error("the connection engine has stopped")]
    Stopped,
    /// Over the outbound rate limit: refused, not queued.
    #[error("rate limited: at most {max} messages per {window_secs} s; the next slot opens in {retry_in_secs:.1} s")]
    RateLimited {
        /// Sends allowed per window.
        max: u32,
        /// The window, seconds.
        window_secs: f64,
        /// Seconds until the next send is allowed.
        retry_in_secs: f64,
    },
}

/// What a [`Handle`] asks of the driver.
#[derive(Debug)]
pub(crate) enum Command {
    Connect,
    Disconnect,
    Reconnect,
    NetworkUp,
    Toggle,
    Send(MessageId, Outbound),
    Subscribe(Vec<String>),
    Unsubscribe(Vec<String>),
    Events(Subscriber),
    Reconfigure(Box<config::Prepared>),
    Tune(Box<uplink_core::Config>),
    Order(
        OrderOp,
        MessageId,
        oneshot::Sender<Result<(), CommandError>>,
    ),
    Shutdown(oneshot::Sender<()>),
    /// Panic in the driver (feature `test-hooks`): how tests show what an unexpected
    /// end of the engine does.
    #[cfg(feature = "test-hooks")]
    Crash,
}

/// What the trader does to one order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum OrderOp {
    Cancel,
    Resend,
    Discard,
}

/// Starts engines.
#[derive(Debug)]
pub struct Engine;

impl Engine {
    /// Validates `config` and starts the engine on the current tokio runtime, in
    /// `disconnected`. Returns a handle and a first event stream.
    pub fn start(config: ClientConfig) -> Result<(Handle, EventStream), EngineError> {
        let prepared = config.prepare()?;
        let seed = config.seed.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0x5eed, |d| d.as_nanos() as u64)
        });
        let now = driver::now();
        let mut core = uplink_core::Connection::new(prepared.core.clone(), seed, now)?;
        let urls: Vec<String> = prepared
            .endpoints
            .iter()
            .map(|t| t.masked_url.clone())
            .collect();
        core.set_urls(&urls);
        core.set_redactor(prepared.redactor.clone());
        let (tx, rx) = mpsc::unbounded_channel();
        let (first, stream) = subscriber(prepared.event_buffer);
        let (status_tx, status_rx) = watch::channel(core.status(now, SystemTime::now()));
        let task = tokio::spawn(driver::Driver::new(core, prepared, rx, first, status_tx).run());
        let session = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let handle = Handle {
            tx,
            status: status_rx,
            next_id: Arc::new(AtomicU64::new(1)),
            limiter: Arc::new(std::sync::Mutex::new(limiter(&config.core))),
            session: Arc::from(format!("u{session:x}")),
            task: Arc::new(std::sync::Mutex::new(Some(task))),
        };
        Ok((handle, stream))
    }
}

/// Commands for a running engine. Cheap to clone; every clone drives the same connection.
#[derive(Debug, Clone)]
pub struct Handle {
    /// Commands to the driver, in order.
    tx: mpsc::UnboundedSender<Command>,
    /// The published status; cloned for whoever asks.
    status: watch::Receiver<Status>,
    /// The next [`MessageId`], shared by every clone so ids are unique per engine.
    next_id: Arc<AtomicU64>,
    /// The outbound rate limit on sends, shared by every clone; `None`: unlimited.
    limiter: Arc<std::sync::Mutex<Option<(RateLimit, RateLimiter)>>>,
    /// Prefix of the `client_order_id`s the engine assigns: unique per engine start.
    session: Arc<str>,
    /// The driver task, awaited once by [`Handle::shutdown`].
    task: Arc<std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl Handle {
    fn cmd(&self, c: Command) -> Result<(), EngineError> {
        self.tx.send(c).map_err(|_| EngineError::Stopped)
    }

    /// Connect (no effect if connected or already trying).
    pub fn connect(&self) -> Result<(), EngineError> {
        self.cmd(Command::Connect)
    }

    /// Disconnect and stay disconnected.
    pub fn disconnect(&self) -> Result<(), EngineError> {
        self.cmd(Command::Disconnect)
    }

    /// Reconnect now: drop the connection, cancel the backoff, reset the attempts.
    pub fn reconnect(&self) -> Result<(), EngineError> {
        self.cmd(Command::Reconnect)
    }

    /// Tell the engine the network is back (or the system resumed): leaves `error`,
    /// skips the remaining backoff, or probes a live link.
    pub fn network_up(&self) -> Result<(), EngineError> {
        self.cmd(Command::NetworkUp)
    }

    /// The Connect/Disconnect control: connect when idle (`disconnected`, `error`),
    /// disconnect otherwise. The status's `toggle` says which it will do.
    pub fn toggle(&self) -> Result<(), EngineError> {
        self.cmd(Command::Toggle)
    }

    /// Queue a message (built, and so validated, by [`Outbound`]); it is written once
    /// connected, in order. Returns its id, which the `sent` and `queue_dropped` events
    /// about it carry. Once this returns `Ok`, the engine has the message.
    ///
    /// Over the rate limit it is refused at once ([`EngineError::RateLimited`], saying
    /// when the next slot opens); it is never delayed or dropped silently. An order
    /// without a `client_order_id` is given one (`u<start>-<id>`), so its
    /// acknowledgement can be recognised and a re-send deduplicated.
    pub fn send(&self, message: Outbound) -> Result<MessageId, EngineError> {
        if let Some((limit, l)) = self.limiter.lock().unwrap().as_mut() {
            if let Err(wait) = l.try_acquire(driver::now()) {
                return Err(EngineError::RateLimited {
                    max: limit.max,
                    window_secs: limit.window.as_secs_f64(),
                    retry_in_secs: wait.as_secs_f64(),
                });
            }
        }
        let id = MessageId(self.next_id.fetch_add(1, Ordering::Relaxed));
        let message = if message.is_order() && message.client_order_id().is_none() {
            message.with_client_order_id(format!("{}-{}", self.session, id.0))
        } else {
            message
        };
        self.cmd(Command::Send(id, message))?;
        Ok(id)
    }

    /// Cancels a queued message before it is written. Refused once it is being
    /// written or was written.
    pub async fn cancel(&self, id: MessageId) -> Result<(), EngineError> {
        self.order_op(OrderOp::Cancel, id).await
    }

    /// Re-sends an order held as unconfirmed (`unacked_orders = hold`), with its
    /// `client_order_id`.
    pub async fn resend(&self, id: MessageId) -> Result<(), EngineError> {
        self.order_op(OrderOp::Resend, id).await
    }

    /// Forgets an order held as unconfirmed: it is never re-sent.
    pub async fn discard(&self, id: MessageId) -> Result<(), EngineError> {
        self.order_op(OrderOp::Discard, id).await
    }

    async fn order_op(&self, op: OrderOp, id: MessageId) -> Result<(), EngineError> {
        let (tx, rx) = oneshot::channel();
        self.cmd(Command::Order(op, id, tx))?;
        Ok(rx.await.map_err(|_| EngineError::Stopped)??)
    }

    /// Add symbols to the subscription set (kept across reconnects).
    pub fn subscribe(&self, symbols: Vec<String>) -> Result<(), EngineError> {
        uplink_core::validate_symbols(&symbols)?;
        self.cmd(Command::Subscribe(symbols))
    }

    /// Remove symbols from the subscription set.
    pub fn unsubscribe(&self, symbols: Vec<String>) -> Result<(), EngineError> {
        uplink_core::validate_symbols(&symbols)?;
        self.cmd(Command::Unsubscribe(symbols))
    }

    /// The published status: `borrow()` reads the current snapshot, `changed()` waits
    /// for the next. It is updated on every change of state, attempt, latency, queue,
    /// subscriptions or error, and every stats interval (counters, uptime, countdown).
    pub fn status(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// A new event stream; it receives every event from now on. A stream that falls
    /// behind never makes the engine wait: it loses price updates (counted in the
    /// status's `events_dropped`), never state changes, order events or errors.
    pub fn events(&self, buffer: usize) -> Result<EventStream, EngineError> {
        let (sub, stream) = subscriber(buffer);
        self.cmd(Command::Events(sub))?;
        Ok(stream)
    }

    /// Apply a new configuration. Validated first (an invalid one changes nothing);
    /// the queue, subscriptions and stats are kept; unless disconnected, the engine
    /// reconnects with it at once.
    pub fn reconfigure(&self, config: &ClientConfig) -> Result<(), EngineError> {
        let prepared = config.prepare()?;
        self.set_limit(&prepared.core);
        self.cmd(Command::Reconfigure(Box::new(prepared)))
    }

    /// Replaces the rate limiter if the limit changed.
    fn set_limit(&self, core: &uplink_core::Config) {
        let mut l = self.limiter.lock().unwrap();
        if l.as_ref().map(|(r, _)| *r) != core.rate_limit {
            *l = limiter(core);
        }
    }

    /// Apply new core tunables (staleness, alerts, backoff, …) without reconnecting.
    /// Validated first; an invalid one changes nothing. Timers already running keep
    /// their deadline; the next ones use the new values.
    pub fn tune(&self, core: uplink_core::Config) -> Result<(), EngineError> {
        core.validate()?;
        self.set_limit(&core);
        self.cmd(Command::Tune(Box::new(core)))
    }

    /// Makes the driver panic, as a bug would (feature `test-hooks`, for tests of what
    /// its users do when the engine ends unexpectedly; never in a release build).
    #[cfg(feature = "test-hooks")]
    pub fn crash(&self) -> Result<(), EngineError> {
        self.cmd(Command::Crash)
    }

    /// Close the connection cleanly and stop the engine; waits until it has stopped.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmd(Command::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
        let task = self.task.lock().unwrap().take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

fn limiter(core: &uplink_core::Config) -> Option<(RateLimit, RateLimiter)> {
    core.rate_limit
        .map(|r| (r, RateLimiter::new(r.max, r.window)))
}

/// Channel capacity, in batches, for a buffer of about `events` events. The driver
/// sends what one wake-up produced as one batch (up to a read batch of frames), so a
/// busy feed costs one channel operation per batch rather than per message.
fn batches(events: usize) -> usize {
    events.div_ceil(64).max(2)
}

/// What one wake-up of the driver produced, for one subscriber.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// When the first frame behind these events was read (or the events made, if no
    /// frame was behind them), on the driver's clock.
    pub(crate) read_at: Instant,
    /// The events, in order.
    pub(crate) events: Vec<EngineEvent>,
    /// Bytes of the frames behind them; for a batch from a backlog, the
    /// [`event_bytes`] of its events.
    pub(crate) bytes: usize,
}

/// The most frame bytes one subscriber may have waiting before it loses market data;
/// also the most [`event_bytes`] its backlog may hold.
pub const MAX_BEHIND_BYTES: usize = 64 << 20;
/// The most events kept in the backlog of a subscriber that is behind.
pub const MAX_BACKLOG: usize = 10_000;

/// What a subscriber that is behind keeps: everything but market data. Market data is
/// a price update, or a feed message of a type Uplink does not know (trades, books,
/// a custom dialect's ticks) other than `order` and `error` (a venue's own shape of
/// those). A newer one will come.
fn kept_when_behind(e: &EngineEvent) -> bool {
    match e {
        EngineEvent::Message { message } => match &message.payload {
            Payload::Update(_) => false,
            Payload::Other(m) => matches!(
                m.get("type").and_then(serde_json::Value::as_str),
                Some("order" | "error")
            ),
            _ => true,
        },
        _ => true,
    }
}

/// The bytes an event is counted for in a backlog: 64 for the event, and for a feed
/// message the lengths of its strings (an order's, an error's, a subscription's
/// symbols) and of any JSON it carries (an error's details, a message of another
/// type: its strings and keys, and 8 for each other value). An estimate of its
/// memory, within a small factor, computed only for a subscriber that is behind.
pub fn event_bytes(e: &EngineEvent) -> usize {
    fn value(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::String(s) => s.len(),
            serde_json::Value::Array(a) => 8 + a.iter().map(value).sum::<usize>(),
            serde_json::Value::Object(m) => {
                8 + m.iter().map(|(k, v)| k.len() + value(v)).sum::<usize>()
            }
            _ => 8,
        }
    }
    let strings = |v: &[Option<&str>]| v.iter().flatten().map(|s| s.len()).sum::<usize>();
    64 + match e {
        EngineEvent::Message { message } => match &message.payload {
            Payload::Order(o) => strings(&[
                o.id.as_deref(),
                o.client_order_id.as_deref(),
                Some(&o.symbol),
                o.filled_at.as_deref(),
                o.reason.as_deref(),
            ]),
            Payload::Error(e) => e.code.len() + e.message.len() + value(&e.details),
            Payload::Subscribe(d) | Payload::Unsubscribe(d) => {
                d.symbols.iter().map(|s| 8 + s.len()).sum()
            }
            Payload::Other(m) => m.iter().map(|(k, v)| k.len() + value(v)).sum(),
            _ => 0,
        },
        _ => 0,
    }
}

/// The engine's side of one event stream.
#[derive(Debug)]
pub(crate) struct Subscriber {
    /// Batches to the stream.
    pub(crate) tx: mpsc::Sender<Batch>,
    /// Bytes sent and not yet taken by the stream (see [`Batch::bytes`]).
    pub(crate) behind: Arc<AtomicUsize>,
    /// Events waiting because the stream was behind (never market data), at most
    /// [`MAX_BACKLOG`] of them and [`MAX_BEHIND_BYTES`] of [`event_bytes`].
    pub(crate) backlog: std::collections::VecDeque<(EngineEvent, usize)>,
    /// The [`event_bytes`] of the backlog.
    pub(crate) backlog_bytes: usize,
}

impl Subscriber {
    /// Sends what waits in the backlog, if the stream has room now and is not more
    /// than [`MAX_BEHIND_BYTES`] behind.
    pub(crate) fn flush(&mut self) {
        self.flush_at(driver::now());
    }

    /// [`Subscriber::flush`], the batch stamped as read at `read_at`.
    fn flush_at(&mut self, read_at: Instant) {
        let room =
            self.tx.capacity() > 0 && self.behind.load(Ordering::Relaxed) <= MAX_BEHIND_BYTES;
        if !self.backlog.is_empty() && room {
            let b = Batch {
                read_at,
                events: self.backlog.drain(..).map(|(e, _)| e).collect(),
                bytes: std::mem::take(&mut self.backlog_bytes),
            };
            self.send_counted(b);
        }
    }

    /// Sends a batch the channel has room for, counting its bytes as behind (before
    /// the send, so the stream never takes away more than was added).
    fn send_counted(&mut self, b: Batch) {
        let bytes = b.bytes;
        self.behind.fetch_add(bytes, Ordering::Relaxed);
        if let Err(e) = self.tx.try_send(b) {
            self.behind.fetch_sub(bytes, Ordering::Relaxed);
            // Only this task sends, and it looked for room: never happens, but the
            // events are not lost if it does.
            if let mpsc::error::TrySendError::Full(b) = e {
                for ev in b.events {
                    self.push_backlog(ev);
                }
            }
        }
    }

    /// Puts an event at the end of the backlog, counting its [`event_bytes`].
    fn push_backlog(&mut self, e: EngineEvent) {
        let n = event_bytes(&e);
        self.backlog_bytes += n;
        self.backlog.push_back((e, n));
    }

    /// Offers a batch without waiting; returns how many events were dropped.
    pub(crate) fn offer(&mut self, mut b: Batch) -> u64 {
        let mut dropped = 0u64;
        let behind = self.behind.load(Ordering::Relaxed) > MAX_BEHIND_BYTES;
        if !self.backlog.is_empty() || behind || self.tx.capacity() == 0 {
            // Behind: keep what matters, drop the market data (a newer one will come).
            for e in b.events.drain(..) {
                if kept_when_behind(&e) {
                    self.push_backlog(e);
                } else {
                    dropped += 1;
                }
            }
            // Too many, or too big: the oldest go, counted.
            while self.backlog.len() > MAX_BACKLOG || self.backlog_bytes > MAX_BEHIND_BYTES {
                let Some((_, n)) = self.backlog.pop_front() else {
                    break;
                };
                self.backlog_bytes -= n;
                dropped += 1;
            }
            self.flush_at(b.read_at);
            return dropped;
        }
        self.send_counted(b);
        dropped
    }
}

/// A subscriber and its stream, buffering about `events` events.
fn subscriber(events: usize) -> (Subscriber, EventStream) {
    let (tx, rx) = mpsc::channel(batches(events));
    let behind = Arc::new(AtomicUsize::new(0));
    let sub = Subscriber {
        tx,
        behind: Arc::clone(&behind),
        backlog: std::collections::VecDeque::new(),
        backlog_bytes: 0,
    };
    (sub, EventStream::new(rx, behind))
}

/// A subscriber's events, in order, and how far behind the socket the subscriber is.
#[derive(Debug)]
pub struct EventStream {
    /// Batches from the driver.
    rx: mpsc::Receiver<Batch>,
    /// The rest of the batch being read.
    pending: std::vec::IntoIter<EngineEvent>,
    /// When the frames behind the batch being read were read.
    read_at: Option<Instant>,
    /// This subscriber's lag: frame read to event received, per batch.
    lag: uplink_core::LatencyTracker,
    /// Bytes sent to this stream and not yet taken (shared with the engine; see
    /// [`Batch::bytes`]).
    behind: Arc<AtomicUsize>,
}

/// Batches whose lag is kept for [`EventStream::lag`].
const LAG_WINDOW: usize = 100;

impl EventStream {
    fn new(rx: mpsc::Receiver<Batch>, behind: Arc<AtomicUsize>) -> Self {
        EventStream {
            rx,
            pending: Vec::new().into_iter(),
            read_at: None,
            lag: uplink_core::LatencyTracker::new(LAG_WINDOW),
            behind,
        }
    }

    fn take(&mut self, b: Batch) {
        self.behind.fetch_sub(b.bytes, Ordering::Relaxed);
        self.lag
            .record(driver::now().saturating_duration_since(b.read_at));
        self.read_at = Some(b.read_at);
        self.pending = b.events.into_iter();
    }

    /// The next event; `None` once the engine has stopped.
    pub async fn recv(&mut self) -> Option<EngineEvent> {
        loop {
            if let Some(ev) = self.pending.next() {
                return Some(ev);
            }
            let b = self.rx.recv().await?;
            self.take(b);
        }
    }

    /// The next event if one is ready.
    pub fn try_recv(&mut self) -> Option<EngineEvent> {
        loop {
            if let Some(ev) = self.pending.next() {
                return Some(ev);
            }
            let b = self.rx.try_recv().ok()?;
            self.take(b);
        }
    }

    /// When the frame behind the last event received was read from the socket (on
    /// tokio's clock), so a subscriber can measure its own lag further on.
    pub fn read_at(&self) -> Option<Instant> {
        self.read_at
    }

    /// This subscriber's lag over the last batches: from a frame being read to its
    /// event being received here. A backlog inside Uplink shows here, however good the
    /// network round trip is.
    pub fn lag(&self) -> uplink_core::LatencySummary {
        self.lag.summary()
    }
}
#[cfg(test)]
mod tests {
    /// Every inbound message is moved through the core, the batch and the subscriber;
    /// the benchmark showed these sizes matter. Rare, large payloads stay boxed.
    #[test]
    fn hot_path_events_stay_small() {
        assert!(std::mem::size_of::<uplink_proto::Envelope>() <= 80);
        assert!(std::mem::size_of::<crate::EngineEvent>() <= 80);
        assert!(std::mem::size_of::<uplink_core::Event>() <= 80);
    }

    use super::*;

    fn message(text: &str) -> EngineEvent {
        EngineEvent::Message {
            message: uplink_proto::Envelope::decode(text).unwrap(),
        }
    }

    fn batch(events: Vec<EngineEvent>) -> Batch {
        Batch {
            read_at: driver::now(),
            bytes: events.len() * 100,
            events,
        }
    }

    /// A subscriber that stopped reading, on a feed of large messages: it loses the
    /// market data, keeps orders and errors, and what it keeps stays within
    /// [`MAX_BACKLOG`] events and [`MAX_BEHIND_BYTES`]; the oldest go, counted.
    #[tokio::test]
    async fn a_stalled_subscriber_keeps_what_matters_within_its_bounds() {
        let (mut sub, mut stream) = subscriber(128);
        let cap = sub.tx.max_capacity();
        let update = || message(r#"{"type":"update","data":{"symbol":"A","price":1}}"#);
        for _ in 0..cap {
            assert_eq!(sub.offer(batch(vec![update()])), 0, "room in the channel");
        }
        // Behind now. Prices and an unknown type's ticks go; an order, a venue's
        // report, an error and a state change stay.
        let book = message(r#"{"type":"book","data":{"bids":[[1,2]],"asks":[]}}"#);
        let order = message(
            r#"{"type":"order","data":{"id":"o1","client_order_id":"c1","symbol":"A","side":"buy","qty":1,"status":"accepted"}}"#,
        );
        let venue = message(
            r#"{"type":"order","data":{"id":"o1","client_order_id":"c1","status":"FILLED"}}"#,
        );
        let elsewhere = message(r#"{"type":"order","data":{"id":"o2","status":"FILLED"}}"#);
        let error = message(r#"{"type":"error","data":{"code":"E","message":"m"}}"#);
        let state = EngineEvent::Sent { id: MessageId(1) };
        let events = vec![update(), book, order, venue, elsewhere, error, state];
        assert_eq!(sub.offer(batch(events)), 2);
        assert_eq!(sub.backlog.len(), 5);

        // Feed reports of 1 MiB each: the backlog holds 64 MiB of them at most.
        let big = "x".repeat(1 << 20);
        let report = || {
            message(&format!(
                r#"{{"type":"order","data":{{"client_order_id":"c1","status":"FILLED","note":"{big}"}}}}"#
            ))
        };
        assert!(event_bytes(&report()) > 1 << 20);
        // An error's details and a subscription's symbols count too.
        let detailed = message(&format!(
            r#"{{"type":"error","data":{{"code":"E","message":"m","details":{{"x":"{big}"}}}}}}"#
        ));
        assert!(event_bytes(&detailed) > 1 << 20);
        let symbols = (0..1000)
            .map(|i| format!("\"S{i:05}\""))
            .collect::<Vec<_>>();
        let subscribe = message(&format!(
            r#"{{"type":"subscribe","data":{{"symbols":[{}]}}}}"#,
            symbols.join(",")
        ));
        assert!(event_bytes(&subscribe) > 6 * 1000);
        let mut dropped = 0;
        for _ in 0..100 {
            dropped += sub.offer(batch(vec![report()]));
        }
        assert!(
            sub.backlog_bytes <= MAX_BEHIND_BYTES,
            "{}",
            sub.backlog_bytes
        );
        assert_eq!(
            sub.backlog_bytes,
            sub.backlog.iter().map(|(_, n)| n).sum::<usize>()
        );
        assert_eq!(
            sub.backlog.len() as u64 + dropped,
            105,
            "each one kept or counted"
        );
        assert!(sub.backlog.len() >= 60, "{}", sub.backlog.len());
        // The four small ones were the oldest: they went first.
        assert!(
            event_bytes(&sub.backlog[0].0) > 1 << 20,
            "the oldest kept is a report"
        );

        // Many small ones: at most MAX_BACKLOG events.
        let mut dropped = 0;
        for _ in 0..(MAX_BACKLOG / 100 + 1) {
            let events = (0..100)
                .map(|_| EngineEvent::Sent { id: MessageId(2) })
                .collect();
            dropped += sub.offer(batch(events));
        }
        assert_eq!(sub.backlog.len(), MAX_BACKLOG);
        assert!(dropped > 0);

        // The stream reads again: the channel's batches, then the backlog, whole.
        for _ in 0..cap {
            assert!(stream.try_recv().is_some());
        }
        assert_eq!(sub.behind.load(Ordering::Relaxed), 0);
        sub.flush();
        assert!(sub.backlog.is_empty());
        let mut n = 0;
        while stream.try_recv().is_some() {
            n += 1;
        }
        assert_eq!(n, MAX_BACKLOG);
        assert_eq!(
            sub.behind.load(Ordering::Relaxed),
            0,
            "every byte taken back"
        );
    }

    /// Behind by bytes with room in the channel: 70 MiB of frames wait for the
    /// stream. The next batch's price goes, its order waits, and nothing more is sent
    /// until the stream has taken those bytes.
    #[tokio::test]
    async fn more_than_max_behind_bytes_waiting_holds_the_backlog_back() {
        let (mut sub, mut stream) = subscriber(4096);
        let update = || message(r#"{"type":"update","data":{"symbol":"A","price":1}}"#);
        let order = || {
            message(
                r#"{"type":"order","data":{"id":"o1","client_order_id":"c1","symbol":"A","side":"buy","qty":1,"status":"accepted"}}"#,
            )
        };
        let mut big = batch(vec![update()]);
        big.bytes = 70 << 20;
        assert_eq!(sub.offer(big), 0);
        assert_eq!(sub.offer(batch(vec![update(), order()])), 1, "the price");
        assert_eq!(sub.backlog.len(), 1, "the order waits");
        sub.flush();
        assert_eq!(sub.backlog.len(), 1, "not while 70 MiB wait");
        assert!(
            stream.try_recv().is_some(),
            "the stream takes the big batch"
        );
        assert_eq!(sub.behind.load(Ordering::Relaxed), 0);
        sub.flush();
        assert!(sub.backlog.is_empty());
        let next = stream.try_recv();
        assert!(
            matches!(&next, Some(EngineEvent::Message { message }) if message.payload.kind() == "order"),
            "{next:?}"
        );
        assert_eq!(sub.behind.load(Ordering::Relaxed), 0);
    }
}
