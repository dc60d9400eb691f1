//! The one picture of the connection that the engine publishes: [`Status`], and the
//! words people read for it ([`Status::label`], [`Toggle`]). The tray, the window and
//! the CLI all show this text; none of them composes its own.

use serde::Serialize;

use crate::event::StateKind;
use crate::failover::EndpointStatus;
use crate::latency::LatencySummary;
use crate::stats::{ErrorKind, StatsSnapshot};

/// What the single Connect/Disconnect control does in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Toggle {
    /// Idle (`disconnected` or `error`): the control connects.
    Connect,
    /// Connected or trying to be: the control disconnects.
    Disconnect,
}

impl Toggle {
    /// The control's action in `state`: the one home of "idle means Connect".
    pub fn for_state(state: StateKind) -> Toggle {
        match state {
            StateKind::Disconnected | StateKind::Error => Toggle::Connect,
            _ => Toggle::Disconnect,
        }
    }

    /// The text of the control: "Connect" or "Disconnect".
    pub fn label(self) -> &'static str {
        match self {
            Toggle::Connect => "Connect",
            Toggle::Disconnect => "Disconnect",
        }
    }
}

/// One subscribed symbol's freshness.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SymbolHealth {
    /// The symbol.
    pub symbol: String,
    /// When its last update arrived, Unix milliseconds; `None` if none yet.
    pub last_update_unix_ms: Option<u64>,
    /// Seconds since its last update; `None` if none yet.
    pub age_secs: Option<f64>,
    /// Connected, and no update for `stale_after` (counted from its last update, or
    /// from when it was subscribed or the connection opened, whichever is later).
    pub stale: bool,
}

/// The serializable picture of the connection for the UI, the CLI and the tray.
///
/// The engine publishes it (see `uplink_engine::Handle::status`): it is current as of
/// every change of state, attempt, latency, queue, subscriptions or error, and its
/// counters, uptime and countdown are refreshed every stats interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Status {
    /// Current state.
    pub state: StateKind,
    /// Connected, with symbols subscribed, but no data message for `stale_after`:
    /// a health flag on top of the five states (the tray turns amber).
    pub stale: bool,
    /// The headline people read, e.g. "Connected · 12 ms" or
    /// "Reconnecting · attempt 2/10 · next try in 4 s" (see [`Status::label`]).
    pub label: String,
    /// What the Connect/Disconnect control does now.
    pub toggle: Toggle,
    /// Why the connection is in this state (last failure, or what the user did).
    pub reason: Option<String>,
    /// The failure that led to `error` or `reconnecting`.
    pub error_kind: Option<ErrorKind>,
    /// In `error`: the reconnect loop ran out of attempts.
    pub gave_up: bool,
    /// When the current state was entered, Unix milliseconds.
    pub since_unix_ms: u64,
    /// Current reconnect attempt (1-based; 0 when not reconnecting).
    pub attempt: u32,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// When the next attempt dials, Unix milliseconds, while waiting for it. Absolute,
    /// so a snapshot read later still counts down correctly.
    pub next_retry_unix_ms: Option<u64>,
    /// Latency figures.
    pub latency: LatencySummary,
    /// Counters, the outbound queue's depth and drops among them.
    pub stats: StatsSnapshot,
    /// Capacity of the outbound queue.
    pub queue_capacity: usize,
    /// Symbols subscribed to (re-sent after every reconnect).
    pub subscriptions: Vec<String>,
    /// The feed's URL with any credentials masked.
    pub url: String,
    /// Seconds since the last data message (anything but pong, heartbeat or
    /// acknowledgement), from any connection; `None` before the first.
    pub data_age_secs: Option<f64>,
    /// Every subscribed symbol's freshness, by symbol.
    pub symbols: Vec<SymbolHealth>,
    /// When the outage in progress began, Unix milliseconds (lost or failing, not by
    /// the user's choice); `None` when there is none.
    pub down_since_unix_ms: Option<u64>,
    /// The feed's delay (receive time minus the message's timestamp, corrected by the
    /// clock offset), ms, over the last messages that carried a timestamp.
    pub feed_delay: LatencySummary,
    /// The feed's clock minus ours, ms, estimated from ping/pong round trips
    /// (NTP-style); `None` until a pong carried a timestamp.
    pub clock_offset_ms: Option<f64>,
    /// The offset is beyond 2 s either way: delays and timestamps are suspect.
    pub clock_skewed: bool,
    /// The endpoint dialing or in use: 0 is the primary, 1 the first backup, ….
    pub endpoint: usize,
    /// Every endpoint, primary first, with its circuit breaker.
    pub endpoints: Vec<EndpointStatus>,
}

/// The longest reason shown in a label; the full text stays in `reason`.
const LABEL_REASON_MAX: usize = 70;

impl Status {
    /// The headline for a status at wall-clock time `now_unix_ms` (which only matters
    /// for the retry countdown, rounded up to whole seconds).
    pub fn label_at(&self, now_unix_ms: u64) -> String {
        match self.state {
            StateKind::Connected if self.stale => {
                let since_connected = now_unix_ms.saturating_sub(self.since_unix_ms) / 1000;
                let age = self.data_age_secs.map_or(since_connected, |a| a as u64);
                format!("Connected · prices stale {}", fmt_secs(age))
            }
            StateKind::Connected => {
                let mut s = "Connected".to_owned();
                if self.endpoint > 0 {
                    s.push_str(&format!(" · {}", crate::failover::role(self.endpoint)));
                }
                match self.latency.last_ms {
                    Some(ms) if ms < 1.0 => s.push_str(" · <1 ms"),
                    Some(ms) => s.push_str(&format!(" · {} ms", ms.round())),
                    None => {}
                }
                s
            }
            StateKind::Connecting => "Connecting…".to_owned(),
            StateKind::Reconnecting => {
                let mut s = format!(
                    "Reconnecting · attempt {}/{}",
                    self.attempt, self.max_attempts
                );
                if let Some(at) = self.next_retry_unix_ms {
                    let secs = at.saturating_sub(now_unix_ms).div_ceil(1000);
                    s.push_str(&format!(" · next try in {secs} s"));
                }
                if let Some(since) = self.down_since_unix_ms {
                    let down = now_unix_ms.saturating_sub(since) / 1000;
                    s.push_str(&format!(" · down {}", fmt_secs(down)));
                }
                s
            }
            StateKind::Disconnected => "Disconnected".to_owned(),
            StateKind::Error => format!(
                "Error · {}",
                shorten(
                    self.reason.as_deref().unwrap_or("unknown"),
                    LABEL_REASON_MAX
                )
            ),
        }
    }

    /// Recomputes [`Status::label`] for wall-clock time `now_unix_ms` (the countdown
    /// moves while the rest of a snapshot stays true).
    pub fn relabel(&mut self, now_unix_ms: u64) {
        self.label = self.label_at(now_unix_ms);
    }

    /// This status after the engine that published it ended without being asked (a
    /// bug): `error` with `reason`, no retry pending, the toggle on Connect; counters
    /// and the endpoint list stay as last published. Nothing is connected any more,
    /// so nothing claims to be: not stale, no data age. The outage runs from when it
    /// began (or from `now_unix_ms`).
    pub fn engine_stopped(&self, reason: &str, now_unix_ms: u64) -> Status {
        let mut s = Status {
            state: StateKind::Error,
            stale: false,
            toggle: Toggle::for_state(StateKind::Error),
            reason: Some(reason.to_owned()),
            error_kind: None,
            gave_up: false,
            since_unix_ms: now_unix_ms,
            attempt: 0,
            next_retry_unix_ms: None,
            data_age_secs: None,
            down_since_unix_ms: Some(self.down_since_unix_ms.unwrap_or(now_unix_ms)),
            ..self.clone()
        };
        for sym in &mut s.symbols {
            sym.stale = false;
        }
        s.relabel(now_unix_ms);
        s
    }
}

/// "42 s", "2 min 14 s", "1 h 3 min".
pub fn fmt_secs(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min {} s", secs / 60, secs % 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// `s` cut to `max` characters, with an ellipsis when cut.
pub fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_shortened() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }

    #[test]
    fn durations_read_like_people_say_them() {
        assert_eq!(fmt_secs(42), "42 s");
        assert_eq!(fmt_secs(134), "2 min 14 s");
        assert_eq!(fmt_secs(3780), "1 h 3 min");
    }

    #[test]
    fn idle_means_connect() {
        for (s, t) in [
            (StateKind::Disconnected, Toggle::Connect),
            (StateKind::Error, Toggle::Connect),
            (StateKind::Connecting, Toggle::Disconnect),
            (StateKind::Connected, Toggle::Disconnect),
            (StateKind::Reconnecting, Toggle::Disconnect),
        ] {
            assert_eq!(Toggle::for_state(s), t, "{s:?}");
        }
        assert_eq!(Toggle::Connect.label(), "Connect");
    }
}
