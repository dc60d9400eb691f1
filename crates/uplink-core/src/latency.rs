//! Round-trip latency from ping/pong pairs: last, moving average, min/max, p50/p99.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

/// A rolling window of recent round trips.
#[derive(Debug, Clone)]
pub struct LatencyTracker {
    /// The most recent samples, oldest first; at most `capacity`.
    window: VecDeque<Duration>,
    /// How many samples the window keeps.
    capacity: usize,
    /// Samples ever recorded, including those that left the window.
    total: u64,
}

/// What the UI shows about latency, in milliseconds, over the current window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Default)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LatencySummary {
    /// The last round trip.
    pub last_ms: Option<f64>,
    /// Mean of the window (the moving average).
    pub avg_ms: Option<f64>,
    /// Fastest round trip in the window.
    pub min_ms: Option<f64>,
    /// Slowest round trip in the window.
    pub max_ms: Option<f64>,
    /// Median of the window.
    pub p50_ms: Option<f64>,
    /// 99th percentile of the window (nearest rank).
    pub p99_ms: Option<f64>,
    /// Samples in the window.
    pub window: usize,
    /// Samples ever recorded.
    pub samples: u64,
}

/// Milliseconds, rounded to the microsecond.
pub fn ms(d: Duration) -> f64 {
    (d.as_nanos() as f64 / 1000.0).round() / 1000.0
}

impl LatencyTracker {
    /// An empty tracker keeping `capacity` samples.
    pub fn new(capacity: usize) -> Self {
        LatencyTracker {
            window: VecDeque::with_capacity(capacity),
            capacity: capacity.max(1),
            total: 0,
        }
    }

    /// Changes how many samples are kept, dropping the oldest if needed.
    pub fn set_capacity(&mut self, capacity: usize) {
        self.capacity = capacity.max(1);
        while self.window.len() > self.capacity {
            self.window.pop_front();
        }
    }

    /// Records one round trip.
    pub fn record(&mut self, rtt: Duration) {
        if self.window.len() == self.capacity {
            self.window.pop_front();
        }
        self.window.push_back(rtt);
        self.total += 1;
    }

    /// The latest sample.
    pub fn last(&self) -> Option<Duration> {
        self.window.back().copied()
    }

    /// The figures over the current window.
    pub fn summary(&self) -> LatencySummary {
        if self.window.is_empty() {
            return LatencySummary {
                samples: self.total,
                ..LatencySummary::default()
            };
        }
        let mut sorted: Vec<Duration> = self.window.iter().copied().collect();
        sorted.sort_unstable();
        let n = sorted.len();
        // Nearest-rank percentile: the smallest sample with at least p% of samples at or below it.
        let rank = |p: f64| sorted[((p / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1];
        let sum: Duration = sorted.iter().sum();
        LatencySummary {
            last_ms: self.last().map(ms),
            avg_ms: Some(ms(sum) / n as f64),
            min_ms: Some(ms(sorted[0])),
            max_ms: Some(ms(sorted[n - 1])),
            p50_ms: Some(ms(rank(50.0))),
            p99_ms: Some(ms(rank(99.0))),
            window: n,
            samples: self.total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_over_a_rolling_window() {
        let mut t = LatencyTracker::new(100);
        assert_eq!(t.summary().last_ms, None);
        for i in 1..=100 {
            t.record(Duration::from_millis(i));
        }
        let s = t.summary();
        assert_eq!(s.last_ms, Some(100.0));
        assert_eq!(s.min_ms, Some(1.0));
        assert_eq!(s.max_ms, Some(100.0));
        assert_eq!(s.p50_ms, Some(50.0));
        assert_eq!(s.p99_ms, Some(99.0));
        assert_eq!(s.avg_ms, Some(50.5));
        // 50 more slow samples push the fast ones out of the window.
        for _ in 0..50 {
            t.record(Duration::from_millis(500));
        }
        let s = t.summary();
        assert_eq!(s.window, 100);
        assert_eq!(s.samples, 150);
        assert_eq!(s.min_ms, Some(51.0));
        assert_eq!(s.p99_ms, Some(500.0));
    }
}
