//! Freshness: is the data on screen current? The stale clock of the connection and of
//! each subscribed symbol, and the feed's delay sampled from its timestamps.
//!
//! [`Staleness`] is one connection's part (its last data and the stale episode),
//! held by the connected state; [`Freshness`] is what outlives connections (each
//! symbol's clock, the last data from any connection, the delay window).

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasherDefault;
use std::time::{Duration, Instant, SystemTime};

use uplink_proto::{Envelope, Payload, Timestamp};

use crate::clock::{feed_delay_ms, unix_ms, WallClock};
use crate::config::Config;
use crate::connection::outputs::Outputs;
use crate::event::Event;
use crate::latency::LatencyTracker;
use crate::status::SymbolHealth;

/// Feed-delay samples are taken at most this often.
pub const DELAY_SAMPLE_EVERY: Duration = Duration::from_millis(10);

/// One connection's stale clock.
#[derive(Debug)]
pub(crate) struct Staleness {
    /// Last data message on this connection, or when it opened.
    pub last_data: Instant,
    /// When the current stale episode began, if the connection is stale.
    pub since: Option<Instant>,
}

impl Staleness {
    /// The stale clock of a connection that opened at `now`.
    pub fn enter(now: Instant) -> Staleness {
        Staleness {
            last_data: now,
            since: None,
        }
    }

    /// When the connection turns stale if no data arrives, unless it is already stale
    /// or staleness does not apply (off, or nothing subscribed).
    pub fn deadline(&self, config: &Config, subscribed: bool) -> Option<Instant> {
        let on = !config.stale_after.is_zero() && subscribed;
        (on && self.since.is_none()).then(|| self.last_data + config.stale_after)
    }

    /// The stale deadline passed at `now`: a stale episode begins, once.
    pub fn begin(&mut self, now: Instant, symbols: &BTreeSet<String>, out: &mut Outputs) {
        self.since = Some(now);
        out.emit(Event::Stale {
            age: now.saturating_duration_since(self.last_data),
            symbols: symbols.iter().cloned().collect(),
        });
        out.touch();
    }

    /// Ends a stale episode, if one is running.
    pub fn end(&mut self, now: Instant, out: &mut Outputs) {
        if let Some(since) = self.since.take() {
            out.emit(Event::Fresh {
                stale_for: now.saturating_duration_since(since),
            });
            out.touch();
        }
    }
}

/// A subscribed symbol's clock.
#[derive(Debug, Clone, Copy)]
struct SymbolClock {
    /// When it was subscribed, or the current connection opened if later: its
    /// stale clock starts here.
    since: Instant,
    /// Its last update, from any connection.
    last: Option<Instant>,
}

/// What freshness keeps across connections.
#[derive(Debug)]
pub(crate) struct Freshness {
    /// The last data message from any connection.
    pub last_data: Option<Instant>,
    /// Each subscribed symbol's clock (looked up on every update: a cheap hash).
    symbol_clocks: HashMap<String, SymbolClock, BuildHasherDefault<Fnv1a>>,
    /// No feed-delay sample before this: timestamps are read at most every
    /// [`DELAY_SAMPLE_EVERY`], not on every message of a fast feed.
    next_delay_sample: Option<Instant>,
    /// The feed's delay per timestamped message, corrected by the clock offset.
    pub delay: LatencyTracker,
}

impl Freshness {
    /// No data yet.
    pub fn new(config: &Config) -> Self {
        Freshness {
            last_data: None,
            symbol_clocks: HashMap::default(),
            next_delay_sample: None,
            delay: LatencyTracker::new(config.latency_window),
        }
    }

    /// Symbols were subscribed at `now`: their clocks start.
    pub fn subscribed(&mut self, now: Instant, symbols: &[String]) {
        for s in symbols {
            self.symbol_clocks.insert(
                s.clone(),
                SymbolClock {
                    since: now,
                    last: None,
                },
            );
        }
    }

    /// Symbols were unsubscribed: their clocks go.
    pub fn unsubscribed(&mut self, symbols: &[String]) {
        for s in symbols {
            self.symbol_clocks.remove(s);
        }
    }

    /// A connection opened at `now`: every symbol's stale clock starts again.
    pub fn connected(&mut self, now: Instant) {
        for clock in self.symbol_clocks.values_mut() {
            clock.since = now;
        }
    }

    /// A data message arrived: the stale clocks restart, and its timestamp (if any)
    /// gives a feed-delay sample, corrected by the clock offset `offset_ms`.
    pub fn data(
        &mut self,
        now: Instant,
        env: &Envelope,
        conn: Option<&mut Staleness>,
        offset_ms: Option<f64>,
        wall: &WallClock,
        out: &mut Outputs,
    ) {
        self.last_data = Some(now);
        if let Payload::Update(u) = &env.payload {
            if let Some(clock) = self.symbol_clocks.get_mut(u.symbol.as_str()) {
                clock.last = Some(now);
            }
        }
        if let Some(s) = conn {
            s.last_data = now;
            s.end(now, out);
        }
        if self.next_delay_sample.is_some_and(|t| now < t) {
            return;
        }
        let stamp = env.timestamp.as_ref().and_then(Timestamp::unix_ms);
        if let (Some(peer), Some(recv)) = (stamp, wall.ms(now)) {
            self.next_delay_sample = Some(now + DELAY_SAMPLE_EVERY);
            let ms = feed_delay_ms(recv, peer, offset_ms.unwrap_or(0.0)).max(0.0);
            // Readable times end in the year 9999, so this fits; a feed's numbers
            // never get to panic the engine all the same.
            if let Ok(delay) = Duration::try_from_secs_f64(ms / 1000.0) {
                self.delay.record(delay);
            }
        }
    }

    /// Each subscribed symbol's freshness, by symbol.
    pub fn symbol_health(
        &self,
        subscriptions: &BTreeSet<String>,
        connected: bool,
        stale_after: Duration,
        now: Instant,
        wall_now: SystemTime,
    ) -> Vec<SymbolHealth> {
        subscriptions
            .iter()
            .map(|sym| {
                let clock = self.symbol_clocks.get(sym);
                let last = clock.and_then(|c| c.last);
                let since = clock.map(|c| c.since);
                let start = match (last, since) {
                    (Some(l), Some(s)) => Some(l.max(s)),
                    (l, s) => l.or(s),
                };
                SymbolHealth {
                    symbol: sym.clone(),
                    last_update_unix_ms: last.map(|t| unix_ms(t, now, wall_now)),
                    age_secs: last.map(|t| now.saturating_duration_since(t).as_secs_f64()),
                    stale: connected
                        && !stale_after.is_zero()
                        && start.is_some_and(|t| now.saturating_duration_since(t) >= stale_after),
                }
            })
            .collect()
    }
}

/// Message types that keep a link alive or acknowledge a request: they prove the
/// link works, not that prices flow.
const NOT_DATA: &[&str] = &["heartbeat", "ack", "subscribed", "unsubscribed", "status"];

/// Whether a message is data (prices, orders, anything a feed publishes) rather than
/// a pong, a heartbeat, an acknowledgement or an error.
pub(crate) fn is_data(p: &Payload) -> bool {
    match p {
        Payload::Update(_) | Payload::Order(_) => true,
        Payload::Other(m) => !m
            .get("type")
            .and_then(|t| t.as_str())
            .is_some_and(|t| NOT_DATA.contains(&t)),
        _ => false,
    }
}

/// FNV-1a: a hash for short keys (symbols) on the per-message path, where SipHash's
/// DoS resistance buys nothing (only subscribed symbols are ever keys).
#[derive(Debug, Default, Clone, Copy)]
struct Fnv1a(u64);

impl std::hash::Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}
