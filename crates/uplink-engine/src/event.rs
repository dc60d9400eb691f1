//! The events subscribers receive, serializable as the CLI's JSON lines.

use serde::Serialize;
use uplink_core::{ErrorKind, LatencySummary, StateKind, StatsSnapshot, Status};
use uplink_proto::Envelope;

/// One thing that happened, tagged by `"event"` when serialized.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EngineEvent {
    /// The state changed; the full status.
    State(Box<Status>),
    /// A heartbeat round trip completed (boxed: rare, and it would double the size of
    /// every message event).
    Latency(Box<LatencyEvent>),
    /// Periodic counters.
    Stats(Box<StatsEvent>),
    /// A message from the feed.
    Message {
        /// The decoded envelope.
        message: Envelope,
    },
    /// A queued message was written to the feed.
    Sent {
        /// The message (JSON text).
        message: String,
    },
    /// The outbound queue overflowed; this message was dropped.
    QueueDropped {
        /// The dropped message (JSON text).
        message: String,
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

/// The periodic counters event.
#[derive(Debug, Clone, Serialize)]
pub struct StatsEvent {
    /// Current state.
    pub state: StateKind,
    /// Counters.
    pub stats: StatsSnapshot,
    /// Latency figures.
    pub latency: LatencySummary,
}
