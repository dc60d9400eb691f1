//! Counters the UI and the CLI show: traffic, reconnections, errors by kind, uptime.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::clock::unix_ms;

/// Why a connection failed or was dropped. Also the key of the per-kind error counters.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// TCP connect or DNS failed (refused, unreachable, …).
    ConnectFailed,
    /// The dial (TCP + TLS + handshake) took longer than `connect_timeout`.
    ConnectTimeout,
    /// The server answered the upgrade with an HTTP error other than 401/403.
    Handshake,
    /// The server refused our credentials (HTTP 401/403). Retrying cannot help.
    Auth,
    /// TLS failed: bad certificate, unknown CA, wrong name. Retrying cannot help.
    Tls,
    /// The server closed the connection (close frame or end of stream).
    ServerClosed,
    /// Reading or writing the socket failed (reset, broken pipe, …).
    Io,
    /// The peer broke the WebSocket protocol.
    Protocol,
    /// An inbound message exceeded the configured size limit.
    MessageTooLarge,
    /// No pong arrived within `pong_timeout` of a ping.
    HeartbeatTimeout,
    /// Nothing at all arrived for `idle_timeout`.
    IdleTimeout,
    /// An inbound message was not valid JSON of the protocol. The connection is kept.
    MalformedMessage,
    /// The feed sent an `error` message. The connection is kept.
    ServerError,
}

impl ErrorKind {
    /// Failures that retrying cannot fix: the core goes straight to `error`
    /// instead of hammering the server, and waits for a person or a new setting.
    pub fn is_fatal(self) -> bool {
        matches!(self, ErrorKind::Auth | ErrorKind::Tls)
    }

    /// Failures reported while the connection stays up.
    pub fn keeps_connection(self) -> bool {
        matches!(self, ErrorKind::MalformedMessage | ErrorKind::ServerError)
    }
}

/// The last error, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LastError {
    /// What went wrong.
    pub kind: ErrorKind,
    /// Human-readable explanation.
    pub message: String,
    /// Wall-clock time, Unix milliseconds.
    pub at_unix_ms: u64,
}

/// Running counters, owned by the core.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    pub messages_received: u64,
    pub bytes_received: u64,
    pub messages_sent: u64,
    pub bytes_sent: u64,
    /// Connections re-established after a loss.
    pub reconnections: u64,
    /// Dials made by the reconnect loop, successful or not.
    pub reconnect_attempts: u64,
    pub errors: BTreeMap<ErrorKind, u64>,
    pub last_error: Option<(ErrorKind, String, Instant)>,
    /// Uptime of connections that have ended.
    pub closed_uptime: Duration,
    /// JSON that did not fit the protocol, passed on raw.
    pub unexpected_messages: u64,
    /// Events a slow subscriber lost: market data, and beyond its backlog's bounds the
    /// oldest of the rest.
    pub events_dropped: u64,
    /// Timestamps that could not be read, dropped.
    pub unreadable_timestamps: u64,
}

/// The outbound side's counters, which the snapshot shows beside these.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutboxCounts {
    /// Messages waiting in the queue.
    pub queue_depth: usize,
    /// Messages the queue dropped when full.
    pub queue_dropped: u64,
    /// Orders written and not yet acknowledged.
    pub awaiting_ack: usize,
    /// Order messages naming no order sent from here.
    pub unknown_acks: u64,
}

impl Stats {
    pub fn record_error(&mut self, now: Instant, kind: ErrorKind, message: &str) {
        *self.errors.entry(kind).or_default() += 1;
        self.last_error = Some((kind, message.to_owned(), now));
    }

    /// Every counter as the UI shows it, with instants turned into wall-clock time
    /// through one known pair (`now`, `wall_now`). `uptime` is the current
    /// connection's.
    pub fn snapshot(
        &self,
        uptime: Duration,
        now: Instant,
        wall_now: SystemTime,
        outbox: OutboxCounts,
    ) -> StatsSnapshot {
        StatsSnapshot {
            messages_received: self.messages_received,
            bytes_received: self.bytes_received,
            messages_sent: self.messages_sent,
            bytes_sent: self.bytes_sent,
            reconnections: self.reconnections,
            reconnect_attempts: self.reconnect_attempts,
            errors: self.errors.values().sum(),
            errors_by_kind: self.errors.clone(),
            malformed_messages: self
                .errors
                .get(&ErrorKind::MalformedMessage)
                .copied()
                .unwrap_or(0),
            uptime_secs: uptime.as_secs_f64(),
            total_uptime_secs: (self.closed_uptime + uptime).as_secs_f64(),
            last_error: self
                .last_error
                .as_ref()
                .map(|(kind, message, at)| LastError {
                    kind: *kind,
                    message: message.clone(),
                    at_unix_ms: unix_ms(*at, now, wall_now),
                }),
            queue_depth: outbox.queue_depth,
            queue_dropped: outbox.queue_dropped,
            unexpected_messages: self.unexpected_messages,
            events_dropped: self.events_dropped,
            unreadable_timestamps: self.unreadable_timestamps,
            awaiting_ack: outbox.awaiting_ack,
            unknown_acks: outbox.unknown_acks,
        }
    }
}

/// Every counter, as the UI and the CLI show them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct StatsSnapshot {
    /// Frames received (text, binary; pongs included).
    pub messages_received: u64,
    /// Payload bytes received.
    pub bytes_received: u64,
    /// Frames written (pings, subscriptions and queued messages).
    pub messages_sent: u64,
    /// Payload bytes written.
    pub bytes_sent: u64,
    /// Connections re-established after a loss.
    pub reconnections: u64,
    /// Dials made by the reconnect loop.
    pub reconnect_attempts: u64,
    /// Errors of every kind.
    pub errors: u64,
    /// Errors by kind.
    pub errors_by_kind: BTreeMap<ErrorKind, u64>,
    /// Inbound messages that could not be decoded.
    pub malformed_messages: u64,
    /// How long the current connection has been up, in seconds.
    pub uptime_secs: f64,
    /// Time connected since start, all connections together, in seconds.
    pub total_uptime_secs: f64,
    /// The most recent error.
    pub last_error: Option<LastError>,
    /// Messages waiting in the outbound queue.
    pub queue_depth: usize,
    /// Messages dropped from the queue because it overflowed.
    pub queue_dropped: u64,
    /// Messages that were JSON but did not fit the protocol (a known type with an
    /// unexpected body, or no string `type`): passed on as raw JSON.
    pub unexpected_messages: u64,
    /// Timestamps that were neither a string nor a number: dropped.
    pub unreadable_timestamps: u64,
    /// Events lost by a subscriber that fell behind (the engine never waits for
    /// one): market data, for which it sees the next message instead, and beyond its
    /// backlog's bounds the oldest of the rest.
    pub events_dropped: u64,
    /// Orders written and not yet acknowledged by the feed.
    pub awaiting_ack: usize,
    /// Inbound order messages whose `client_order_id` was never sent from here
    /// (ignored).
    pub unknown_acks: u64,
}
