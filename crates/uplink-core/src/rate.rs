//! The outbound rate limiter for every user send (the original specification's limit of
//! so many messages a window): used by the engine's handle before a message reaches
//! the core.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The original specification's outbound rate limiter: at most `max` user sends in any `window`
/// (sliding). A send over the limit is refused at once with the time until the next
/// slot opens; it is never delayed or dropped silently.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    /// Sends allowed per window.
    max: usize,
    /// The window.
    window: Duration,
    /// When the sends within the window happened, oldest first.
    sent: VecDeque<Instant>,
}

impl RateLimiter {
    /// At most `max` sends in any `window`.
    pub fn new(max: u32, window: Duration) -> Self {
        RateLimiter {
            max: max.max(1) as usize,
            window,
            sent: VecDeque::new(),
        }
    }

    /// Takes a slot at `now`, or says how long until one opens.
    pub fn try_acquire(&mut self, now: Instant) -> Result<(), Duration> {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.window)
        {
            self.sent.pop_front();
        }
        if self.sent.len() >= self.max {
            let oldest = self.sent[0];
            return Err((oldest + self.window).saturating_duration_since(now));
        }
        self.sent.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_slides_and_says_when_the_next_slot_opens() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut l = RateLimiter::new(3, 60 * s);
        for i in 0..3 {
            assert_eq!(l.try_acquire(t0 + i * s), Ok(()));
        }
        // The 4th within the window: refused; the first slot opens at t0 + 60 s.
        assert_eq!(l.try_acquire(t0 + 10 * s), Err(50 * s));
        assert_eq!(
            l.try_acquire(t0 + 60 * s - Duration::from_millis(1)),
            Err(Duration::from_millis(1))
        );
        // At exactly 60 s the first send leaves the window.
        assert_eq!(l.try_acquire(t0 + 60 * s), Ok(()));
        assert_eq!(
            l.try_acquire(t0 + 60 * s),
            Err(s),
            "the second left at 61 s"
        );
    }
}
