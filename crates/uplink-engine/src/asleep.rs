//! Did the machine sleep? At every stats tick the driver reads two clocks: one that
//! goes on while the machine sleeps and one that stops. When the first ran ahead of
//! the second by more than the driver's gap, the machine slept (or, where the first is
//! the wall clock, the clock was set forward by that much: then the probe that follows
//! costs one ping).
//!
//! | OS | goes on in sleep | stops in sleep |
//! |---|---|---|
//! | Linux | the wall clock | `Instant` (`CLOCK_MONOTONIC`) |
//! | macOS | the wall clock | `Instant` (`CLOCK_UPTIME_RAW`) |
//! | Windows | `Instant` (`QueryPerformanceCounter`) or the wall clock, whichever ran further | `QueryUnbiasedInterruptTime` |
//!
//! On Windows `Instant` counts the time asleep, so it never parts from the wall clock;
//! the unbiased interrupt time leaves that time out. The Windows half has run under
//! Wine only, never on Windows (docs/platforms.md).

use std::time::{Duration, Instant, SystemTime};

/// One reading of the clocks, taken together.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clocks {
    /// The driver's instant, as it was handed in.
    pub(crate) mono: Instant,
    /// The wall clock: the core stamps latency and message ages with it.
    pub(crate) wall: SystemTime,
    /// Windows: the unbiased interrupt time, which stops while the machine sleeps.
    #[cfg(windows)]
    awake: Duration,
}

impl Clocks {
    /// Reads the clocks now; `mono` is the driver's instant for now.
    pub(crate) fn read(mono: Instant) -> Clocks {
        Clocks {
            mono,
            wall: SystemTime::now(),
            #[cfg(windows)]
            awake: windows::unbiased_interrupt_time(),
        }
    }

    /// How much of the time since `earlier` the machine spent asleep, as far as the
    /// clocks tell.
    pub(crate) fn asleep_since(&self, earlier: &Clocks) -> Duration {
        let awake = self.mono.saturating_duration_since(earlier.mono);
        let all = self.wall.duration_since(earlier.wall).unwrap_or_default();
        #[cfg(windows)]
        let (awake, all) = (self.awake.saturating_sub(earlier.awake), awake.max(all));
        all.saturating_sub(awake)
    }
}

#[cfg(windows)]
mod windows {
    #![allow(unsafe_code)]

    use std::time::Duration;

    #[link(name = "kernel32")]
    extern "system" {
        /// Interrupt time in 100 ns units, without the time spent asleep or hibernating
        /// (Windows 7 and later).
        fn QueryUnbiasedInterruptTime(unbiased_time: *mut u64) -> i32;
    }

    /// The time the machine has been awake since it started.
    pub(super) fn unbiased_interrupt_time() -> Duration {
        let mut t: u64 = 0;
        // SAFETY: the function writes one u64 through a pointer that is valid and
        // aligned for the whole call; it reads nothing else.
        let ok = unsafe { QueryUnbiasedInterruptTime(&mut t) };
        // It fails only for a null pointer; 0 then makes every tick look awake.
        if ok == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(t.saturating_mul(100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_on_the_wall_clock_beyond_the_monotonic_clock_was_spent_asleep() {
        let t0 = Instant::now();
        let w0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let at = |mono: u64, wall: u64| Clocks {
            mono: t0 + Duration::from_secs(mono),
            wall: w0 + Duration::from_secs(wall),
            #[cfg(windows)]
            awake: Duration::from_secs(mono),
        };
        let start = at(0, 0);
        assert_eq!(at(10, 10).asleep_since(&start), Duration::ZERO);
        assert_eq!(at(10, 3610).asleep_since(&start), Duration::from_secs(3600));
        // The wall clock set back: nobody slept.
        assert_eq!(at(10, 0).asleep_since(&at(0, 5)), Duration::ZERO);

        // Windows: `Instant` counts sleep, and the unbiased interrupt time does not.
        // An hour asleep shows in `Instant` even with the wall clock held back.
        #[cfg(windows)]
        for wall in [3610, 10] {
            let woke = Clocks {
                mono: t0 + Duration::from_secs(3610),
                wall: w0 + Duration::from_secs(wall),
                awake: Duration::from_secs(10),
            };
            assert_eq!(
                woke.asleep_since(&start),
                Duration::from_secs(3600),
                "{wall}"
            );
        }
    }
}
