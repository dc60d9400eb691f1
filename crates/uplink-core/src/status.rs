//! The one picture of the connection that the engine publishes: [`Status`], and the
//! words people read for it ([`Status::label`], [`Toggle`]). The tray, the window and
//! the CLI all show this text; none of them composes its own.

use serde::Serialize;

use crate::latency::LatencySummary;
use crate::stats::{ErrorKind, StatsSnapshot};
use crate::StateKind;

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
}

/// The longest reason shown in a label; the full text stays in `reason`.
const LABEL_REASON_MAX: usize = 70;

impl Status {
    /// The headline for a status at wall-clock time `now_unix_ms` (which only matters
    /// for the retry countdown, rounded up to whole seconds).
    pub fn label_at(&self, now_unix_ms: u64) -> String {
        match self.state {
            StateKind::Connected => match self.latency.last_ms {
                Some(ms) if ms < 1.0 => "Connected · <1 ms".to_owned(),
                Some(ms) => format!("Connected · {} ms", ms.round()),
                None => "Connected".to_owned(),
            },
            StateKind::Connecting => "Connecting…".to_owned(),
            StateKind::Reconnecting => match self.next_retry_unix_ms {
                Some(at) => format!(
                    "Reconnecting · attempt {}/{} · next try in {} s",
                    self.attempt,
                    self.max_attempts,
                    at.saturating_sub(now_unix_ms).div_ceil(1000)
                ),
                None => format!(
                    "Reconnecting · attempt {}/{}",
                    self.attempt, self.max_attempts
                ),
            },
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
