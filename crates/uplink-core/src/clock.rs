//! The peer's clock: timestamps read off the feed, its offset from ours estimated from
//! ping/pong round trips, and the feed's delay corrected by it. The arithmetic, tested
//! on its own; the connection's heartbeat feeds it (`connection/heartbeat.rs`) and
//! its freshness reads it (`connection/freshness.rs`).

use std::collections::VecDeque;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub use uplink_proto::parse_rfc3339_ms;

/// Clock offsets beyond this (either way) are worth a warning: delays and ages
/// computed against such a clock cannot be trusted.
pub const SKEW_WARN_MS: f64 = 2000.0;

/// Round trips kept for the offset estimate; the one with the shortest round trip wins.
const CLOCK_SAMPLES: usize = 8;

/// The peer's clock against ours, NTP-style: for a ping sent at local `t0` and
/// answered at local `t1` with the peer's timestamp `ts`, the peer's clock read `ts`
/// at about the midpoint `(t0 + t1) / 2`, so `offset = ts − (t0 + t1) / 2` (peer minus
/// local), with an error of at most half the round trip. The sample with the shortest
/// round trip among the last few is the estimate.
#[derive(Debug, Default)]
pub struct ClockEstimator {
    /// `(round trip ms, offset ms)`, newest last.
    samples: VecDeque<(f64, f64)>,
}

impl ClockEstimator {
    /// Records one round trip: sent at local `t0_ms`, answered at local `t1_ms`, the
    /// peer's timestamp `peer_ms` (all Unix milliseconds).
    pub fn record(&mut self, t0_ms: f64, t1_ms: f64, peer_ms: f64) {
        let rtt = (t1_ms - t0_ms).max(0.0);
        let offset = peer_ms - (t0_ms + t1_ms) / 2.0;
        if self.samples.len() == CLOCK_SAMPLES {
            self.samples.pop_front();
        }
        self.samples.push_back((rtt, offset));
    }

    /// The estimated offset (peer minus local), ms, once a round trip carried a
    /// timestamp.
    pub fn offset_ms(&self) -> Option<f64> {
        self.samples
            .iter()
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|s| s.1)
    }

    /// Forgets every sample (a new peer may have another clock).
    pub fn reset(&mut self) {
        self.samples.clear();
    }
}

/// The feed's delay for a message stamped `peer_ms` by the peer and received at local
/// `recv_ms`, with the peer's clock `offset_ms` ahead of ours: the local time of the
/// stamp is `peer_ms − offset_ms`.
pub fn feed_delay_ms(recv_ms: f64, peer_ms: f64, offset_ms: f64) -> f64 {
    recv_ms - (peer_ms - offset_ms)
}

/// One known pair of monotonic and wall-clock time (Unix ms), set by the driver: how
/// the core turns instants into wall time for timestamps, with no clock read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WallClock {
    /// The pair, once the driver has said what time it is.
    anchor: Option<(Instant, f64)>,
}

impl WallClock {
    /// `now` is `unix_ms` on the wall clock.
    pub fn set(&mut self, now: Instant, unix_ms: f64) {
        self.anchor = Some((now, unix_ms));
    }

    /// Wall-clock Unix ms of `at`, if the driver has said what time it is.
    pub fn ms(&self, at: Instant) -> Option<f64> {
        let (anchor, ms) = self.anchor?;
        Some(if at >= anchor {
            ms + (at - anchor).as_secs_f64() * 1000.0
        } else {
            ms - (anchor - at).as_secs_f64() * 1000.0
        })
    }
}

/// Converts an `Instant` to wall-clock Unix milliseconds, given one known pair.
pub(crate) fn unix_ms(at: Instant, now: Instant, wall_now: SystemTime) -> u64 {
    let wall = if at <= now {
        wall_now.checked_sub(now - at)
    } else {
        wall_now.checked_add(at - now)
    };
    wall.and_then(|w| w.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_comes_from_the_shortest_round_trip() {
        let mut c = ClockEstimator::default();
        assert_eq!(c.offset_ms(), None);
        // Peer 5 s ahead; a 100 ms round trip, answered in the middle.
        c.record(1_000.0, 1_100.0, 6_050.0);
        assert_eq!(c.offset_ms(), Some(5_000.0));
        // A slow, lopsided round trip says 5.4 s; the quick one is believed.
        c.record(2_000.0, 3_000.0, 7_900.0);
        assert_eq!(c.offset_ms(), Some(5_000.0));
        c.record(4_000.0, 4_010.0, 9_006.0);
        assert_eq!(c.offset_ms(), Some(5_001.0));
        c.reset();
        assert_eq!(c.offset_ms(), None);
    }

    #[test]
    fn the_delay_is_corrected_by_the_offset() {
        // Stamped at peer 10_000 with the peer 5 s ahead: local 5_000; received 5_120.
        assert_eq!(feed_delay_ms(5_120.0, 10_000.0, 5_000.0), 120.0);
        assert_eq!(feed_delay_ms(5_120.0, 5_000.0, 0.0), 120.0);
    }
}
