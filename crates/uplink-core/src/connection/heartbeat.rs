//! The heartbeat: pings out, pongs in, round-trip latency, the peer's clock offset,
//! and the silence after which a link is dead.
//!
//! [`Pinger`] is one connection's part (the ping in flight and the next one), held
//! by the connected state; [`Heartbeats`] is what outlives connections (the latency
//! window, the clock estimate, the ping counter), held by the connection.

use std::time::{Duration, Instant};

use uplink_proto::{Envelope, Payload, Timestamp};

use crate::clock::{ClockEstimator, WallClock, SKEW_WARN_MS};
use crate::config::{Config, Heartbeat, PongMatch};
use crate::connection::outputs::Outputs;
use crate::event::{Action, Event};
use crate::ids::ConnId;
use crate::latency::LatencyTracker;

/// After a resume or a network change, the probe ping's answer must come this soon.
pub const RESUME_PROBE: Duration = Duration::from_secs(2);

/// One connection's heartbeat.
#[derive(Debug)]
pub(crate) struct Pinger {
    /// When the next ping goes out (unless one is outstanding).
    pub next_at: Instant,
    /// When the outstanding ping was sent.
    pub sent_at: Option<Instant>,
    /// The payload of the outstanding WebSocket Ping (`heartbeat = websocket`).
    pub payload: [u8; 8],
    /// How long the outstanding ping may wait for its answer: `pong_timeout`, or less
    /// for the probe after a resume or a network change.
    pub wait: Duration,
}

impl Pinger {
    /// The heartbeat of a connection that opened at `now`.
    pub fn enter(now: Instant, config: &Config) -> Pinger {
        Pinger {
            next_at: now + config.heartbeat_interval,
            sent_at: None,
            payload: [0; 8],
            wait: config.pong_timeout,
        }
    }

    /// When the outstanding ping times out.
    pub fn pong_deadline(&self) -> Option<Instant> {
        self.sent_at.map(|sent| sent + self.wait)
    }

    /// When the next ping is due (none while one is outstanding, or with no heartbeat).
    pub fn ping_due(&self, config: &Config) -> Option<Instant> {
        (self.sent_at.is_none() && config.heartbeat != Heartbeat::None).then_some(self.next_at)
    }

    /// A resume or a network change at `now` with a ping outstanding: its answer
    /// must come within [`RESUME_PROBE`] from now.
    pub fn hurry(&mut self, now: Instant) {
        if let Some(sent) = self.sent_at {
            self.wait = self
                .wait
                .min(now.saturating_duration_since(sent) + RESUME_PROBE);
        }
    }
}

/// What the heartbeat keeps across connections.
#[derive(Debug)]
pub(crate) struct Heartbeats {
    /// Round-trip samples.
    pub latency: LatencyTracker,
    /// The peer's clock offset, from ping/pong timestamps.
    pub clock: ClockEstimator,
    /// Whether the offset is beyond [`SKEW_WARN_MS`] (announced on each change).
    pub skewed: bool,
    /// Numbers WebSocket Ping payloads.
    pings: u64,
}

impl Heartbeats {
    /// No samples yet.
    pub fn new(config: &Config) -> Self {
        Heartbeats {
            latency: LatencyTracker::new(config.latency_window),
            clock: ClockEstimator::default(),
            skewed: false,
            pings: 0,
        }
    }

    /// The inbound silence after which the link is dead.
    pub fn idle_limit(config: &Config) -> Duration {
        if config.heartbeat == Heartbeat::None {
            config.heartbeat_interval + config.pong_timeout
        } else {
            config.idle_timeout
        }
    }

    /// Sends a heartbeat ping on `conn` and arms its pong deadline.
    pub fn send(
        &mut self,
        p: &mut Pinger,
        config: &Config,
        conn: ConnId,
        now: Instant,
        out: &mut Outputs,
    ) {
        if config.heartbeat == Heartbeat::None {
            // Liveness from inbound data alone.
            return;
        }
        p.sent_at = Some(now);
        p.next_at = now + config.heartbeat_interval;
        p.wait = config.pong_timeout;
        match &config.heartbeat {
            Heartbeat::Json => out.transmit_control(conn, Envelope::ping().encode()),
            Heartbeat::Custom { ping, .. } => out.transmit_control(conn, ping.clone()),
            Heartbeat::WebSocket => {
                self.pings += 1;
                let payload = self.pings.to_be_bytes();
                p.payload = payload;
                out.act(Action::Ping { conn, payload });
            }
            Heartbeat::None => {}
        }
    }

    /// A WebSocket Pong arrived: with `heartbeat = websocket`, the answer to the
    /// ping whose payload it echoes.
    pub fn ws_pong(
        &mut self,
        p: &mut Pinger,
        config: &Config,
        payload: &[u8],
        now: Instant,
        wall: &WallClock,
        out: &mut Outputs,
    ) {
        if config.heartbeat != Heartbeat::WebSocket || p.payload.as_slice() != payload {
            return;
        }
        if let Some(sent) = p.sent_at.take() {
            self.answered(now, sent, None, wall, out);
        }
    }

    /// Whether `env` answers the heartbeat's ping in a JSON dialect: a custom pong
    /// (`heartbeat = custom`), or the protocol's `pong` (`heartbeat = json`).
    pub fn is_pong(config: &Config, env: &Envelope) -> Option<PongKind> {
        match (&config.heartbeat, &env.payload) {
            (Heartbeat::Custom { pong, .. }, p) => match (pong, p) {
                (PongMatch::Type(t), p) if p.kind() == t => Some(PongKind::Custom),
                (PongMatch::Field { name, value }, Payload::Other(m))
                    if m.get(name) == Some(value) =>
                {
                    Some(PongKind::Custom)
                }
                (_, Payload::Pong) => Some(PongKind::Protocol),
                _ => None,
            },
            (_, Payload::Pong) => Some(PongKind::Protocol),
            _ => None,
        }
    }

    /// A pong arrived at `now`: the round trip of the outstanding ping, if the pong
    /// `answers` it (a custom pong always; the protocol's `pong` with
    /// `heartbeat = json`).
    pub fn pong(
        &mut self,
        p: Option<&mut Pinger>,
        answers: bool,
        stamp: Option<&Timestamp>,
        now: Instant,
        wall: &WallClock,
        out: &mut Outputs,
    ) {
        if let Some(p) = p {
            if let Some(sent) = p.sent_at.take_if(|_| answers) {
                self.answered(now, sent, stamp, wall, out);
            }
        }
    }

    /// A ping sent at `sent` was answered at `now`: a latency sample, and with the
    /// answer's timestamp a clock-offset sample.
    fn answered(
        &mut self,
        now: Instant,
        sent: Instant,
        stamp: Option<&Timestamp>,
        wall: &WallClock,
        out: &mut Outputs,
    ) {
        let rtt = now.saturating_duration_since(sent);
        self.latency.record(rtt);
        out.touch();
        out.emit(Event::Latency(rtt));
        self.note_clock(sent, now, stamp, wall, out);
    }

    /// One more clock-offset sample from a pong's timestamp; announces crossing the
    /// skew threshold.
    fn note_clock(
        &mut self,
        sent: Instant,
        now: Instant,
        stamp: Option<&Timestamp>,
        wall: &WallClock,
        out: &mut Outputs,
    ) {
        let (Some(peer), Some(t0), Some(t1)) = (
            stamp.and_then(Timestamp::unix_ms),
            wall.ms(sent),
            wall.ms(now),
        ) else {
            return;
        };
        self.clock.record(t0, t1, peer);
        if let Some(offset_ms) = self.clock.offset_ms() {
            let skewed = offset_ms.abs() > SKEW_WARN_MS;
            if skewed != self.skewed {
                self.skewed = skewed;
                out.emit(Event::ClockSkew { offset_ms, skewed });
            }
        }
    }
}

/// Which kind of pong a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PongKind {
    /// The answer to a custom ping (`heartbeat = custom`): consumed, never passed on.
    Custom,
    /// The protocol's `pong`: answers the ping with `heartbeat = json`.
    Protocol,
}
