//! Exponential backoff with symmetric jitter, and the tiny deterministic RNG that feeds it.

use std::time::Duration;

/// Attempt `n` (1-based) waits `min(base * 2^(n-1), max)`, then jitter scales that by a
/// factor drawn uniformly from `[1 - j, 1 + j]`, and the result is capped at `max` again.
///
/// This is the seed's `min(base_delay * 2**attempt, max_delay)` with its 0-based
/// attempt, plus jitter so that many clients of one restarted server spread out.
/// With the defaults (1 s, 60 s, ±20 %) the nominal delays are 1, 2, 4, 8, 16, 32, 60, 60 … s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first attempt.
    pub base: Duration,
    /// Cap of every delay, jitter included.
    pub max: Duration,
    /// Jitter fraction in `0.0..=1.0`.
    pub jitter: f64,
}

impl Backoff {
    /// The delay before attempt `attempt` (1-based), before jitter.
    pub fn nominal(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(62) as i32;
        let secs = self.base.as_secs_f64() * 2f64.powi(exp);
        Duration::from_secs_f64(secs.min(self.max.as_secs_f64()))
    }

    /// The delay before attempt `attempt`, with jitter from `unit`, a number in `[0, 1)`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let factor = 1.0 + self.jitter * (2.0 * unit - 1.0);
        let secs = self.nominal(attempt).as_secs_f64() * factor;
        Duration::from_secs_f64(secs.clamp(0.0, self.max.as_secs_f64()))
    }
}

/// SplitMix64: a small, fast, seedable generator. The core takes its seed as an
/// input, so every run with the same seed makes the same choices.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number uniformly drawn from `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(jitter: f64) -> Backoff {
        Backoff {
            base: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter,
        }
    }

    #[test]
    fn doubles_then_caps() {
        let got: Vec<u64> = (1..=10).map(|n| b(0.0).nominal(n).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
        assert_eq!(b(0.0).nominal(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_bounds_and_the_cap() {
        let mut rng = SplitMix64::new(7);
        for attempt in 1..=12 {
            let nominal = b(0.2).nominal(attempt).as_secs_f64();
            for _ in 0..2000 {
                let d = b(0.2).delay(attempt, rng.next_unit()).as_secs_f64();
                assert!(
                    d >= nominal * 0.8 - 1e-9 && d <= nominal * 1.2 + 1e-9,
                    "{attempt}: {d}"
                );
                assert!(d <= 60.0);
            }
        }
        assert_eq!(b(0.2).delay(1, 0.0), Duration::from_secs_f64(0.8));
        assert_eq!(b(0.2).delay(10, 0.999_999), Duration::from_secs(60));
    }

    #[test]
    fn unit_draws_cover_the_range() {
        let mut rng = SplitMix64::new(1);
        let xs: Vec<f64> = (0..10_000).map(|_| rng.next_unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|&x| x < 0.01) && xs.iter().any(|&x| x > 0.99));
    }
}
