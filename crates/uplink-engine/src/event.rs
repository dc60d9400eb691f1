//! The events subscribers receive, serializable as the CLI's JSON lines.

use serde::Serialize;
use uplink_core::{ErrorKind, Expiry, LatencySummary, MessageId, Status, Unconfirmed};
use uplink_proto::Envelope;
use uplink_proto::OrderStatus;

/// One thing that happened, tagged by `"event"` when serialized.
///
/// Events say what happened; the current picture of the connection is the published
/// [`Status`] (`Handle::status`), which is never rebuilt from events.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    /// The state changed (always to a different state); the full status at that moment.
    State(Box<Status>),
    /// The connection is up on another endpoint than the last one: failover to a
    /// backup, or failback to the primary. Once per switch.
    EndpointSwitched {
        /// The endpoint before (0 = the primary).
        from: usize,
        /// The endpoint now.
        to: usize,
        /// Its URL, credentials masked.
        url: String,
    },
    /// A reconnect attempt was scheduled after a failure.
    Retrying {
        /// The attempt that will dial (1-based).
        attempt: u32,
        /// Attempts before giving up.
        max_attempts: u32,
        /// Seconds until it dials.
        in_secs: f64,
        /// The failure that made it necessary.
        reason: Option<String>,
    },
    /// Connected with symbols subscribed, but no data for `stale_after`: the prices
    /// shown are old. Once per stale episode.
    Stale {
        /// Seconds since the last data message (or since the connection opened).
        age_secs: f64,
        /// The subscribed symbols.
        symbols: Vec<String>,
    },
    /// Data flows again (or nothing is subscribed any more): the stale episode ended.
    Fresh {
        /// How long it was stale, seconds.
        stale_for_secs: f64,
    },
    /// The feed has been down (reconnecting) for `alert_after`. Once per outage.
    OutageAlert {
        /// Seconds down so far.
        down_secs: f64,
    },
    /// Connected again after an outage.
    Recovered {
        /// Seconds it was down.
        down_secs: f64,
        /// Whether the outage was alerted.
        alerted: bool,
    },
    /// The feed's clock crossed 2 s from ours, either way (or came back within it).
    ClockSkew {
        /// Estimated offset, the feed's clock minus ours, ms.
        offset_ms: f64,
        /// Whether it is beyond 2 s now.
        skewed: bool,
    },
    /// The feed acknowledged an order (an inbound `order` echoed its
    /// `client_order_id`).
    Acked {
        /// The id `Handle::send` returned for it.
        id: MessageId,
        /// The feed's order id.
        order_id: Option<String>,
        /// The status the feed reported.
        status: Option<OrderStatus>,
    },
    /// An order awaiting acknowledgement was written again after a reconnect, with the
    /// same `client_order_id`.
    Resent {
        /// Its id.
        id: MessageId,
    },
    /// An order may or may not have reached the feed: check with the broker.
    Unconfirmed {
        /// Its id.
        id: MessageId,
        /// Why.
        reason: Unconfirmed,
    },
    /// A queued message will never be sent.
    Expired {
        /// Its id.
        id: MessageId,
        /// Why.
        reason: Expiry,
    },
    /// A queued order was cancelled before it was written.
    Cancelled {
        /// Its id.
        id: MessageId,
    },
    /// An unconfirmed order was discarded (never re-sent).
    Discarded {
        /// Its id.
        id: MessageId,
    },
    /// A heartbeat round trip completed (boxed: rare, and it would double the size of
    /// every message event).
    Latency(Box<LatencyEvent>),
    /// A message from the feed.
    Message {
        /// The decoded envelope.
        message: Envelope,
    },
    /// A queued message was written to the feed.
    Sent {
        /// The id `Handle::send` returned for it.
        id: MessageId,
    },
    /// The outbound queue overflowed; this message was dropped.
    QueueDropped {
        /// The id `Handle::send` returned for it.
        id: MessageId,
        /// Messages dropped since start.
        total: u64,
    },
    /// Something failed (also counted in the stats).
    Error {
        /// What failed.
        kind: ErrorKind,
        /// Explanation.
        message: String,
    },
}

/// A latency sample and the figures over the window.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyEvent {
    /// This round trip, in milliseconds.
    pub ms: f64,
    /// Figures over the window.
    #[serde(flatten)]
    pub summary: LatencySummary,
}
