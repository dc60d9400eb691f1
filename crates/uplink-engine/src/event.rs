//! The events subscribers receive, serializable as the CLI's JSON lines.

use serde::Serialize;
use uplink_core::{ErrorKind, LatencySummary, MessageId, Status};
use uplink_proto::Envelope;

/// One thing that happened, tagged by `"event"` when serialized.
///
/// Events say what happened; the current picture of the connection is the published
/// [`Status`] (`Handle::status`), which is never rebuilt from events.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    /// The state changed (always to a different state); the full status at that moment.
    State(Box<Status>),
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
