//! Tunables of the connection core, with the seed's defaults and their validation.

use std::time::Duration;

use thiserror::Error;

/// Everything the core needs to know to keep one connection healthy.
///
/// All durations must be positive; [`Config::validate`] says exactly which field is
/// wrong, before anything connects.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// How often a ping is sent while connected (see `heartbeat` for which kind).
    /// Each ping/pong round trip is also a latency sample. Seed: 30 s.
    pub heartbeat_interval: Duration,
    /// How the link is kept alive and measured. Default: the seed's JSON ping.
    pub heartbeat: Heartbeat,
    /// How long to wait for the pong after each ping before the link is declared dead.
    /// A half-open connection is therefore detected within `heartbeat_interval + pong_timeout`.
    pub pong_timeout: Duration,
    /// Inbound-silence watchdog: any inbound frame proves liveness; none for this long
    /// drops the link. Defaults to two heartbeat intervals, the seed's "60 s = two
    /// missed heartbeats", which is its upper bound.
    pub idle_timeout: Duration,
    /// How long a dial (TCP + TLS + WebSocket handshake) may take.
    pub connect_timeout: Duration,
    /// First reconnect delay; attempt `n` waits `base * 2^(n-1)` before jitter.
    pub reconnect_base_delay: Duration,
    /// Upper bound of any reconnect delay.
    pub reconnect_max_delay: Duration,
    /// Consecutive failed attempts after which the core gives up and enters `error`.
    pub max_reconnect_attempts: u32,
    /// Symmetric jitter applied to each delay, as a fraction: 0.2 means ±20 %.
    /// Spreads reconnecting clients so a restarted server is not hit by all at once.
    pub jitter: f64,
    /// A connection must stay up this long before the attempt counter resets, so a
    /// server that accepts and immediately drops cannot cause a reconnect storm.
    pub min_uptime: Duration,
    /// Capacity of the outbound queue; on overflow the oldest message is dropped (and reported).
    pub queue_size: usize,
    /// Pause between queued messages flushed after a reconnect. The seed's 100 ms is the upper bound.
    pub flush_interval: Duration,
    /// How many recent round trips the latency percentiles are computed over.
    pub latency_window: usize,
    /// While connected with at least one symbol subscribed, no data message (anything
    /// but pong, heartbeat or acknowledgement) for this long makes the connection
    /// "connected but stale"; a subscribed symbol with no update for this long is
    /// shown stale on its own. Zero turns staleness off. Default 30 s.
    pub stale_after: Duration,
    /// An outage (a lost or failing connection, retrying) this long raises an early
    /// alert, once per outage, long before the reconnect loop gives up. Zero: only
    /// the give-up says so. Default 10 s.
    pub alert_after: Duration,
    /// An order written on a live connection and not acknowledged (an inbound `order`
    /// echoing its `client_order_id`) within this is reported unconfirmed. Default 10 s.
    pub ack_timeout: Duration,
    /// An order waiting in the queue this long (offline) expires and is never sent.
    /// Zero: never. Default 60 s.
    pub order_ttl: Duration,
    /// What happens to orders still awaiting acknowledgement when the connection is
    /// lost.
    pub unacked_orders: UnackedOrders,
    /// The seed's outbound rate limit on user sends; `None`: unlimited.
    pub rate_limit: Option<RateLimit>,
    /// How many endpoints the feed has (the first is the primary, the others its
    /// backups, in order). Give-up means every endpoint failed its
    /// `max_reconnect_attempts`.
    pub endpoints: usize,
    /// On a backup for this long, probe the primary in the background and switch back
    /// once it answers. Zero: never. Default 300 s.
    pub failback_after: Duration,
    /// Consecutive failures that open an endpoint's circuit breaker (with two or more
    /// endpoints). Default 3.
    pub breaker_threshold: u32,
    /// An open breaker skips its endpoint this long; each re-opening doubles it, up to
    /// `breaker_max_cooldown`. Default 30 s.
    pub breaker_cooldown: Duration,
    /// The longest cool-down. Default 10 min.
    pub breaker_max_cooldown: Duration,
}

/// How the link is kept alive and measured.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Heartbeat {
    /// The seed's `{"type":"ping"}`, answered by `{"type":"pong"}` (any body).
    #[default]
    Json,
    /// WebSocket protocol Ping frames with a payload; the feed's Pong frame echoing it
    /// is the round trip.
    WebSocket,
    /// A configured ping text, and a matcher for the feed's answer.
    Custom {
        /// The text sent, e.g. `{"op":"ping"}`.
        ping: String,
        /// Which inbound message is the answer.
        pong: PongMatch,
    },
    /// No ping at all: liveness from inbound data alone, and a link silent for
    /// `heartbeat_interval + pong_timeout` is dead.
    None,
}

/// Which inbound message answers a custom ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PongMatch {
    /// A message whose `type` is this, e.g. `pong`.
    Type(String),
    /// A JSON object whose top-level field `name` equals `value`, e.g. `op` = `"pong"`
    /// or `event` = `"heartbeat"`.
    Field {
        /// The field's name.
        name: String,
        /// The value it must have (compared as JSON).
        value: serde_json::Value,
    },
}

/// What happens to orders awaiting acknowledgement when the connection is lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub enum UnackedOrders {
    /// Re-send them after the reconnect, with the same `client_order_id`, before any
    /// newer message: a feed that deduplicates executes each once.
    #[default]
    Resend,
    /// Re-send nothing; report them unconfirmed for the trader to resend or discard.
    Hold,
}

/// At most `max` user sends in any `window` (sliding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sends allowed per window.
    pub max: u32,
    /// The window.
    pub window: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            heartbeat_interval: Duration::from_secs(30),
            heartbeat: Heartbeat::Json,
            pong_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            reconnect_base_delay: Duration::from_secs(1),
            reconnect_max_delay: Duration::from_secs(60),
            max_reconnect_attempts: 10,
            jitter: 0.2,
            min_uptime: Duration::from_secs(5),
            queue_size: 1000,
            flush_interval: Duration::from_millis(10),
            latency_window: 100,
            stale_after: Duration::from_secs(30),
            alert_after: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(10),
            order_ttl: Duration::from_secs(60),
            unacked_orders: UnackedOrders::Resend,
            rate_limit: Some(RateLimit {
                max: 100,
                window: Duration::from_secs(60),
            }),
            endpoints: 1,
            failback_after: Duration::from_secs(300),
            breaker_threshold: 3,
            breaker_cooldown: Duration::from_secs(30),
            breaker_max_cooldown: Duration::from_secs(600),
        }
    }
}

/// A configuration that must not be used, with the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    #[error("{0} must be greater than zero")]
    ZeroDuration(&'static str),
    /// The maximum reconnect delay is below the base delay.
    #[error("reconnect_max_delay ({max:?}) must not be less than reconnect_base_delay ({base:?})")]
    MaxBelowBase {
        /// The configured base delay.
        base: Duration,
        /// The configured maximum delay.
        max: Duration,
    },
    /// A count that must be at least one is zero.
    #[error("{0} must be at least 1")]
    ZeroCount(&'static str),
    /// Jitter outside `0.0..=1.0`.
    #[error("jitter must be between 0 and 1, got {0}")]
    Jitter(String),
    /// The idle watchdog would fire between two healthy heartbeats.
    #[error("idle_timeout ({idle:?}) must be longer than heartbeat_interval ({interval:?}), or a quiet but healthy feed would be dropped")]
    IdleBelowHeartbeat {
        /// The configured idle timeout.
        idle: Duration,
        /// The configured heartbeat interval.
        interval: Duration,
    },
}

impl Config {
    /// Checks every field; the first fault found is returned.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, d) in [
            ("heartbeat_interval", self.heartbeat_interval),
            ("pong_timeout", self.pong_timeout),
            ("idle_timeout", self.idle_timeout),
            ("connect_timeout", self.connect_timeout),
            ("reconnect_base_delay", self.reconnect_base_delay),
            ("reconnect_max_delay", self.reconnect_max_delay),
            ("flush_interval", self.flush_interval),
            ("ack_timeout", self.ack_timeout),
            ("breaker_cooldown", self.breaker_cooldown),
        ] {
            if d.is_zero() {
                return Err(ConfigError::ZeroDuration(name));
            }
        }
        if self.reconnect_max_delay < self.reconnect_base_delay {
            return Err(ConfigError::MaxBelowBase {
                base: self.reconnect_base_delay,
                max: self.reconnect_max_delay,
            });
        }
        for (name, n) in [
            (
                "max_reconnect_attempts",
                self.max_reconnect_attempts as usize,
            ),
            ("queue_size", self.queue_size),
            ("latency_window", self.latency_window),
            ("endpoints", self.endpoints),
            ("breaker_threshold", self.breaker_threshold as usize),
        ] {
            if n == 0 {
                return Err(ConfigError::ZeroCount(name));
            }
        }
        if let Some(r) = self.rate_limit {
            if r.max == 0 {
                return Err(ConfigError::ZeroCount("rate_limit"));
            }
            if r.window.is_zero() {
                return Err(ConfigError::ZeroDuration("rate_limit window"));
            }
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(ConfigError::Jitter(self.jitter.to_string()));
        }
        if self.idle_timeout <= self.heartbeat_interval {
            return Err(ConfigError::IdleBelowHeartbeat {
                idle: self.idle_timeout,
                interval: self.heartbeat_interval,
            });
        }
        Ok(())
    }

    /// Sets the heartbeat interval and keeps the idle watchdog at two intervals,
    /// the seed's rule; call [`Config::validate`] afterwards.
    pub fn with_heartbeat(mut self, interval: Duration, pong_timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.pong_timeout = pong_timeout;
        self.idle_timeout = interval * 2;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_seeds_and_valid() {
        let c = Config::default();
        assert_eq!(c.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(c.reconnect_base_delay, Duration::from_secs(1));
        assert_eq!(c.reconnect_max_delay, Duration::from_secs(60));
        assert_eq!(c.max_reconnect_attempts, 10);
        assert_eq!(c.queue_size, 1000);
        assert!(c.flush_interval <= Duration::from_millis(100));
        c.validate().unwrap();
    }

    #[test]
    fn each_fault_is_named() {
        let bad = |f: fn(&mut Config)| {
            let mut c = Config::default();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert_eq!(
            bad(|c| c.pong_timeout = Duration::ZERO),
            "pong_timeout must be greater than zero"
        );
        assert!(bad(|c| c.reconnect_max_delay = Duration::from_millis(500))
            .starts_with("reconnect_max_delay"));
        assert_eq!(bad(|c| c.queue_size = 0), "queue_size must be at least 1");
        assert_eq!(
            bad(|c| c.max_reconnect_attempts = 0),
            "max_reconnect_attempts must be at least 1"
        );
        assert!(bad(|c| c.jitter = 1.5).starts_with("jitter"));
        assert!(bad(|c| c.idle_timeout = Duration::from_secs(30)).starts_with("idle_timeout"));
    }

    #[test]
    fn with_heartbeat_scales_the_watchdog() {
        let c = Config::default()
            .with_heartbeat(Duration::from_millis(200), Duration::from_millis(100));
        assert_eq!(c.idle_timeout, Duration::from_millis(400));
        c.validate().unwrap();
    }
}
