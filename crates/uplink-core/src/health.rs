//! What "healthy" means beyond "the socket answers pings": timestamps read off the
//! feed, the peer's clock offset estimated from ping/pong round trips, and the feed's
//! delay corrected by it. The decisions (stale, outage alert) live in the core; this
//! module holds the arithmetic, tested on its own.

use std::collections::VecDeque;

/// Clock offsets beyond this (either way) are worth a warning: delays and ages
/// computed against such a clock cannot be trusted.
pub const SKEW_WARN_MS: f64 = 2000.0;

/// Round trips kept for the offset estimate; the one with the shortest round trip wins.
const CLOCK_SAMPLES: usize = 8;

/// Reads an RFC 3339 timestamp (`2025-01-01T12:00:00Z`, `…:00.123+02:00`) as Unix
/// milliseconds. Anything else is `None`.
pub fn parse_rfc3339_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (h, mi, sec) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac = 0.0;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        // Digits past nanoseconds add nothing; no allocation on the hot path.
        let mut scale = 0.1;
        for &c in &b[start..i.min(start + 9)] {
            frac += f64::from(c - b'0') * scale;
            scale /= 10.0;
        }
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let m = num(i + 1, 2)? * 60 + num(i + 4, 2)?;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some((secs as f64 + frac) * 1000.0)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rfc3339_in_its_usual_forms() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(
            parse_rfc3339_ms("2025-01-01T12:00:00Z"),
            Some(1_735_732_800_000.0)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-01-01T12:00:00.250Z"),
            Some(1_735_732_800_250.0)
        );
        assert_eq!(
            parse_rfc3339_ms("2025-01-01T14:00:00+02:00"),
            Some(1_735_732_800_000.0)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00-00:30"),
            Some(1_709_166_600_000.0)
        );
        for bad in [
            "",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00.Z",
            "2025-01-01T00:00:00Zjunk",
            "１０２５-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad:?}");
        }
    }

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
