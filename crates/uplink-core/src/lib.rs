//! Uplink's connection core: everything that decides, nothing that does.
//!
//! [`Connection`] is a pure state machine in the style of quinn-proto and str0m. It
//! owns the connection state, backoff, heartbeat, latency, statistics, the outbound
//! queue and the subscription set, but never touches a socket, a timer or a clock:
//!
//! * inputs are `handle_*` calls, each given `now: Instant` (commands from the user,
//!   socket events reported by the driver, and [`Connection::handle_timeout`]);
//! * outputs are pulled with [`Connection::poll_action`] (what the driver must do to
//!   the network: dial, write, close, abort), [`Connection::poll_event`] (what
//!   subscribers should hear: state changes, retries, latency, messages, sends and
//!   drops by [`MessageId`], errors) and [`Connection::poll_timeout`] (when to call
//!   `handle_timeout` next);
//! * the picture of the connection is [`Connection::status`], a [`Status`] with the
//!   words people read ([`Status::label`]) and the Connect/Disconnect rule
//!   ([`Toggle`]); [`Connection::status_revision`] changes whenever something it shows
//!   changes, so a driver publishes it only then;
//! * randomness (backoff jitter) comes from a seed given to [`Connection::new`].
//!
//! The same inputs always give the same outputs, so every scenario is tested
//! deterministically with explicit instants (see `tests/scenarios.rs`).
//!
//! Module tour: `backoff` (delays and jitter), `config` (tunables, validated),
//! `latency` (round-trip window), `queue` (the bounded outbound queue), `stats`
//! (counters and error kinds), `status` (the published snapshot and its words), and
//! this file (the state machine).
//!
//! # States and transitions
//!
//! ```text
//!              connect                 handshake ok
//! Disconnected ───────► Connecting ───────────────────► Connected
//!      ▲                    │ retryable failure            │ lost (close, I/O error,
//!      │ disconnect         ▼                              │ pong timeout, silence)
//!      │ (from any)    Reconnecting ◄──────────────────────┘
//!      │               (attempt n: wait backoff(n), dial) ── dial ok ──► Connected
//!      │                    │ attempt n == max fails, or a fatal failure (401/403, TLS)
//!      │                    ▼
//!      └─────────────── Error ── manual reconnect / network back / resumed ──► Connecting
//! ```
//!
//! * A fatal failure (authentication, TLS) goes to `error` at once from any dial:
//!   retrying cannot fix it, and a tight loop against an auth wall helps nobody.
//! * `reconnect` (manual) from any state drops the current socket, cancels any pending
//!   backoff, resets the attempt count and dials at once.
//! * The attempt count resets only after a connection has stayed up for `min_uptime`,
//!   so a server that accepts and drops at once walks the backoff up to `error`.
//!
//! # Writes
//!
//! After every handshake the core first re-sends the whole subscription set (one
//! `subscribe`), sends a first heartbeat ping (so latency is known at once), then flushes the outbound queue in order, one message per
//! `flush_interval`. A queued message leaves the queue only when the driver confirms
//! it was written ([`Connection::handle_written`]); if the connection dies first, it is
//! written again on the next connection, so nothing is lost or duplicated across a
//! reconnect.

#![deny(missing_docs)]

mod backoff;
mod config;
mod failover;
mod health;
mod latency;
pub mod network;
mod orders;
mod queue;
pub mod redact;
mod stats;
mod status;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use thiserror::Error;
use uplink_proto::{Envelope, OrderStatus, Outbound, Payload, Timestamp};

pub use backoff::{Backoff, SplitMix64};
pub use config::{Config, ConfigError, Heartbeat, PongMatch, RateLimit, UnackedOrders};
pub use failover::{role, BreakerConfig, BreakerState, EndpointStatus, Endpoints};
pub use health::{feed_delay_ms, parse_rfc3339_ms, ClockEstimator, SKEW_WARN_MS};
pub use latency::{ms as duration_ms, LatencySummary, LatencyTracker};
pub use orders::{AckTracker, Awaiting, RateLimiter};
pub use queue::{OutboundQueue, Queued};
pub use redact::Redactor;
pub use stats::{ErrorKind, LastError, StatsSnapshot};
pub use status::{fmt_secs, shorten, Status, SymbolHealth, Toggle};
pub use uplink_proto as proto;

use stats::Stats;

/// Identifies one dial and the socket it produced. Events about an older connection
/// (a late close, a frame from a socket being torn down) are recognised and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ConnId(pub u64);

/// Names one message given to [`Connection::handle_send`]. The caller assigns it (the
/// engine's handle does, so `send` can return it at once); events about the message
/// ([`Event::Sent`], [`Event::QueueDropped`]) carry it instead of the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct MessageId(pub u64);

/// The five states of the seed's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum StateKind {
    /// No connection, none wanted.
    Disconnected,
    /// First dial after `connect` or a manual reconnect.
    Connecting,
    /// Up and healthy.
    Connected,
    /// Lost; waiting for the next attempt or dialing it.
    Reconnecting,
    /// Gave up, or a failure retrying cannot fix. Waits for a person or the network.
    Error,
}

impl StateKind {
    /// The lowercase name used on the wire and in the UI.
    pub fn as_str(self) -> &'static str {
        match self {
            StateKind::Disconnected => "disconnected",
            StateKind::Connecting => "connecting",
            StateKind::Connected => "connected",
            StateKind::Reconnecting => "reconnecting",
            StateKind::Error => "error",
        }
    }
}

/// What the driver must do to the network.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Open a WebSocket; report with `handle_connected` or `handle_connect_failed`.
    Dial {
        /// The id of the new connection.
        conn: ConnId,
        /// Which endpoint (0 = the primary).
        endpoint: usize,
    },
    /// Open a second WebSocket to `endpoint` in the background, leaving the live one
    /// alone: a failback probe. Report with `handle_connected` (the core then switches
    /// to it) or `handle_connect_failed`.
    Probe {
        /// The id of the probe connection.
        conn: ConnId,
        /// Which endpoint (the primary).
        endpoint: usize,
    },
    /// Write one text frame; report with `handle_written`, or `handle_connection_lost` on failure.
    Transmit {
        /// The connection to write on.
        conn: ConnId,
        /// The queued message's id, or `None` for control messages (ping, subscribe).
        id: Option<MessageId>,
        /// The JSON text.
        text: String,
    },
    /// Send a WebSocket protocol Ping frame with this payload (`heartbeat = websocket`);
    /// report its Pong with [`Connection::handle_ws_pong`].
    Ping {
        /// The connection.
        conn: ConnId,
        /// The payload the Pong must echo.
        payload: [u8; 8],
    },
    /// Close gracefully with a close frame, then forget the connection.
    Close {
        /// The connection to close.
        conn: ConnId,
        /// WebSocket close code.
        code: u16,
        /// Close reason.
        reason: &'static str,
    },
    /// Drop the socket at once (dead link, abandoned dial); nothing more is reported about it.
    Abort {
        /// The connection or dial to drop.
        conn: ConnId,
    },
}

/// What subscribers should hear.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The state changed (only ever to a different state); [`Connection::status`] has
    /// the details.
    StateChanged(StateKind),
    /// The connection is up on another endpoint than the last one (failover to a
    /// backup, or failback to the primary). Once per switch.
    EndpointSwitched {
        /// The endpoint before.
        from: usize,
        /// The endpoint now.
        to: usize,
    },
    /// A reconnect attempt was scheduled after a failure.
    RetryScheduled {
        /// The attempt that will dial (1-based).
        attempt: u32,
        /// Attempts before giving up.
        max_attempts: u32,
        /// How long until it dials.
        delay: Duration,
    },
    /// A ping/pong round trip completed.
    Latency(Duration),
    /// A message arrived from the feed (pongs are consumed by the heartbeat).
    Message(Envelope),
    /// A queued message was written to the socket and left the queue.
    Sent {
        /// The message's id.
        id: MessageId,
    },
    /// The outbound queue overflowed and dropped its oldest message.
    QueueDropped {
        /// The dropped message's id.
        id: MessageId,
        /// Messages dropped since start.
        total: u64,
    },
    /// Connected, with symbols subscribed, but no data message for `stale_after`:
    /// the prices on screen are old. Once per stale episode.
    Stale {
        /// How long since the last data message (or since the connection opened).
        age: Duration,
        /// The subscribed symbols.
        symbols: Vec<String>,
    },
    /// Data flows again (or nothing is subscribed any more): the stale episode ended.
    Fresh {
        /// How long it was stale.
        stale_for: Duration,
    },
    /// The feed has been down (reconnecting) for `alert_after`. Once per outage.
    OutageAlert {
        /// How long it has been down.
        down_for: Duration,
    },
    /// Connected again after an outage.
    Recovered {
        /// How long it was down.
        down_for: Duration,
        /// Whether the outage was alerted ([`Event::OutageAlert`]).
        alerted: bool,
    },
    /// The peer's clock, estimated from ping/pong round trips, crossed
    /// [`SKEW_WARN_MS`] either way (or came back within it).
    ClockSkew {
        /// The estimated offset, peer minus local, ms.
        offset_ms: f64,
        /// Whether it is beyond the threshold now.
        skewed: bool,
    },
    /// The feed acknowledged an order: an inbound `order` echoed its
    /// `client_order_id`. It is no longer re-sent.
    Acked {
        /// The order's message id.
        id: MessageId,
        /// The feed's order id, if it gave one.
        order_id: Option<String>,
        /// The status it reported.
        status: Option<OrderStatus>,
    },
    /// An order was written again after a reconnect (same `client_order_id`).
    Resent {
        /// The order's message id.
        id: MessageId,
    },
    /// An order may or may not have reached the feed: the trader should check.
    Unconfirmed {
        /// The order's message id.
        id: MessageId,
        /// Why.
        reason: Unconfirmed,
    },
    /// A queued message will never be sent.
    Expired {
        /// Its message id.
        id: MessageId,
        /// Why.
        reason: Expiry,
    },
    /// A queued order was cancelled before it was written.
    Cancelled {
        /// The order's message id.
        id: MessageId,
    },
    /// An unconfirmed order the trader chose to forget (not re-sent).
    Discarded {
        /// The order's message id.
        id: MessageId,
    },
    /// Something failed; it is also counted in the stats.
    Error {
        /// What failed.
        kind: ErrorKind,
        /// Human-readable explanation.
        message: String,
    },
}

/// Why an order is unconfirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Unconfirmed {
    /// Written on a live connection, no acknowledgement within `ack_timeout`. Still
    /// tracked: a late acknowledgement is recognised, a reconnect re-sends it.
    AckTimeout,
    /// The connection was lost before the acknowledgement (`unacked_orders = hold`):
    /// held for the trader to resend or discard.
    ConnectionLost,
    /// The feed URL or token changed: it is not sent to the new feed.
    FeedChanged,
    /// More orders await acknowledgement than the queue holds: the oldest is no
    /// longer tracked.
    Untracked,
}

/// Why a queued message expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum Expiry {
    /// An order waited `order_ttl` (offline): never sent late.
    Ttl,
    /// The feed URL or token changed: nothing of the old queue goes to the new feed.
    FeedChanged,
}

/// A command the core refused, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// A symbol is empty, too long or contains characters a feed would not accept.
    #[error("invalid symbol {0:?}: use 1 to 32 letters, digits or . _ - / : ^ =")]
    InvalidSymbol(String),
    /// The message is no longer waiting: it is being written, was written, or is gone.
    #[error("message {0} is no longer waiting in the queue: it was sent or is gone")]
    NotQueued(u64),
    /// The order is not held for a decision (unknown, acknowledged, or not held).
    #[error("order {0} is not held as unconfirmed")]
    NotHeld(u64),
}

/// A dial in progress.
#[derive(Debug, Clone, Copy)]
struct Dialing {
    /// The id the driver will report back.
    conn: ConnId,
    /// When the dial is abandoned.
    deadline: Instant,
}

/// Everything that exists only while connected.
#[derive(Debug)]
struct Connected {
    /// The live connection.
    conn: ConnId,
    /// When the handshake completed.
    since: Instant,
    /// When the attempt counter resets, if it needs to.
    stable_at: Option<Instant>,
    /// When the next ping goes out (unless one is outstanding).
    next_ping_at: Instant,
    /// When the outstanding ping was sent.
    ping_sent_at: Option<Instant>,
    /// Last moment anything arrived.
    last_inbound: Instant,
    /// The queue holds a backlog from before this connection: flush it paced.
    pacing: bool,
    /// When the next paced message may go.
    next_flush_at: Instant,
    /// Last data message on this connection, or when it opened: the stale clock.
    last_data: Instant,
    /// When the current stale episode began, if the connection is stale.
    stale_since: Option<Instant>,
    /// On a backup: when to probe the primary.
    failback_at: Option<Instant>,
    /// The failback probe under way.
    probe: Option<Dialing>,
    /// The payload of the outstanding WebSocket Ping (`heartbeat = websocket`).
    ping_payload: [u8; 8],
    /// How long the outstanding ping may wait for its answer: `pong_timeout`, or less
    /// for the probe after a resume or a network change.
    pong_wait: Duration,
}

/// A subscribed symbol's clock.
#[derive(Debug, Clone, Copy)]
struct SymbolClock {
    /// When it was subscribed, or the current connection opened if later: its
    /// stale clock starts here.
    since: Instant,
    /// Its last update, from any connection.
    last: Option<Instant>,
}

/// A connection lost or failing, not by the user's choice.
#[derive(Debug, Clone, Copy)]
struct Outage {
    /// When it began (the first failure).
    since: Instant,
    /// Whether [`Event::OutageAlert`] was raised for it.
    alerted: bool,
}

/// Waiting for the next attempt, or dialing it.
#[derive(Debug, Clone, Copy)]
enum Retry {
    /// Backoff running.
    Waiting {
        /// When the attempt dials.
        at: Instant,
    },
    /// The attempt is dialing.
    Dialing(Dialing),
}

/// The machine's state, each with only the data that state needs.
#[derive(Debug)]
enum State {
    Disconnected,
    Connecting(Dialing),
    Connected(Connected),
    Reconnecting(Retry),
    Error {
        /// What the last failure was.
        kind: ErrorKind,
        /// Whether the reconnect loop ran out of attempts (as opposed to a fatal failure).
        gave_up: bool,
    },
}

/// The connection core. See the crate documentation.
#[derive(Debug)]
pub struct Connection {
    /// Tunables, validated at construction.
    config: Config,
    /// Backoff derived from the config.
    backoff: Backoff,
    /// Jitter source, seeded by the caller.
    rng: SplitMix64,
    /// Where the machine is.
    state: State,
    /// When `state` was entered.
    since: Instant,
    /// Why we are in `state`, for people.
    reason: Option<String>,
    /// Failed attempts since the last stable connection (0 = none).
    attempt: u32,
    /// Id of the next dial.
    next_conn: u64,
    /// Whether a connection has ever been up (a later one counts as a reconnection).
    was_connected: bool,
    /// The desired subscription set, kept sorted and free of duplicates.
    subscriptions: BTreeSet<String>,
    /// User messages not yet written.
    queue: OutboundQueue,
    /// Counters.
    stats: Stats,
    /// One known pair of monotonic and wall-clock time (Unix ms), set by the driver:
    /// how the core turns instants into wall time for timestamps, with no clock read.
    wall_anchor: Option<(Instant, f64)>,
    /// The last data message from any connection.
    last_data: Option<Instant>,
    /// Numbers WebSocket Ping payloads.
    next_conn_ping: u64,
    /// Each subscribed symbol's clock (looked up on every update: a cheap hash).
    symbol_clocks: HashMap<String, SymbolClock, BuildHasherDefault<Fnv1a>>,
    /// No feed-delay sample before this: timestamps are read at most every
    /// [`DELAY_SAMPLE_EVERY`], not on every message of a fast feed.
    next_delay_sample: Option<Instant>,
    /// The outage in progress, if any.
    outage: Option<Outage>,
    /// The peer's clock offset, from ping/pong timestamps.
    clock: ClockEstimator,
    /// Whether the offset is beyond [`SKEW_WARN_MS`] (announced on each change).
    skewed: bool,
    /// The feed's delay per timestamped message, corrected by the clock offset.
    delay: LatencyTracker,
    /// Removes secrets from every reason and error before anyone sees them.
    redactor: Redactor,
    /// Round-trip samples.
    latency: LatencyTracker,
    /// Orders written and not yet acknowledged.
    acks: AckTracker,
    /// The feed's endpoints and their breakers.
    endpoints: Endpoints,
    /// The endpoint dialing or connected (0 = primary).
    endpoint: usize,
    /// The endpoint the next retry dials.
    next_endpoint: usize,
    /// The endpoint of the last connection that came up.
    connected_endpoint: Option<usize>,
    /// The URL shown in the status, credentials masked by the driver.
    url: String,
    /// Pending outputs for the driver.
    actions: VecDeque<Action>,
    /// Pending outputs for subscribers.
    events: VecDeque<Event>,
    /// Bumped whenever something [`Status`] shows changes, other than the counters
    /// and clocks that move with every frame; lets the driver publish only changes.
    revision: u64,
}

/// Converts an `Instant` to wall-clock Unix milliseconds, given one known pair.
fn unix_ms(at: Instant, now: Instant, wall_now: SystemTime) -> u64 {
    let wall = if at <= now {
        wall_now.checked_sub(now - at)
    } else {
        wall_now.checked_add(at - now)
    };
    wall.and_then(|w| w.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

/// Checks symbols for subscribe/unsubscribe.
pub fn validate_symbols(symbols: &[String]) -> Result<(), CommandError> {
    match symbols.iter().find(|s| !uplink_proto::valid_symbol(s)) {
        Some(bad) => Err(CommandError::InvalidSymbol(bad.clone())),
        None => Ok(()),
    }
}

impl Connection {
    /// A disconnected core. `seed` drives the backoff jitter.
    pub fn new(config: Config, seed: u64, now: Instant) -> Result<Connection, ConfigError> {
        config.validate()?;
        Ok(Connection {
            backoff: Backoff {
                base: config.reconnect_base_delay,
                max: config.reconnect_max_delay,
                jitter: config.jitter,
            },
            rng: SplitMix64::new(seed),
            state: State::Disconnected,
            since: now,
            reason: None,
            attempt: 0,
            next_conn: 0,
            was_connected: false,
            subscriptions: BTreeSet::new(),
            queue: OutboundQueue::new(config.queue_size),
            stats: Stats::default(),
            latency: LatencyTracker::new(config.latency_window),
            redactor: Redactor::default(),
            acks: AckTracker::default(),
            endpoints: Endpoints::new(config.endpoints, breaker_config(&config)),
            endpoint: 0,
            next_endpoint: 0,
            connected_endpoint: None,
            wall_anchor: None,
            last_data: None,
            symbol_clocks: HashMap::default(),
            next_conn_ping: 0,
            next_delay_sample: None,
            outage: None,
            clock: ClockEstimator::default(),
            skewed: false,
            delay: LatencyTracker::new(config.latency_window),
            url: String::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            revision: 0,
            config,
        })
    }

    /// Sets the URL shown in [`Status`] (already masked): the primary's.
    pub fn set_url(&mut self, masked: impl Into<String>) {
        self.url = masked.into();
        self.endpoints.set_urls(std::slice::from_ref(&self.url));
        self.touch();
    }

    /// Sets every endpoint's URL shown in [`Status`] (already masked), primary first.
    pub fn set_urls(&mut self, masked: &[String]) {
        if let Some(first) = masked.first() {
            self.url.clone_from(first);
        }
        self.endpoints.set_urls(masked);
        self.touch();
    }

    /// The endpoint dialing or connected (0 = the primary).
    pub fn endpoint(&self) -> usize {
        self.endpoint
    }

    /// The secrets of the configuration in force (token, proxy passwords, header
    /// values): never shown in a reason, an error or the status.
    pub fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    /// A subscriber was behind and lost `n` price updates (the driver's delivery
    /// policy); counted in the status.
    pub fn note_events_dropped(&mut self, n: u64) {
        self.stats.events_dropped += n;
    }

    /// Tells the core what wall-clock time (Unix ms) `now` is. The driver calls it at
    /// start and every stats tick; timestamps (feed delay, clock offset) are compared
    /// through it.
    pub fn set_wall_clock(&mut self, now: Instant, unix_ms: f64) {
        self.wall_anchor = Some((now, unix_ms));
    }

    /// Wall-clock Unix ms of `at`, if the driver has said what time it is.
    fn wall_ms(&self, at: Instant) -> Option<f64> {
        let (anchor, ms) = self.wall_anchor?;
        Some(if at >= anchor {
            ms + (at - anchor).as_secs_f64() * 1000.0
        } else {
            ms - (anchor - at).as_secs_f64() * 1000.0
        })
    }

    /// Changes whenever something [`Status`] shows changes, apart from the counters,
    /// uptime and countdown that move with time and traffic.
    pub fn status_revision(&self) -> u64 {
        self.revision
    }

    /// When the next reconnect attempt dials, while waiting for it.
    pub fn next_retry_at(&self) -> Option<Instant> {
        match self.state {
            State::Reconnecting(Retry::Waiting { at }) => Some(at),
            _ => None,
        }
    }

    /// Why the connection is in its state (last failure, or what the user did).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> StateKind {
        match self.state {
            State::Disconnected => StateKind::Disconnected,
            State::Connecting(_) => StateKind::Connecting,
            State::Connected(_) => StateKind::Connected,
            State::Reconnecting(_) => StateKind::Reconnecting,
            State::Error { .. } => StateKind::Error,
        }
    }

    /// The connection currently dialing or up, if any.
    pub fn current_conn(&self) -> Option<ConnId> {
        match &self.state {
            State::Connecting(d) | State::Reconnecting(Retry::Dialing(d)) => Some(d.conn),
            State::Connected(c) => Some(c.conn),
            _ => None,
        }
    }

    // ------------------------------------------------------------------ outputs

    /// The next thing the driver must do to the network.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next thing subscribers should hear.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many events are waiting to be polled.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// When [`Connection::handle_timeout`] must be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let state = match &self.state {
            State::Disconnected | State::Error { .. } => None,
            State::Connecting(d) | State::Reconnecting(Retry::Dialing(d)) => Some(d.deadline),
            State::Reconnecting(Retry::Waiting { at }) => Some(*at),
            State::Connected(c) => {
                let heartbeat = match (c.ping_sent_at, &self.config.heartbeat) {
                    (Some(sent), _) => sent + c.pong_wait,
                    (None, Heartbeat::None) => c.last_inbound + self.idle_limit(),
                    (None, _) => c.next_ping_at,
                };
                let mut t = heartbeat.min(c.last_inbound + self.idle_limit());
                if let Some(s) = c.stable_at {
                    t = t.min(s);
                }
                if c.pacing && !self.queue.is_empty() && !self.queue.in_flight() {
                    t = t.min(c.next_flush_at);
                }
                if let Some(at) = self.stale_deadline(c) {
                    t = t.min(at);
                }
                if let Some(at) = c.failback_at {
                    t = t.min(at);
                }
                if let Some(p) = &c.probe {
                    t = t.min(p.deadline);
                }
                Some(t)
            }
        };
        let ttl = (!self.config.order_ttl.is_zero())
            .then(|| self.queue.next_expiry(self.config.order_ttl))
            .flatten();
        [state, self.alert_deadline(), self.acks.next_deadline(), ttl]
            .into_iter()
            .flatten()
            .min()
    }

    /// When the connection turns stale if no data arrives, unless it is already stale
    /// or staleness does not apply (off, or nothing subscribed).
    fn stale_deadline(&self, c: &Connected) -> Option<Instant> {
        let on = !self.config.stale_after.is_zero() && !self.subscriptions.is_empty();
        (on && c.stale_since.is_none()).then(|| c.last_data + self.config.stale_after)
    }

    /// When the outage in progress is alerted, while retrying.
    fn alert_deadline(&self) -> Option<Instant> {
        let o = self.outage?;
        let retrying = matches!(self.state, State::Reconnecting(_));
        (retrying && !o.alerted && !self.config.alert_after.is_zero())
            .then(|| o.since + self.config.alert_after)
    }

    // ------------------------------------------------------------------ commands

    /// Connect, if not already connected or trying to.
    pub fn handle_connect(&mut self, now: Instant) {
        if matches!(self.state, State::Disconnected | State::Error { .. }) {
            self.attempt = 0;
            self.dial_first(now, None);
        }
    }

    /// Disconnect and stay disconnected until told otherwise. The queue is kept.
    pub fn handle_disconnect(&mut self, now: Instant) {
        if matches!(self.state, State::Disconnected) {
            return;
        }
        self.drop_current(now, true, "disconnected by user");
        self.attempt = 0;
        // The user chose this: no outage to alert or recover from.
        self.outage = None;
        self.enter(
            now,
            State::Disconnected,
            Some("disconnected by user".into()),
        );
    }

    /// The Connect/Disconnect control: connects when idle (`disconnected`, `error`),
    /// disconnects otherwise (see [`Toggle::for_state`]).
    pub fn handle_toggle(&mut self, now: Instant) {
        match Toggle::for_state(self.state()) {
            Toggle::Connect => self.handle_connect(now),
            Toggle::Disconnect => self.handle_disconnect(now),
        }
    }

    /// Reconnect now (manual): drop any connection, cancel any backoff, reset the
    /// attempt count and dial at once.
    pub fn handle_reconnect(&mut self, now: Instant) {
        self.drop_current(now, true, "reconnect requested");
        // A person asked: every endpoint gets a fresh chance, from the primary.
        self.endpoints.reset();
        self.attempt = 0;
        self.dial_first(now, Some("reconnect requested".into()));
    }

    /// The network came back or the system resumed from sleep.
    ///
    /// In `error` this re-arms the connection; while waiting to retry it dials at once;
    /// while connected it sends a ping right away, since the link may have died in sleep.
    ///
    /// A rejected credential (`auth`) stays in `error`: a new network does not fix a
    /// wrong token. While connected, the probe ping gets at most [`RESUME_PROBE`] for its
    /// answer, so the state tells the truth within seconds of a resume.
    pub fn handle_network_up(&mut self, now: Instant) {
        match &mut self.state {
            State::Error {
                kind: ErrorKind::Auth,
                ..
            } => return,
            State::Error { .. } => {
                self.attempt = 0;
                self.dial_first(now, Some("network is back".into()));
            }
            State::Reconnecting(Retry::Waiting { at }) => *at = now,
            State::Connected(c) => {
                if c.ping_sent_at.is_none() && self.config.heartbeat != Heartbeat::None {
                    c.next_ping_at = now;
                    self.handle_timeout(now);
                    if let State::Connected(c) = &mut self.state {
                        c.pong_wait = self.config.pong_timeout.min(RESUME_PROBE);
                    }
                    return;
                }
                // No ping to send: the silence watchdog decides, from now.
                if let Some(sent) = c.ping_sent_at {
                    c.pong_wait = c
                        .pong_wait
                        .min(now.saturating_duration_since(sent) + RESUME_PROBE);
                }
            }
            _ => return,
        }
        self.handle_timeout(now);
    }

    /// Queue a message for the feed. It is written as soon as the connection is up and
    /// everything queued before it has been written.
    /// The message was validated when it was built ([`Outbound`]); `id` names it in the
    /// events about it.
    pub fn handle_send(&mut self, now: Instant, id: MessageId, message: Outbound) {
        if let Some(dropped) = self.queue.push(id, message, now) {
            self.events.push_back(Event::QueueDropped {
                id: dropped.id,
                total: self.queue.dropped(),
            });
        }
        self.touch();
        self.pump_queue(now);
    }

    /// Cancels a queued message before it is written (the window's Cancel on a queued
    /// order). Refused once it is being written or gone.
    pub fn handle_cancel(&mut self, now: Instant, id: MessageId) -> Result<(), CommandError> {
        let _ = now;
        self.queue.remove(id).ok_or(CommandError::NotQueued(id.0))?;
        self.events.push_back(Event::Cancelled { id });
        self.touch();
        Ok(())
    }

    /// Re-sends an order held as unconfirmed (`unacked_orders = hold`), with the same
    /// `client_order_id`: now if connected, else right after the next reconnect.
    pub fn handle_resend(&mut self, now: Instant, id: MessageId) -> Result<(), CommandError> {
        let text = self.acks.release(id).ok_or(CommandError::NotHeld(id.0))?;
        if let State::Connected(c) = &self.state {
            let conn = c.conn;
            self.actions.push_back(Action::Transmit {
                conn,
                id: Some(id),
                text,
            });
        }
        let _ = now;
        self.touch();
        Ok(())
    }

    /// Forgets an order held as unconfirmed: it is never re-sent.
    pub fn handle_discard(&mut self, id: MessageId) -> Result<(), CommandError> {
        self.acks.remove(id).ok_or(CommandError::NotHeld(id.0))?;
        self.events.push_back(Event::Discarded { id });
        self.touch();
        Ok(())
    }

    /// The feed URL or token changed: nothing of the old queue goes to the new feed
    /// (every waiting message expires), and orders awaiting acknowledgement from the
    /// old feed are reported unconfirmed, never re-sent to the new one.
    pub fn handle_feed_changed(&mut self, now: Instant) {
        let _ = now;
        for q in self.queue.drain_waiting() {
            self.events.push_back(Event::Expired {
                id: q.id,
                reason: Expiry::FeedChanged,
            });
        }
        for id in self.acks.clear() {
            self.events.push_back(Event::Unconfirmed {
                id,
                reason: Unconfirmed::FeedChanged,
            });
        }
        self.touch();
    }

    /// Add symbols to the subscription set; the new ones are subscribed now if connected,
    /// and all of them after every reconnect.
    pub fn handle_subscribe(
        &mut self,
        now: Instant,
        symbols: &[String],
    ) -> Result<(), CommandError> {
        self.change_subscriptions(now, symbols, true)
    }

    /// Remove symbols from the subscription set.
    pub fn handle_unsubscribe(
        &mut self,
        now: Instant,
        symbols: &[String],
    ) -> Result<(), CommandError> {
        self.change_subscriptions(now, symbols, false)
    }

    /// Replaces the configuration, keeping the queue, the subscriptions and the stats.
    /// A smaller queue drops its oldest messages (reported). Takes effect from the next
    /// deadline; call [`Connection::handle_reconnect`] to apply it to the connection now.
    pub fn handle_config(&mut self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        self.backoff = Backoff {
            base: config.reconnect_base_delay,
            max: config.reconnect_max_delay,
            jitter: config.jitter,
        };
        self.touch();
        for dropped in self.queue.set_capacity(config.queue_size) {
            self.events.push_back(Event::QueueDropped {
                id: dropped.id,
                total: self.queue.dropped(),
            });
        }
        self.latency.set_capacity(config.latency_window);
        if config.endpoints != self.endpoints.len() {
            self.endpoints = Endpoints::new(config.endpoints, breaker_config(&config));
            self.endpoint = 0;
            self.next_endpoint = 0;
        } else {
            self.endpoints.set_config(breaker_config(&config));
        }
        self.attempt = self.attempt.min(config.max_reconnect_attempts);
        self.config = config;
        Ok(())
    }

    fn change_subscriptions(
        &mut self,
        now: Instant,
        symbols: &[String],
        add: bool,
    ) -> Result<(), CommandError> {
        validate_symbols(symbols)?;
        if add && self.subscriptions.is_empty() {
            // Staleness counts only while something is subscribed: its clock starts now.
            if let State::Connected(c) = &mut self.state {
                c.last_data = c.last_data.max(now);
            }
        }
        let mut changed: Vec<String> = Vec::new();
        for s in symbols {
            let did = if add {
                self.subscriptions.insert(s.clone())
            } else {
                self.subscriptions.remove(s)
            };
            if did && !changed.contains(s) {
                changed.push(s.clone());
            }
        }
        if !changed.is_empty() {
            self.touch();
        }
        for s in &changed {
            if add {
                self.symbol_clocks.insert(
                    s.clone(),
                    SymbolClock {
                        since: now,
                        last: None,
                    },
                );
            } else {
                self.symbol_clocks.remove(s);
            }
        }
        if self.subscriptions.is_empty() {
            // Nothing subscribed: no prices to be stale.
            self.end_stale(now);
        }
        if let (State::Connected(c), false) = (&self.state, changed.is_empty()) {
            let env = if add {
                Envelope::subscribe(changed)
            } else {
                Envelope::unsubscribe(changed)
            };
            let conn = c.conn;
            self.transmit_control(conn, env.encode());
        }
        Ok(())
    }

    // ------------------------------------------------------------------ socket events

    /// The dial `conn` completed its handshake.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) {
        if matches!(&self.state, State::Connected(c) if c.probe.is_some_and(|p| p.conn == conn)) {
            // The primary answered the failback probe: switch to it.
            if let State::Connected(c) = &mut self.state {
                c.probe = None;
            }
            self.drop_current(now, true, "failing back to the primary");
            self.endpoint = 0;
            self.up(now, conn);
            return;
        }
        let from_retry = match &self.state {
            State::Connecting(d) if d.conn == conn => false,
            State::Reconnecting(Retry::Dialing(d)) if d.conn == conn => true,
            _ => {
                // A dial we no longer want (e.g. superseded by a manual reconnect).
                self.actions.push_back(Action::Abort { conn });
                return;
            }
        };
        if from_retry || self.was_connected {
            self.stats.reconnections += 1;
        }
        self.up(now, conn);
    }

    /// The connection `conn` to `self.endpoint` is up: enter `connected`, then
    /// subscriptions, a ping, the re-sends and the queue.
    fn up(&mut self, now: Instant, conn: ConnId) {
        self.was_connected = true;
        self.queue.requeue_in_flight();
        let endpoint = self.endpoint;
        self.endpoints.on_success(endpoint);
        let connected = Connected {
            conn,
            since: now,
            stable_at: (self.attempt > 0).then_some(now + self.config.min_uptime),
            next_ping_at: now + self.config.heartbeat_interval,
            ping_sent_at: None,
            last_inbound: now,
            pacing: !self.queue.is_empty(),
            next_flush_at: now,
            last_data: now,
            stale_since: None,
            failback_at: (endpoint != 0 && !self.config.failback_after.is_zero())
                .then(|| now + self.config.failback_after),
            probe: None,
            ping_payload: [0; 8],
            pong_wait: self.config.pong_timeout,
        };
        for clock in self.symbol_clocks.values_mut() {
            clock.since = now;
        }
        // A new connection may be another server, with another clock.
        self.clock.reset();
        self.enter(now, State::Connected(connected), None);
        if let Some(from) = self.connected_endpoint.replace(endpoint) {
            if from != endpoint {
                self.events
                    .push_back(Event::EndpointSwitched { from, to: endpoint });
            }
        }
        if let Some(o) = self.outage.take() {
            self.events.push_back(Event::Recovered {
                down_for: now.saturating_duration_since(o.since),
                alerted: o.alerted,
            });
        }
        if !self.subscriptions.is_empty() {
            let env = Envelope::subscribe(self.subscriptions.iter().cloned());
            self.transmit_control(conn, env.encode());
        }
        // A first ping at once: a latency figure from the first second, and a link that
        // accepted the handshake but died right after is caught within the pong deadline.
        self.send_ping(now);
        if self.config.unacked_orders == UnackedOrders::Resend {
            // Orders written before and never acknowledged go first, oldest first,
            // with the same client_order_id: a deduplicating feed executes them once.
            for (id, text) in self.acks.to_resend() {
                self.actions.push_back(Action::Transmit {
                    conn,
                    id: Some(id),
                    text,
                });
            }
        }
        self.pump_queue(now);
    }

    /// The dial `conn` failed.
    pub fn handle_connect_failed(
        &mut self,
        now: Instant,
        conn: ConnId,
        kind: ErrorKind,
        message: &str,
    ) {
        if let State::Connected(c) = &mut self.state {
            if c.probe.is_some_and(|p| p.conn == conn) {
                // The primary is still down: stay on the backup, probe again later.
                c.probe = None;
                c.failback_at = Some(now + self.config.failback_after);
                self.endpoints.on_failure(0, now);
                self.touch();
                return;
            }
        }
        let dialing = match &self.state {
            State::Connecting(d) | State::Reconnecting(Retry::Dialing(d)) => d.conn == conn,
            _ => false,
        };
        if dialing {
            self.fail(now, kind, message);
        }
    }

    /// The connection `conn` is gone: closed by the server, or a read/write failed.
    pub fn handle_connection_lost(
        &mut self,
        now: Instant,
        conn: ConnId,
        kind: ErrorKind,
        message: &str,
    ) {
        if matches!(&self.state, State::Connected(c) if c.conn == conn) {
            self.fail(now, kind, message);
        }
    }

    /// A text frame arrived on `conn`.
    pub fn handle_text(&mut self, now: Instant, conn: ConnId, text: &str) {
        if self.note_inbound(now, conn, text.len()) {
            self.dispatch(now, Envelope::decode(text));
        }
    }

    /// A binary frame arrived on `conn`; it is decoded as UTF-8 JSON.
    pub fn handle_binary(&mut self, now: Instant, conn: ConnId, bytes: &[u8]) {
        if self.note_inbound(now, conn, bytes.len()) {
            self.dispatch(now, Envelope::decode_slice(bytes));
        }
    }

    /// A protocol-level Ping or Pong frame arrived: proof of life, nothing more.
    /// (The driver's WebSocket library answers Pings itself.)
    pub fn handle_control_frame(&mut self, now: Instant, conn: ConnId, len: usize) {
        self.note_inbound(now, conn, len);
    }

    /// A protocol-level Pong frame arrived: proof of life, and with
    /// `heartbeat = websocket` the round trip of the Ping whose payload it echoes.
    pub fn handle_ws_pong(&mut self, now: Instant, conn: ConnId, payload: &[u8]) {
        if !self.note_inbound(now, conn, payload.len()) {
            return;
        }
        if self.config.heartbeat != Heartbeat::WebSocket {
            return;
        }
        if let State::Connected(c) = &mut self.state {
            if c.ping_payload.as_slice() == payload {
                if let Some(sent) = c.ping_sent_at.take() {
                    self.record_rtt(now, sent, None);
                }
            }
        }
    }

    /// The driver wrote a frame handed out by [`Action::Transmit`].
    pub fn handle_written(
        &mut self,
        now: Instant,
        conn: ConnId,
        id: Option<MessageId>,
        bytes: usize,
    ) {
        if !matches!(&self.state, State::Connected(c) if c.conn == conn) {
            return;
        }
        self.stats.messages_sent += 1;
        self.stats.bytes_sent += bytes as u64;
        if let Some(id) = id {
            if let Some(q) = self.queue.confirm(id) {
                self.events.push_back(Event::Sent { id: q.id });
                // Only an order with a client_order_id can be acknowledged (the engine
                // gives every order one).
                if q.message.client_order_id().is_some() {
                    let evicted = self.acks.written(
                        q.id,
                        q.message,
                        now,
                        self.config.ack_timeout,
                        self.config.queue_size,
                    );
                    if let Some(old) = evicted {
                        self.events.push_back(Event::Unconfirmed {
                            id: old.id,
                            reason: Unconfirmed::Untracked,
                        });
                    }
                }
                self.touch();
            } else if self.acks.contains(id) {
                // A re-send after a reconnect: a fresh deadline, same place in line.
                self.acks.rewritten(id, now, self.config.ack_timeout);
                self.events.push_back(Event::Resent { id });
                self.touch();
            }
            self.pump_queue(now);
        }
    }

    /// Time passed: fire whatever deadline is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for id in self.acks.overdue(now) {
            self.events.push_back(Event::Unconfirmed {
                id,
                reason: Unconfirmed::AckTimeout,
            });
            self.touch();
        }
        if !self.config.order_ttl.is_zero() {
            for q in self.queue.expire(now, self.config.order_ttl) {
                self.events.push_back(Event::Expired {
                    id: q.id,
                    reason: Expiry::Ttl,
                });
                self.touch();
            }
        }
        if self.alert_deadline().is_some_and(|at| now >= at) {
            if let Some(o) = &mut self.outage {
                o.alerted = true;
                let down_for = now.saturating_duration_since(o.since);
                self.events.push_back(Event::OutageAlert { down_for });
                self.touch();
            }
        }
        match &mut self.state {
            State::Disconnected | State::Error { .. } => {}
            State::Connecting(d) | State::Reconnecting(Retry::Dialing(d)) => {
                if now >= d.deadline {
                    let msg = format!(
                        "no connection within {}",
                        fmt_duration(self.config.connect_timeout)
                    );
                    self.fail(now, ErrorKind::ConnectTimeout, &msg);
                }
            }
            State::Reconnecting(Retry::Waiting { at }) => {
                if now >= *at {
                    let conn = self.new_conn();
                    self.stats.reconnect_attempts += 1;
                    self.state = State::Reconnecting(Retry::Dialing(Dialing {
                        conn,
                        deadline: now + self.config.connect_timeout,
                    }));
                    self.endpoint = self.next_endpoint;
                    self.endpoints.dialing(self.endpoint, now);
                    self.actions.push_back(Action::Dial {
                        conn,
                        endpoint: self.endpoint,
                    });
                    // Same state, but the status changed (dialing, no countdown).
                    self.touch();
                }
            }
            State::Connected(c) => {
                if let Some(sent) = c.ping_sent_at {
                    if now >= sent + c.pong_wait {
                        let msg = format!("no pong within {} of a ping", fmt_duration(c.pong_wait));
                        self.fail(now, ErrorKind::HeartbeatTimeout, &msg);
                        return;
                    }
                }
                let idle = if self.config.heartbeat == Heartbeat::None {
                    self.config.heartbeat_interval + self.config.pong_timeout
                } else {
                    self.config.idle_timeout
                };
                if now >= c.last_inbound + idle {
                    let msg = format!("nothing received for {}", fmt_duration(idle));
                    self.fail(now, ErrorKind::IdleTimeout, &msg);
                    return;
                }
                if c.stable_at.is_some_and(|s| now >= s) {
                    c.stable_at = None;
                    self.attempt = 0;
                }
                if c.probe.is_some_and(|p| now >= p.deadline) {
                    let p = c.probe.take().expect("checked");
                    c.failback_at = Some(now + self.config.failback_after);
                    self.actions.push_back(Action::Abort { conn: p.conn });
                    self.endpoints.on_failure(0, now);
                    self.revision = self.revision.wrapping_add(1);
                }
                if c.failback_at.is_some_and(|t| now >= t) && c.probe.is_none() {
                    c.failback_at = None;
                    self.next_conn += 1;
                    let conn = ConnId(self.next_conn);
                    c.probe = Some(Dialing {
                        conn,
                        deadline: now + self.config.connect_timeout,
                    });
                    self.endpoints.dialing(0, now);
                    self.actions.push_back(Action::Probe { conn, endpoint: 0 });
                }
                let stale_at = (!self.config.stale_after.is_zero()
                    && !self.subscriptions.is_empty()
                    && c.stale_since.is_none())
                .then(|| c.last_data + self.config.stale_after);
                if stale_at.is_some_and(|at| now >= at) {
                    c.stale_since = Some(now);
                    let age = now.saturating_duration_since(c.last_data);
                    self.events.push_back(Event::Stale {
                        age,
                        symbols: self.subscriptions.iter().cloned().collect(),
                    });
                    self.revision = self.revision.wrapping_add(1);
                }
                if c.ping_sent_at.is_none()
                    && now >= c.next_ping_at
                    && self.config.heartbeat != Heartbeat::None
                {
                    self.send_ping(now);
                }
                self.pump_queue(now);
            }
        }
    }

    // ------------------------------------------------------------------ status

    /// The full picture, with instants turned into wall-clock time through one
    /// known pair (`now`, `wall_now`).
    pub fn status(&self, now: Instant, wall_now: SystemTime) -> Status {
        let (error_kind, gave_up) = match (&self.state, &self.stats.last_error) {
            (State::Error { kind, gave_up }, _) => (Some(*kind), *gave_up),
            (State::Reconnecting(_), Some((kind, _, _))) => (Some(*kind), false),
            _ => (None, false),
        };
        let next_retry = self.next_retry_at();
        let uptime = match &self.state {
            State::Connected(c) => now.saturating_duration_since(c.since),
            _ => Duration::ZERO,
        };
        let s = &self.stats;
        let state = self.state();
        let mut status = Status {
            state,
            label: String::new(),
            toggle: Toggle::for_state(state),
            reason: self.reason.clone(),
            error_kind,
            gave_up,
            since_unix_ms: unix_ms(self.since, now, wall_now),
            attempt: match self.state {
                State::Reconnecting(_) => self.attempt,
                _ => 0,
            },
            max_attempts: self.max_attempts(),
            next_retry_unix_ms: next_retry.map(|at| unix_ms(at, now, wall_now)),
            latency: self.latency.summary(),
            stats: StatsSnapshot {
                messages_received: s.messages_received,
                bytes_received: s.bytes_received,
                messages_sent: s.messages_sent,
                bytes_sent: s.bytes_sent,
                reconnections: s.reconnections,
                reconnect_attempts: s.reconnect_attempts,
                errors: s.errors.values().sum(),
                errors_by_kind: s.errors.clone(),
                malformed_messages: s
                    .errors
                    .get(&ErrorKind::MalformedMessage)
                    .copied()
                    .unwrap_or(0),
                uptime_secs: uptime.as_secs_f64(),
                total_uptime_secs: (s.closed_uptime + uptime).as_secs_f64(),
                last_error: s.last_error.as_ref().map(|(kind, message, at)| LastError {
                    kind: *kind,
                    message: message.clone(),
                    at_unix_ms: unix_ms(*at, now, wall_now),
                }),
                queue_depth: self.queue.len(),
                queue_dropped: self.queue.dropped(),
                unexpected_messages: s.unexpected_messages,
                events_dropped: s.events_dropped,
                unreadable_timestamps: s.unreadable_timestamps,
                awaiting_ack: self.acks.len(),
                unknown_acks: self.acks.unknown_acks(),
            },
            queue_capacity: self.queue.capacity(),
            subscriptions: self.subscriptions.iter().cloned().collect(),
            url: self.url.clone(),
            stale: matches!(&self.state, State::Connected(c) if c.stale_since.is_some()),
            data_age_secs: self
                .last_data
                .map(|t| now.saturating_duration_since(t).as_secs_f64()),
            symbols: self.symbol_health(now, wall_now),
            down_since_unix_ms: self.outage.map(|o| unix_ms(o.since, now, wall_now)),
            feed_delay: self.delay.summary(),
            clock_offset_ms: self.clock.offset_ms(),
            clock_skewed: self.skewed,
            endpoint: self.endpoint,
            endpoints: self.endpoints.status(now),
        };
        status.relabel(unix_ms(now, now, wall_now));
        status
    }

    /// Each subscribed symbol's freshness, by symbol.
    fn symbol_health(&self, now: Instant, wall_now: SystemTime) -> Vec<SymbolHealth> {
        let connected = matches!(self.state, State::Connected(_));
        let stale_after = self.config.stale_after;
        self.subscriptions
            .iter()
            .map(|sym| {
                let clock = self.symbol_clocks.get(sym);
                let last = clock.and_then(|c| c.last);
                let since = clock.map(|c| c.since);
                let start = match (last, since) {
                    (Some(l), Some(s)) => Some(l.max(s)),
                    (l, s) => l.or(s),
                };
                SymbolHealth {
                    symbol: sym.clone(),
                    last_update_unix_ms: last.map(|t| unix_ms(t, now, wall_now)),
                    age_secs: last.map(|t| now.saturating_duration_since(t).as_secs_f64()),
                    stale: connected
                        && !stale_after.is_zero()
                        && start.is_some_and(|t| now.saturating_duration_since(t) >= stale_after),
                }
            })
            .collect()
    }

    /// Latency figures alone (cheaper than a full status).
    pub fn latency(&self) -> LatencySummary {
        self.latency.summary()
    }

    // ------------------------------------------------------------------ internals

    fn new_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    fn enter(&mut self, now: Instant, state: State, reason: Option<String>) {
        let kind_before = self.state();
        self.state = state;
        self.since = now;
        self.reason = reason.map(|r| self.redactor.clean(&r));
        let kind = self.state();
        self.touch();
        if kind != kind_before {
            self.events.push_back(Event::StateChanged(kind));
        }
    }

    /// Attempts before giving up: every endpoint gets `max_reconnect_attempts`.
    fn max_attempts(&self) -> u32 {
        self.config
            .max_reconnect_attempts
            .saturating_mul(self.endpoints.len() as u32)
    }

    /// Something the status shows changed.
    fn touch(&mut self) {
        self.revision = self.revision.wrapping_add(1);
    }

    /// Dials at once in `connecting` (first attempt, not counted as a retry).
    fn dial_first(&mut self, now: Instant, reason: Option<String>) {
        let conn = self.new_conn();
        self.endpoint = 0;
        self.endpoints.dialing(0, now);
        self.actions.push_back(Action::Dial { conn, endpoint: 0 });
        self.enter(
            now,
            State::Connecting(Dialing {
                conn,
                deadline: now + self.config.connect_timeout,
            }),
            reason,
        );
    }

    /// Tears down whatever connection or dial exists, accounting its uptime.
    fn drop_current(&mut self, now: Instant, graceful: bool, reason: &'static str) {
        let Some(conn) = self.current_conn() else {
            return;
        };
        if let State::Connected(c) = &mut self.state {
            if let Some(p) = c.probe.take() {
                self.actions.push_back(Action::Abort { conn: p.conn });
            }
        }
        if matches!(self.state, State::Connected(_))
            && self.config.unacked_orders == UnackedOrders::Hold
        {
            for id in self.acks.hold_all() {
                self.events.push_back(Event::Unconfirmed {
                    id,
                    reason: Unconfirmed::ConnectionLost,
                });
            }
        }
        if let State::Connected(c) = &self.state {
            self.stats.closed_uptime += now.saturating_duration_since(c.since);
            if graceful {
                self.actions.push_back(Action::Close {
                    conn,
                    code: 1000,
                    reason,
                });
            } else {
                self.actions.push_back(Action::Abort { conn });
            }
        } else {
            self.actions.push_back(Action::Abort { conn });
        }
        self.queue.requeue_in_flight();
    }

    /// A dial failed or the live connection was lost: record it and decide what next.
    fn fail(&mut self, now: Instant, kind: ErrorKind, message: &str) {
        self.report_error(now, kind, message);
        self.endpoints.on_failure(self.endpoint, now);
        self.outage.get_or_insert(Outage {
            since: now,
            alerted: false,
        });
        self.drop_current(now, false, "");
        if kind.is_fatal() {
            self.enter(
                now,
                State::Error {
                    kind,
                    gave_up: false,
                },
                Some(message.to_owned()),
            );
            return;
        }
        self.attempt += 1;
        let max = self.max_attempts();
        if self.attempt > max {
            let reason = if self.endpoints.len() > 1 {
                format!(
                    "gave up after {max} attempts on {} endpoints: {message}",
                    self.endpoints.len()
                )
            } else {
                format!("gave up after {max} attempts: {message}")
            };
            self.attempt = max;
            self.enter(
                now,
                State::Error {
                    kind,
                    gave_up: true,
                },
                Some(reason),
            );
            return;
        }
        // With several endpoints, one backoff step per round over all of them: the
        // next endpoint is tried after the same delay as this one was.
        let round = (self.attempt - 1) / self.endpoints.len() as u32 + 1;
        let backoff = self.backoff.delay(round, self.rng.next_unit());
        let (next, at) = self.endpoints.next_after(self.endpoint, now + backoff);
        self.next_endpoint = next;
        let delay = at.saturating_duration_since(now);
        self.enter(
            now,
            State::Reconnecting(Retry::Waiting { at }),
            Some(message.to_owned()),
        );
        self.events.push_back(Event::RetryScheduled {
            attempt: self.attempt,
            max_attempts: max,
            delay,
        });
    }

    fn report_error(&mut self, now: Instant, kind: ErrorKind, message: &str) {
        let message = &self.redactor.clean(message);
        self.stats.record_error(now, kind, message);
        self.touch();
        self.events.push_back(Event::Error {
            kind,
            message: message.to_owned(),
        });
    }

    /// Counts an inbound frame; false if it belongs to a connection we no longer have.
    fn note_inbound(&mut self, now: Instant, conn: ConnId, len: usize) -> bool {
        match &mut self.state {
            State::Connected(c) if c.conn == conn => {
                c.last_inbound = now;
                self.stats.messages_received += 1;
                self.stats.bytes_received += len as u64;
                true
            }
            _ => false,
        }
    }

    fn dispatch(&mut self, now: Instant, decoded: Result<Envelope, uplink_proto::DecodeError>) {
        let env = match decoded {
            Ok(env) => env,
            Err(e) => {
                self.report_error(now, ErrorKind::MalformedMessage, &e.to_string());
                return;
            }
        };
        if env.is_unexpected() {
            self.stats.unexpected_messages += 1;
        }
        if matches!(env.timestamp, Some(Timestamp::Unreadable)) {
            self.stats.unreadable_timestamps += 1;
        }
        if self.is_custom_pong(&env) {
            if let State::Connected(c) = &mut self.state {
                if let Some(sent) = c.ping_sent_at.take() {
                    self.record_rtt(now, sent, env.timestamp.as_ref());
                }
            }
            return;
        }
        if is_data(&env.payload) {
            self.note_data(now, &env);
        }
        // Any `order` message that echoes a client_order_id acknowledges that order,
        // whether or not its body fits the protocol's order type.
        if let Some(echo) = env.order_echo() {
            if let Some(a) = self.acks.ack(echo.client_order_id) {
                self.events.push_back(Event::Acked {
                    id: a.id,
                    order_id: echo.order_id,
                    status: echo.status,
                });
                self.touch();
            }
        }
        match &env.payload {
            Payload::Pong => {
                let json = self.config.heartbeat == Heartbeat::Json;
                if let State::Connected(c) = &mut self.state {
                    if let Some(sent) = c.ping_sent_at.take_if(|_| json) {
                        self.record_rtt(now, sent, env.timestamp.as_ref());
                    }
                }
            }
            Payload::Ping => {
                // The feed checks on us: answer as it would answer us.
                if let Some(conn) = self.current_conn() {
                    self.transmit_control(conn, Envelope::new(Payload::Pong).encode());
                }
            }
            Payload::Error(e) => {
                let msg = format!("feed error {}: {}", e.code, e.message);
                self.report_error(now, ErrorKind::ServerError, &msg);
                self.events.push_back(Event::Message(env));
            }
            _ => self.events.push_back(Event::Message(env)),
        }
    }

    /// A data message arrived: the stale clocks restart, and its timestamp (if any)
    /// gives a feed-delay sample.
    fn note_data(&mut self, now: Instant, env: &Envelope) {
        self.last_data = Some(now);
        if let Payload::Update(u) = &env.payload {
            if let Some(clock) = self.symbol_clocks.get_mut(u.symbol.as_str()) {
                clock.last = Some(now);
            }
        }
        if let State::Connected(c) = &mut self.state {
            c.last_data = now;
        }
        self.end_stale(now);
        if self.next_delay_sample.is_some_and(|t| now < t) {
            return;
        }
        let stamp = env.timestamp.as_ref().and_then(Timestamp::unix_ms);
        if let (Some(peer), Some(recv)) = (stamp, self.wall_ms(now)) {
            self.next_delay_sample = Some(now + DELAY_SAMPLE_EVERY);
            let offset = self.clock.offset_ms().unwrap_or(0.0);
            let ms = feed_delay_ms(recv, peer, offset).max(0.0);
            // Readable times end in the year 9999, so this fits; a feed's numbers
            // never get to panic the engine all the same.
            if let Ok(delay) = Duration::try_from_secs_f64(ms / 1000.0) {
                self.delay.record(delay);
            }
        }
    }

    /// Ends a stale episode, if one is running.
    fn end_stale(&mut self, now: Instant) {
        if let State::Connected(c) = &mut self.state {
            if let Some(since) = c.stale_since.take() {
                self.events.push_back(Event::Fresh {
                    stale_for: now.saturating_duration_since(since),
                });
                self.revision = self.revision.wrapping_add(1);
            }
        }
    }

    /// A pong answered the ping sent at `sent`: with the peer's timestamp, one more
    /// clock-offset sample; announces crossing the skew threshold.
    fn note_pong_clock(&mut self, sent: Instant, now: Instant, stamp: Option<&Timestamp>) {
        let (Some(peer), Some(t0), Some(t1)) = (
            stamp.and_then(Timestamp::unix_ms),
            self.wall_ms(sent),
            self.wall_ms(now),
        ) else {
            return;
        };
        self.clock.record(t0, t1, peer);
        if let Some(offset_ms) = self.clock.offset_ms() {
            let skewed = offset_ms.abs() > SKEW_WARN_MS;
            if skewed != self.skewed {
                self.skewed = skewed;
                self.events
                    .push_back(Event::ClockSkew { offset_ms, skewed });
            }
        }
    }

    /// Sends a heartbeat ping and arms its pong deadline.
    fn send_ping(&mut self, now: Instant) {
        let State::Connected(c) = &mut self.state else {
            return;
        };
        if self.config.heartbeat == Heartbeat::None {
            // Liveness from inbound data alone.
            return;
        }
        c.ping_sent_at = Some(now);
        c.next_ping_at = now + self.config.heartbeat_interval;
        c.pong_wait = self.config.pong_timeout;
        let conn = c.conn;
        match &self.config.heartbeat {
            Heartbeat::Json => self.transmit_control(conn, Envelope::ping().encode()),
            Heartbeat::Custom { ping, .. } => {
                let text = ping.clone();
                self.transmit_control(conn, text);
            }
            Heartbeat::WebSocket => {
                self.next_conn_ping += 1;
                let payload = self.next_conn_ping.to_be_bytes();
                if let State::Connected(c) = &mut self.state {
                    c.ping_payload = payload;
                }
                self.actions.push_back(Action::Ping { conn, payload });
            }
            Heartbeat::None => {}
        }
    }

    /// A ping sent at `sent` was answered at `now`: a latency sample, and with the
    /// answer's timestamp a clock-offset sample.
    fn record_rtt(&mut self, now: Instant, sent: Instant, stamp: Option<&Timestamp>) {
        let rtt = now.saturating_duration_since(sent);
        self.latency.record(rtt);
        self.revision = self.revision.wrapping_add(1);
        self.events.push_back(Event::Latency(rtt));
        self.note_pong_clock(sent, now, stamp);
    }

    /// The inbound silence after which the link is dead.
    fn idle_limit(&self) -> Duration {
        if self.config.heartbeat == Heartbeat::None {
            self.config.heartbeat_interval + self.config.pong_timeout
        } else {
            self.config.idle_timeout
        }
    }

    /// Whether `env` answers a custom ping.
    fn is_custom_pong(&self, env: &Envelope) -> bool {
        let Heartbeat::Custom { pong, .. } = &self.config.heartbeat else {
            return false;
        };
        match (pong, &env.payload) {
            (PongMatch::Type(t), p) => p.kind() == t,
            (PongMatch::Field { name, value }, Payload::Other(m)) => m.get(name) == Some(value),
            _ => false,
        }
    }

    fn transmit_control(&mut self, conn: ConnId, text: String) {
        self.actions.push_back(Action::Transmit {
            conn,
            id: None,
            text,
        });
    }

    /// Hands the next queued message to the driver if the connection can take it now.
    fn pump_queue(&mut self, now: Instant) {
        let State::Connected(c) = &mut self.state else {
            return;
        };
        if self.queue.is_empty() {
            c.pacing = false;
            return;
        }
        if c.pacing && now < c.next_flush_at {
            return;
        }
        let conn = c.conn;
        let pacing = c.pacing;
        if let Some(head) = self.queue.take_head() {
            let (id, text) = (head.id, head.message.text().to_owned());
            if pacing {
                c.next_flush_at = now + self.config.flush_interval;
            }
            self.actions.push_back(Action::Transmit {
                conn,
                id: Some(id),
                text,
            });
        }
    }
}

fn breaker_config(c: &Config) -> BreakerConfig {
    BreakerConfig {
        threshold: c.breaker_threshold,
        cooldown: c.breaker_cooldown,
        max_cooldown: c.breaker_max_cooldown.max(c.breaker_cooldown),
    }
}

/// After a resume or a network change, the probe ping's answer must come this soon.
pub const RESUME_PROBE: Duration = Duration::from_secs(2);

/// Feed-delay samples are taken at most this often.
pub const DELAY_SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// FNV-1a: a hash for short keys (symbols) on the per-message path, where SipHash's
/// DoS resistance buys nothing (only subscribed symbols are ever keys).
#[derive(Debug, Default, Clone, Copy)]
struct Fnv1a(u64);

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Message types that keep a link alive or acknowledge a request: they prove the
/// link works, not that prices flow.
const NOT_DATA: &[&str] = &["heartbeat", "ack", "subscribed", "unsubscribed", "status"];

/// Whether a message is data (prices, orders, anything a feed publishes) rather than
/// a pong, a heartbeat, an acknowledgement or an error.
fn is_data(p: &Payload) -> bool {
    match p {
        Payload::Update(_) | Payload::Order(_) => true,
        Payload::Other(m) => !m
            .get("type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| NOT_DATA.contains(&t)),
        _ => false,
    }
}

/// "1.5 s", "200 ms".
fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}
