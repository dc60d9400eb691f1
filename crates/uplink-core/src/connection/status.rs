//! The status builder: the whole picture of the connection, from each part's own
//! figures, for the driver to publish.

use std::time::{Duration, Instant, SystemTime};

use crate::clock::unix_ms;
use crate::connection::state::State;
use crate::connection::Connection;
use crate::stats::OutboxCounts;
use crate::status::{Status, Toggle};

impl Connection {
    /// The full picture, with instants turned into wall-clock time through one
    /// known pair (`now`, `wall_now`).
    pub fn status(&self, now: Instant, wall_now: SystemTime) -> Status {
        let (error_kind, gave_up) = match (&self.state, &self.stats.last_error) {
            (State::Error { kind, gave_up }, _) => (Some(*kind), *gave_up),
            (State::Reconnecting(_), Some((kind, _, _))) => (Some(*kind), false),
            _ => (None, false),
        };
        let connected = self.state.connected();
        let uptime = connected.map_or(Duration::ZERO, |c| now.saturating_duration_since(c.since));
        let outbox = OutboxCounts {
            queue_depth: self.outbox.queue.len(),
            queue_dropped: self.outbox.queue.dropped(),
            awaiting_ack: self.outbox.acks.len(),
            unknown_acks: self.outbox.acks.unknown_acks(),
        };
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
            next_retry_unix_ms: self.next_retry_at().map(|at| unix_ms(at, now, wall_now)),
            latency: self.heartbeats.latency.summary(),
            stats: self.stats.snapshot(uptime, now, wall_now, outbox),
            queue_capacity: self.outbox.queue.capacity(),
            subscriptions: self.outbox.subscriptions.iter().cloned().collect(),
            url: self.url.clone(),
            stale: connected.is_some_and(|c| c.fresh.since.is_some()),
            data_age_secs: self
                .freshness
                .last_data
                .map(|t| now.saturating_duration_since(t).as_secs_f64()),
            symbols: self.freshness.symbol_health(
                &self.outbox.subscriptions,
                connected.is_some(),
                self.config.stale_after,
                now,
                wall_now,
            ),
            down_since_unix_ms: self.outage.map(|o| unix_ms(o.since, now, wall_now)),
            feed_delay: self.freshness.delay.summary(),
            clock_offset_ms: self.heartbeats.clock.offset_ms(),
            clock_skewed: self.heartbeats.skewed,
            endpoint: self.failover.current,
            endpoints: self.failover.endpoints.status(now),
        };
        status.relabel(unix_ms(now, now, wall_now));
        status
    }
}
