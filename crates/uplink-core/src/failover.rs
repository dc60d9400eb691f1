//! Several endpoints for one feed (a primary and its backups) and a circuit breaker
//! per endpoint.
//!
//! * When the endpoint in use fails, the next attempt goes to the next endpoint in
//!   the list whose breaker lets it through, still paced by the backoff.
//! * A breaker opens after `breaker_threshold` consecutive failures: the endpoint is
//!   skipped for a cool-down that doubles with each re-opening (up to a cap). When
//!   the cool-down has passed, one trial dial half-opens it; a success closes it, a
//!   failure re-opens it.
//! * With a single endpoint there is nothing to fail over to: its breaker never opens
//!   and the backoff alone paces retries, exactly as without failover.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::ids::ConnId;

/// A breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Dialled as usual.
    Closed,
    /// Skipped until its cool-down ends.
    Open,
    /// Cool-down over: the next dial is a trial.
    HalfOpen,
}

/// How breakers behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive failures that open a breaker.
    pub threshold: u32,
    /// The first cool-down; each re-opening doubles it.
    pub cooldown: Duration,
    /// The longest cool-down.
    pub max_cooldown: Duration,
}

/// One endpoint's breaker.
#[derive(Debug, Clone, Copy)]
struct Breaker {
    /// Failures since the last success.
    failures: u32,
    /// Openings since the last success (grows the cool-down).
    opens: u32,
    /// Open until then.
    open_until: Option<Instant>,
    /// The cool-down passed and a trial dial is (or will be) under way.
    half_open: bool,
}

/// One endpoint as the status shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct EndpointStatus {
    /// Its URL, credentials masked.
    pub url: String,
    /// "primary", or "backup 1", "backup 2", …
    pub role: String,
    /// Its breaker.
    pub breaker: BreakerState,
    /// Consecutive failures since its last success.
    pub failures: u32,
    /// While open: seconds until the cool-down ends.
    pub open_for_secs: Option<f64>,
}

/// The endpoints and their breakers.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// URLs for people, in order; the first is the primary.
    urls: Vec<String>,
    /// One breaker per endpoint.
    breakers: Vec<Breaker>,
    /// How breakers behave.
    config: BreakerConfig,
}

/// "primary", "backup 1", …
pub fn role(i: usize) -> String {
    if i == 0 {
        "primary".to_owned()
    } else {
        format!("backup {i}")
    }
}

impl Endpoints {
    /// `n` endpoints (at least one), all closed.
    pub fn new(n: usize, config: BreakerConfig) -> Self {
        let n = n.max(1);
        Endpoints {
            urls: vec![String::new(); n],
            breakers: vec![
                Breaker {
                    failures: 0,
                    opens: 0,
                    open_until: None,
                    half_open: false,
                };
                n
            ],
            config,
        }
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.breakers.len()
    }

    /// Always at least one.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Sets the URLs shown (masked); extra ones are ignored, missing ones left blank.
    pub fn set_urls(&mut self, urls: &[String]) {
        for (slot, u) in self.urls.iter_mut().zip(urls) {
            slot.clone_from(u);
        }
    }

    /// Changes the breaker settings.
    pub fn set_config(&mut self, config: BreakerConfig) {
        self.config = config;
    }

    /// A dial to `i` failed, or its connection was lost.
    pub fn on_failure(&mut self, i: usize, now: Instant) {
        let single = self.len() == 1;
        let cfg = self.config;
        let Some(b) = self.breakers.get_mut(i) else {
            return;
        };
        b.failures += 1;
        if single {
            return;
        }
        if b.half_open || (b.open_until.is_none() && b.failures >= cfg.threshold) {
            b.opens += 1;
            let factor = 2u32.saturating_pow(b.opens - 1);
            let cooldown = cfg.cooldown.saturating_mul(factor).min(cfg.max_cooldown);
            b.open_until = Some(now + cooldown);
            b.half_open = false;
        }
    }

    /// A connection to `i` came up: its breaker closes.
    pub fn on_success(&mut self, i: usize) {
        if let Some(b) = self.breakers.get_mut(i) {
            *b = Breaker {
                failures: 0,
                opens: 0,
                open_until: None,
                half_open: false,
            };
        }
    }

    /// Lets every endpoint be tried again (a person asked for a reconnect).
    pub fn reset(&mut self) {
        for i in 0..self.len() {
            self.on_success(i);
        }
    }

    /// Whether `i` may be dialled at `now` (closed, or its cool-down is over).
    pub fn allows(&self, i: usize, now: Instant) -> bool {
        self.breakers
            .get(i)
            .is_some_and(|b| b.open_until.is_none_or(|t| now >= t))
    }

    /// A dial to `i` starts: past its cool-down, it is the half-open trial.
    pub fn dialing(&mut self, i: usize, now: Instant) {
        if let Some(b) = self.breakers.get_mut(i) {
            if b.open_until.is_some_and(|t| now >= t) {
                b.open_until = None;
                b.half_open = true;
            }
        }
    }

    /// Where to go after `failed` failed, at `not_before` (when the backoff allows):
    /// the next endpoint in order whose breaker lets it through then; if every one is
    /// open, the one whose cool-down ends first, when it ends.
    pub fn next_after(&self, failed: usize, not_before: Instant) -> (usize, Instant) {
        let n = self.len();
        for step in 1..=n {
            let i = (failed + step) % n;
            if self.allows(i, not_before) {
                return (i, not_before);
            }
        }
        self.breakers
            .iter()
            .enumerate()
            .filter_map(|(i, b)| b.open_until.map(|t| (i, t.max(not_before))))
            .min_by_key(|(_, t)| *t)
            .unwrap_or(((failed + 1) % n, not_before))
    }

    /// Each endpoint for the status.
    pub fn status(&self, now: Instant) -> Vec<EndpointStatus> {
        self.breakers
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let open = b.open_until.filter(|t| now < *t);
                EndpointStatus {
                    url: self.urls[i].clone(),
                    role: role(i),
                    breaker: match (open, b.half_open || b.open_until.is_some()) {
                        (Some(_), _) => BreakerState::Open,
                        (None, true) => BreakerState::HalfOpen,
                        (None, false) => BreakerState::Closed,
                    },
                    failures: b.failures,
                    open_for_secs: open.map(|t| (t - now).as_secs_f64()),
                }
            })
            .collect()
    }
}

/// Which endpoint the connection uses: the breakers, the endpoint dialing or up, and
/// the one the next retry dials.
#[derive(Debug)]
pub(crate) struct Failover {
    /// The feed's endpoints and their breakers.
    pub endpoints: Endpoints,
    /// The endpoint dialing or connected (0 = primary).
    pub current: usize,
    /// The endpoint the next retry dials.
    pub next: usize,
    /// The endpoint of the last connection that came up: a switch is announced once.
    pub last_up: Option<usize>,
}

impl Failover {
    /// `n` endpoints, starting from the primary.
    pub fn new(n: usize, config: BreakerConfig) -> Self {
        Failover {
            endpoints: Endpoints::new(n, config),
            current: 0,
            next: 0,
            last_up: None,
        }
    }

    /// A new endpoint count starts over from the primary; the same count keeps the
    /// breakers and takes the new settings.
    pub fn reconfigure(&mut self, n: usize, config: BreakerConfig) {
        if n != self.endpoints.len() {
            *self = Failover {
                last_up: self.last_up,
                ..Failover::new(n, config)
            };
        } else {
            self.endpoints.set_config(config);
        }
    }

    /// A connection to the current endpoint came up: its breaker closes. Returns the
    /// endpoint the last connection was on when this one is another.
    pub fn up(&mut self) -> Option<usize> {
        let to = self.current;
        self.endpoints.on_success(to);
        self.last_up.replace(to).filter(|from| *from != to)
    }
}

/// The failback probe while connected to a backup: when to try the primary again, and
/// the probe dial under way. Held by the connected state; the connection asks it what
/// is due and does what it says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failback {
    /// When to probe the primary; `None` on the primary, or while a probe is under way.
    pub at: Option<Instant>,
    /// The probe dial under way.
    pub probe: Option<Probe>,
}

/// A failback probe dial.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Probe {
    /// The probe connection's id.
    pub conn: ConnId,
    /// When it is abandoned.
    pub deadline: Instant,
}

impl Failback {
    /// A connection to `endpoint` came up at `now`: on a backup, the primary is
    /// probed after `after` (zero: never).
    pub fn enter(now: Instant, endpoint: usize, after: Duration) -> Failback {
        Failback {
            at: (endpoint != 0 && !after.is_zero()).then(|| now + after),
            probe: None,
        }
    }

    /// Whether `conn` is the probe under way.
    pub fn is_probe(&self, conn: ConnId) -> bool {
        self.probe.is_some_and(|p| p.conn == conn)
    }

    /// When the probe under way is abandoned.
    pub fn probe_deadline(&self) -> Option<Instant> {
        self.probe.map(|p| p.deadline)
    }

    /// When the next probe starts.
    pub fn due_at(&self) -> Option<Instant> {
        self.at.filter(|_| self.probe.is_none())
    }

    /// The probe failed or was abandoned: the primary is tried again `after` from
    /// `now`. Returns the probe that was under way.
    pub fn retry_later(&mut self, now: Instant, after: Duration) -> Option<Probe> {
        self.at = Some(now + after);
        self.probe.take()
    }

    /// Starts a probe dial `conn`, abandoned after `timeout`.
    pub fn start(&mut self, conn: ConnId, now: Instant, timeout: Duration) {
        self.at = None;
        self.probe = Some(Probe {
            conn,
            deadline: now + timeout,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: BreakerConfig = BreakerConfig {
        threshold: 2,
        cooldown: Duration::from_secs(30),
        max_cooldown: Duration::from_secs(100),
    };

    #[test]
    fn a_breaker_opens_cools_down_half_opens_and_closes() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let mut e = Endpoints::new(2, CFG);
        e.on_failure(0, t);
        assert!(e.allows(0, t), "one failure is not enough");
        e.on_failure(0, t);
        assert!(!e.allows(0, t + 29 * s));
        assert_eq!(e.status(t)[0].breaker, BreakerState::Open);
        assert!(e.allows(0, t + 30 * s));
        e.dialing(0, t + 30 * s);
        assert_eq!(e.status(t + 30 * s)[0].breaker, BreakerState::HalfOpen);
        // The trial fails: open again, twice as long.
        e.on_failure(0, t + 31 * s);
        assert!(!e.allows(0, t + 90 * s));
        assert!(e.allows(0, t + 91 * s));
        e.dialing(0, t + 91 * s);
        e.on_failure(0, t + 91 * s);
        assert!(!e.allows(0, t + 190 * s), "capped at 100 s");
        assert!(e.allows(0, t + 191 * s));
        e.dialing(0, t + 191 * s);
        e.on_success(0);
        assert_eq!(e.status(t)[0].breaker, BreakerState::Closed);
        assert_eq!(e.status(t)[0].failures, 0);
    }

    #[test]
    fn failover_skips_open_breakers_and_waits_for_the_first_cooldown() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        let mut e = Endpoints::new(3, CFG);
        assert_eq!(e.next_after(0, t), (1, t));
        for _ in 0..2 {
            e.on_failure(1, t);
        }
        assert_eq!(e.next_after(0, t), (2, t), "backup 1 is open: skipped");
        for _ in 0..2 {
            e.on_failure(2, t + s);
            e.on_failure(0, t + 2 * s);
        }
        // All open: the one whose cool-down ends first, when it ends.
        assert_eq!(e.next_after(2, t + 3 * s), (1, t + 30 * s));
    }

    #[test]
    fn a_single_endpoint_never_opens() {
        let t = Instant::now();
        let mut e = Endpoints::new(1, CFG);
        for _ in 0..10 {
            e.on_failure(0, t);
        }
        assert!(e.allows(0, t));
        assert_eq!(e.next_after(0, t), (0, t));
    }
}
