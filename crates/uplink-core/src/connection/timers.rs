//! Every deadline of a connection, named: one closed [`Timer`] enum and a
//! [`TimerTable`] of when each is due. `poll_timeout` is the table's earliest entry;
//! `handle_timeout` walks [`Timer::ALL`] in order and hands each expired timer to the
//! part that owns it.

use std::time::Instant;

/// One deadline of the connection. The order of [`Timer::ALL`] is the order in which
/// expired timers are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// An order written and not acknowledged within `ack_timeout` (outbound).
    AckTimeout,
    /// A queued order waited `order_ttl` offline (outbound).
    OrderTtl,
    /// The outage in progress reaches `alert_after` (state).
    OutageAlert,
    /// The dial in progress is abandoned after `connect_timeout` (state).
    DialTimeout,
    /// The backoff ends: the next reconnect attempt dials (state).
    RetryDial,
    /// The ping in flight got no answer in time (heartbeat).
    PongTimeout,
    /// Nothing at all arrived for the idle limit (heartbeat).
    Idle,
    /// The connection stayed up for `min_uptime`: the attempt count resets (state).
    Stable,
    /// The failback probe took longer than `connect_timeout` (failover).
    ProbeTimeout,
    /// On a backup: time to probe the primary (failover).
    Failback,
    /// No data for `stale_after` while something is subscribed (freshness).
    Stale,
    /// The next heartbeat ping is due (heartbeat).
    Ping,
    /// The next paced message of a backlog may go (outbound).
    Flush,
}

/// How many timers there are.
const COUNT: usize = 13;

impl Timer {
    /// Every timer, in the order expired ones are handled.
    pub const ALL: [Timer; COUNT] = [
        Timer::AckTimeout,
        Timer::OrderTtl,
        Timer::OutageAlert,
        Timer::DialTimeout,
        Timer::RetryDial,
        Timer::PongTimeout,
        Timer::Idle,
        Timer::Stable,
        Timer::ProbeTimeout,
        Timer::Failback,
        Timer::Stale,
        Timer::Ping,
        Timer::Flush,
    ];
}

/// When each [`Timer`] is due; `None` for one that is not armed.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TimerTable {
    /// Indexed by the timer's discriminant.
    at: [Option<Instant>; COUNT],
}

impl TimerTable {
    /// Arms `timer` at `at`, or disarms it with `None`.
    pub fn set(&mut self, timer: Timer, at: Option<Instant>) {
        self.at[timer as usize] = at;
    }

    /// When `timer` is due, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.at[timer as usize]
    }

    /// Whether `timer` is armed and due at `now`.
    pub fn is_due(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|at| now >= at)
    }

    /// The earliest armed deadline.
    pub fn next(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_table_names_each_deadline_and_yields_the_earliest() {
        let t0 = Instant::now();
        let mut t = TimerTable::default();
        assert_eq!(t.next(), None);
        t.set(Timer::Ping, Some(t0 + Duration::from_secs(5)));
        t.set(Timer::Stale, Some(t0 + Duration::from_secs(2)));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(2)));
        assert!(t.is_due(Timer::Stale, t0 + Duration::from_secs(2)));
        assert!(!t.is_due(Timer::Ping, t0 + Duration::from_secs(2)));
        t.set(Timer::Stale, None);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(t.get(Timer::Flush), None);
    }

    #[test]
    fn every_timer_is_listed_once() {
        for (i, t) in Timer::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i, "ALL is in declaration order");
        }
    }
}
