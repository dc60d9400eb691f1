//! The machine's states, each with only the data it needs, each built by its own
//! `enter()`. The transitions between them are the connection's (`mod.rs` and
//! `lifecycle.rs`).

use std::time::Instant;

use crate::config::Config;
use crate::connection::freshness::Staleness;
use crate::connection::heartbeat::Pinger;
use crate::connection::outbound::Pacing;
use crate::event::StateKind;
use crate::failover::Failback;
use crate::ids::ConnId;
use crate::stats::ErrorKind;

/// A dial in progress.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialing {
    /// The id the driver will report back.
    pub conn: ConnId,
    /// When the dial is abandoned.
    pub deadline: Instant,
}

impl Dialing {
    /// Dial `conn` at `now`, abandoned after `connect_timeout`.
    pub fn enter(conn: ConnId, now: Instant, config: &Config) -> Dialing {
        Dialing {
            conn,
            deadline: now + config.connect_timeout,
        }
    }
}

/// Everything that exists only while connected: each part's data for this connection.
#[derive(Debug)]
pub(crate) struct Connected {
    /// The live connection.
    pub conn: ConnId,
    /// When the handshake completed.
    pub since: Instant,
    /// When the attempt counter resets, if it needs to.
    pub stable_at: Option<Instant>,
    /// Last moment anything arrived.
    pub last_inbound: Instant,
    /// The heartbeat: the ping in flight and the next.
    pub ping: Pinger,
    /// The pacing of a backlog from before this connection.
    pub pacing: Pacing,
    /// The stale clock of this connection.
    pub fresh: Staleness,
    /// On a backup: when to probe the primary, and the probe.
    pub failback: Failback,
}

impl Connected {
    /// Connection `conn` to `endpoint` opened at `now`. After failed attempts it must
    /// stay up `min_uptime` before the count resets; a queue holding a backlog is
    /// flushed paced.
    pub fn enter(
        conn: ConnId,
        now: Instant,
        config: &Config,
        after_failures: bool,
        backlog: bool,
        endpoint: usize,
    ) -> Connected {
        Connected {
            conn,
            since: now,
            stable_at: after_failures.then_some(now + config.min_uptime),
            last_inbound: now,
            ping: Pinger::enter(now, config),
            pacing: Pacing::enter(now, backlog),
            fresh: Staleness::enter(now),
            failback: Failback::enter(now, endpoint, config.failback_after),
        }
    }
}

/// Waiting for the next attempt, or dialing it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Retry {
    /// Backoff running.
    Waiting {
        /// When the attempt dials.
        at: Instant,
    },
    /// The attempt is dialing.
    Dialing(Dialing),
}

/// The machine's state, each with only the data that state needs.
#[derive(Debug)]
pub(crate) enum State {
    /// No connection, none wanted.
    Disconnected,
    /// The first dial.
    Connecting(Dialing),
    /// Up.
    Connected(Connected),
    /// Lost: waiting for the next attempt, or dialing it.
    Reconnecting(Retry),
    /// Gave up, or a failure retrying cannot fix.
    Error {
        /// What the last failure was.
        kind: ErrorKind,
        /// Whether the reconnect loop ran out of attempts (as opposed to a fatal failure).
        gave_up: bool,
    },
}

impl State {
    /// The state's name.
    pub fn kind(&self) -> StateKind {
        match self {
            State::Disconnected => StateKind::Disconnected,
            State::Connecting(_) => StateKind::Connecting,
            State::Connected(_) => StateKind::Connected,
            State::Reconnecting(_) => StateKind::Reconnecting,
            State::Error { .. } => StateKind::Error,
        }
    }

    /// The connection dialing or up, if any.
    pub fn conn(&self) -> Option<ConnId> {
        match self {
            State::Connecting(d) | State::Reconnecting(Retry::Dialing(d)) => Some(d.conn),
            State::Connected(c) => Some(c.conn),
            _ => None,
        }
    }

    /// The dial in progress, if any.
    pub fn dialing(&self) -> Option<&Dialing> {
        match self {
            State::Connecting(d) | State::Reconnecting(Retry::Dialing(d)) => Some(d),
            _ => None,
        }
    }

    /// The live connection's data, if connected.
    pub fn connected(&self) -> Option<&Connected> {
        match self {
            State::Connected(c) => Some(c),
            _ => None,
        }
    }

    /// The live connection's data, if connected.
    pub fn connected_mut(&mut self) -> Option<&mut Connected> {
        match self {
            State::Connected(c) => Some(c),
            _ => None,
        }
    }
}

/// A connection lost or failing, not by the user's choice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outage {
    /// When it began (the first failure).
    pub since: Instant,
    /// Whether the outage alert was raised for it.
    pub alerted: bool,
}
