//! The core's vocabulary towards the outside: its [`StateKind`], what the driver must
//! do ([`Action`]), what subscribers hear ([`Event`]) and the commands it refuses
//! ([`CommandError`]).

use std::time::Duration;

use serde::Serialize;
use thiserror::Error;
use uplink_proto::{Envelope, OrderStatus};

use crate::ids::{ConnId, MessageId};
use crate::stats::ErrorKind;

/// The five states of the original specification's state machine.
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
    /// report its Pong with [`Connection::handle_ws_pong`](crate::Connection::handle_ws_pong).
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
    /// The state changed (only ever to a different state); [`Connection::status`](crate::Connection::status) has
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
    /// [`SKEW_WARN_MS`](crate::SKEW_WARN_MS) either way (or came back within it).
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
