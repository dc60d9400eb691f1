//! When to raise a desktop notification: the policy, separate from the sending.
//!
//! The notification plugin drops delivery errors and has no rate limiting, so both
//! belong here. Rules:
//! * entering `error` notifies once with the reason (or "gave up after N attempts");
//! * the same kind of failure is not repeated within [`DEDUPE_WINDOW`], so a flapping
//!   link that keeps ending in `error` yields one notification, not one per flap;
//! * at most [`BURST_LIMIT`] notifications per [`BURST_WINDOW`] in total;
//! * recovery is announced (if wanted) only after an outage of at least [`MIN_OUTAGE`];
//! * order fills and rejections (if wanted) once per order;
//! * prices going stale while the link is up, once per stale episode (on by default);
//! * an outage reaching `alert_after` (on by default), and, for an alerted outage, the
//!   feed coming back ("Feed back after 2 min 14 s"); optionally with a sound.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use uplink_engine::proto::{OrderStatus, OrderUpdate};
use uplink_engine::{StateKind, Status};

use crate::settings::NotifySettings;
use uplink_engine::core::redact::escape_and_bound;

/// The same failure is not notified again within this window.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(600);
/// At most this many notifications…
pub const BURST_LIMIT: usize = 4;
/// …within this window.
pub const BURST_WINDOW: Duration = Duration::from_secs(60);
/// Shorter outages are not worth a "recovered" notification.
pub const MIN_OUTAGE: Duration = Duration::from_secs(5);

/// Why a notification is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NoteKind {
    /// Entered `error` (auth, TLS, …).
    Error,
    /// Gave up after the last attempt.
    GaveUp,
    /// Connected again after an outage.
    Recovered,
    /// An order filled.
    OrderFilled,
    /// An order was rejected.
    OrderRejected,
    /// Connected, but no prices for `stale_after`.
    Stale,
    /// Down for `alert_after`.
    Outage,
    /// Back after an alerted outage.
    Back,
    /// Switched to a backup endpoint, or back to the primary.
    Switch,
}

/// One desktop notification.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Why.
    pub kind: NoteKind,
    /// Title line.
    pub title: String,
    /// Body text.
    pub body: String,
    /// Play the desktop's notification sound.
    pub sound: bool,
}

/// The policy's memory.
#[derive(Debug, Default)]
pub struct NotifyPolicy {
    /// The state last seen, to act on transitions only.
    prev: Option<StateKind>,
    /// When the current outage began (left `connected` without the user asking).
    outage_since: Option<Instant>,
    /// When each dedupe key was last notified.
    last_by_key: HashMap<String, Instant>,
    /// Send times within the burst window.
    recent: VecDeque<Instant>,
    /// Orders already notified, by id and outcome (bounded: see [`ORDERS_REMEMBERED`]).
    orders: HashSet<(String, NoteKind)>,
    /// The outage in progress was alerted: its end is announced as [`NoteKind::Back`],
    /// not as an ordinary recovery.
    outage_alerted: bool,
    /// Endpoint switches seen (each gets its own notification).
    switches: u64,
    /// Notifications suppressed since the last one shown.
    suppressed: u64,
}

/// Order outcomes remembered for "once per order"; past this the oldest half is
/// forgotten (an order notified that long ago does not fill twice).
pub const ORDERS_REMEMBERED: usize = 10_000;

impl NotifyPolicy {
    /// A policy that has seen nothing yet.
    pub fn new() -> Self {
        NotifyPolicy::default()
    }

    /// A status update arrived; maybe notify.
    pub fn on_status(
        &mut self,
        now: Instant,
        st: &Status,
        prefs: &NotifySettings,
    ) -> Option<Notification> {
        let prev = self.prev.replace(st.state);
        if prev == Some(st.state) {
            return None;
        }
        match st.state {
            StateKind::Error => {
                self.outage_since.get_or_insert(now);
                let reason = st.reason.clone().unwrap_or_else(|| "unknown error".into());
                let (kind, wanted, title) = if st.gave_up {
                    (
                        NoteKind::GaveUp,
                        prefs.on_give_up,
                        "Uplink gave up reconnecting",
                    )
                } else {
                    (NoteKind::Error, prefs.on_error, "Uplink connection error")
                };
                if !wanted {
                    return None;
                }
                let key = format!("{kind:?}:{:?}", st.error_kind);
                self.gate(now, key, kind, title.into(), reason)
            }
            StateKind::Reconnecting => {
                if prev == Some(StateKind::Connected) {
                    self.outage_since = Some(now);
                }
                None
            }
            StateKind::Connected => {
                let since = self.outage_since.take()?;
                if self.outage_alerted {
                    // Announced by `on_recovered`, with the outage's length.
                    return None;
                }
                let outage = now.saturating_duration_since(since);
                if !prefs.on_recover || outage < MIN_OUTAGE {
                    return None;
                }
                let body = format!("Connection restored after {} s", outage.as_secs());
                self.gate(
                    now,
                    "recovered".into(),
                    NoteKind::Recovered,
                    "Uplink reconnected".into(),
                    body,
                )
            }
            StateKind::Disconnected => {
                self.outage_since = None;
                self.outage_alerted = false;
                None
            }
            StateKind::Connecting => None,
        }
    }

    /// Prices stopped while the link is up (once per stale episode, by the core).
    pub fn on_stale(
        &mut self,
        now: Instant,
        age_secs: f64,
        symbols: &[String],
        prefs: &NotifySettings,
    ) -> Option<Notification> {
        if !prefs.on_stale {
            return None;
        }
        let body = format!(
            "No prices for {} while the feed still answers ({})",
            uplink_engine::core::fmt_secs(age_secs as u64),
            crate::notify::list(symbols, 5)
        );
        let n = self.gate(
            now,
            "stale".into(),
            NoteKind::Stale,
            "Uplink: prices are stale".into(),
            body,
        )?;
        Some(Notification {
            sound: prefs.sound,
            ..n
        })
    }

    /// The feed has been down for `alert_after` (once per outage, by the core).
    pub fn on_outage(
        &mut self,
        now: Instant,
        down_secs: f64,
        prefs: &NotifySettings,
    ) -> Option<Notification> {
        if !prefs.on_outage {
            return None;
        }
        let body = format!(
            "No connection for {}; Uplink keeps retrying",
            uplink_engine::core::fmt_secs(down_secs as u64)
        );
        let n = self.gate(
            now,
            "outage".into(),
            NoteKind::Outage,
            "Uplink: feed down".into(),
            body,
        )?;
        self.outage_alerted = true;
        Some(Notification {
            sound: prefs.sound,
            ..n
        })
    }

    /// Connected again after an outage; announced if the outage was alerted.
    pub fn on_recovered(&mut self, now: Instant, down_secs: f64) -> Option<Notification> {
        if !std::mem::take(&mut self.outage_alerted) {
            return None;
        }
        let body = format!(
            "Feed back after {}",
            uplink_engine::core::fmt_secs(down_secs as u64)
        );
        // Never rate limited away: the trader was told it was down.
        self.recent.push_back(now);
        Some(Notification {
            kind: NoteKind::Back,
            title: "Uplink: feed back".into(),
            body,
            sound: false,
        })
    }

    /// The feed switched endpoints (failover or failback): once per switch.
    pub fn on_switch(
        &mut self,
        now: Instant,
        to: usize,
        url: &str,
        prefs: &NotifySettings,
    ) -> Option<Notification> {
        if !prefs.on_switch {
            return None;
        }
        self.switches += 1;
        let title = if to == 0 {
            "Uplink: back on the primary feed".to_owned()
        } else {
            format!("Uplink: using {}", uplink_engine::core::role(to))
        };
        // A key per switch: each switch is told once, only the burst limit applies.
        let key = format!("switch:{}", self.switches);
        self.gate(
            now,
            key,
            NoteKind::Switch,
            title,
            format!("Connected to {url}"),
        )
    }

    /// An order update arrived; maybe notify.
    pub fn on_order(
        &mut self,
        now: Instant,
        o: &OrderUpdate,
        prefs: &NotifySettings,
    ) -> Option<Notification> {
        let (kind, wanted) = match o.status? {
            OrderStatus::Filled => (NoteKind::OrderFilled, prefs.on_order_fill),
            OrderStatus::Rejected => (NoteKind::OrderRejected, prefs.on_order_reject),
            _ => return None,
        };
        let id = o.id.clone().or_else(|| o.client_order_id.clone())?;
        if self.orders.len() >= ORDERS_REMEMBERED {
            let keep: Vec<_> = self
                .orders
                .iter()
                .skip(ORDERS_REMEMBERED / 2)
                .cloned()
                .collect();
            self.orders = keep.into_iter().collect();
        }
        if !wanted || !self.orders.insert((id.clone(), kind)) {
            return None;
        }
        let side = format!("{:?}", o.side).to_lowercase();
        let (title, body) = match kind {
            NoteKind::OrderFilled => (
                format!("Order filled: {side} {} {}", o.qty, o.symbol),
                match o.avg_price {
                    Some(p) => format!("{id} filled at {p:.2}"),
                    None => format!("{id} filled"),
                },
            ),
            _ => (
                format!("Order rejected: {side} {} {}", o.qty, o.symbol),
                format!("{id}: {}", o.reason.as_deref().unwrap_or("no reason given")),
            ),
        };
        self.gate(now, format!("order:{id}:{kind:?}"), kind, title, body)
    }

    /// Applies the dedupe window and the burst limit.
    fn gate(
        &mut self,
        now: Instant,
        key: String,
        kind: NoteKind,
        title: String,
        body: String,
    ) -> Option<Notification> {
        if self
            .last_by_key
            .get(&key)
            .is_some_and(|t| now.saturating_duration_since(*t) < DEDUPE_WINDOW)
        {
            return None;
        }
        while self
            .recent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= BURST_WINDOW)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= BURST_LIMIT {
            // One log line per burst window, not one per suppressed notification.
            if self.suppressed == 0 {
                tracing::info!(
                    ?kind,
                    "notifications suppressed by the rate limit for a minute"
                );
            }
            self.suppressed += 1;
            return None;
        }
        self.suppressed = 0;
        self.recent.push_back(now);
        // Keys whose window has passed say nothing any more: the map holds only the
        // last DEDUPE_WINDOW's keys, however long the app runs.
        self.last_by_key
            .retain(|_, t| now.saturating_duration_since(*t) < DEDUPE_WINDOW);
        self.last_by_key.insert(key, now);
        // Text from the feed (a rejection reason) reaches the desktop escaped and short.
        Some(Notification {
            kind,
            title: escape_and_bound(&title, 120),
            body: escape_and_bound(&body, 300),
            sound: false,
        })
    }
}

/// "A, B, C and 2 more".
pub(crate) fn list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;
    use uplink_engine::core::{Config, Connection};
    use uplink_engine::proto::Side;
    use uplink_engine::ErrorKind;

    /// Real statuses from a real core, driven through the states.
    struct Link {
        core: Connection,
        now: Instant,
    }

    impl Link {
        fn new() -> Link {
            Link::with_attempts(2)
        }
        fn with_attempts(max_reconnect_attempts: u32) -> Link {
            let now = Instant::now();
            let config = Config {
                max_reconnect_attempts,
                jitter: 0.0,
                ..Config::default()
            };
            Link {
                core: Connection::new(config, 1, now).unwrap(),
                now,
            }
        }
        fn status(&self) -> Status {
            self.core.status(self.now, SystemTime::now())
        }
        fn conn(&self) -> uplink_engine::core::ConnId {
            self.core.current_conn().unwrap()
        }
        fn connect(&mut self) {
            self.core.handle_connect(self.now);
            let c = self.conn();
            self.core.handle_connected(self.now, c);
        }
        fn lose(&mut self) {
            let c = self.conn();
            self.core
                .handle_connection_lost(self.now, c, ErrorKind::ServerClosed, "closed (1001)");
        }
        fn fail_until_error(&mut self) {
            while self.core.state() != StateKind::Error {
                if let Some(t) = self.core.poll_timeout() {
                    self.now = self.now.max(t);
                    self.core.handle_timeout(self.now);
                }
                if let Some(c) = self.core.current_conn() {
                    self.core.handle_connect_failed(
                        self.now,
                        c,
                        ErrorKind::ConnectFailed,
                        "connection refused",
                    );
                }
            }
        }
    }

    fn drive(p: &mut NotifyPolicy, l: &Link, prefs: &NotifySettings) -> Option<Notification> {
        p.on_status(l.now, &l.status(), prefs)
    }

    #[test]
    fn giving_up_notifies_once_with_the_reason() {
        let prefs = NotifySettings::default();
        let mut p = NotifyPolicy::new();
        let mut l = Link::new();
        l.connect();
        assert_eq!(drive(&mut p, &l, &prefs), None);
        l.lose();
        assert_eq!(
            drive(&mut p, &l, &prefs),
            None,
            "reconnecting is not worth a notification"
        );
        l.fail_until_error();
        let n = drive(&mut p, &l, &prefs).expect("notified");
        assert_eq!(n.kind, NoteKind::GaveUp);
        assert_eq!(n.body, "gave up after 2 attempts: connection refused");
        assert_eq!(drive(&mut p, &l, &prefs), None, "same state again: nothing");
    }

    #[test]
    fn a_flapping_link_yields_exactly_one_notification() {
        let prefs = NotifySettings::default();
        let mut p = NotifyPolicy::new();
        let mut l = Link::new();
        let mut sent = 0;
        for _ in 0..20 {
            l.connect();
            sent += usize::from(drive(&mut p, &l, &prefs).is_some());
            l.now += Duration::from_secs(2);
            l.lose();
            sent += usize::from(drive(&mut p, &l, &prefs).is_some());
            l.fail_until_error();
            sent += usize::from(drive(&mut p, &l, &prefs).is_some());
            l.now += Duration::from_secs(10);
        }
        assert_eq!(sent, 1);
    }

    #[test]
    fn recovery_is_announced_only_when_wanted_and_after_a_real_outage() {
        let mut prefs = NotifySettings::default();
        let mut p = NotifyPolicy::new();
        let mut l = Link::with_attempts(10);
        l.connect();
        drive(&mut p, &l, &prefs);
        l.lose();
        drive(&mut p, &l, &prefs);
        l.now += Duration::from_secs(1);
        l.connect_again();
        assert_eq!(drive(&mut p, &l, &prefs), None, "off by default");
        prefs.on_recover = true;
        l.lose();
        drive(&mut p, &l, &prefs);
        l.now += Duration::from_secs(2);
        l.connect_again();
        assert_eq!(
            drive(&mut p, &l, &prefs),
            None,
            "a 2 s blip is not an outage"
        );
        l.lose();
        drive(&mut p, &l, &prefs);
        l.now += Duration::from_secs(30);
        l.connect_again();
        let n = drive(&mut p, &l, &prefs).unwrap();
        assert_eq!(
            (n.kind, n.body.as_str()),
            (NoteKind::Recovered, "Connection restored after 30 s")
        );
    }

    impl Link {
        fn connect_again(&mut self) {
            if let Some(t) = self.core.poll_timeout() {
                self.now = self.now.max(t);
                self.core.handle_timeout(self.now);
            }
            let c = self.conn();
            self.core.handle_connected(self.now, c);
        }
    }

    #[test]
    fn switched_off_kinds_stay_silent_and_bursts_are_capped() {
        let prefs = NotifySettings {
            on_error: false,
            on_give_up: false,
            ..NotifySettings::default()
        };
        let mut p = NotifyPolicy::new();
        let mut l = Link::new();
        l.connect();
        drive(&mut p, &l, &prefs);
        l.lose();
        l.fail_until_error();
        assert_eq!(drive(&mut p, &l, &prefs), None);

        let prefs = NotifySettings {
            on_order_fill: true,
            ..NotifySettings::default()
        };
        let now = Instant::now();
        let mut sent = 0;
        for i in 0..10 {
            let o = OrderUpdate {
                id: Some(format!("ord-{i}")),
                client_order_id: None,
                symbol: "AAPL".into(),
                side: Side::Buy,
                qty: 1.0,
                status: Some(OrderStatus::Filled),
                filled_qty: Some(1.0),
                avg_price: Some(190.0),
                filled_at: None,
                reason: None,
            };
            sent += usize::from(p.on_order(now, &o, &prefs).is_some());
            assert!(p.on_order(now, &o, &prefs).is_none(), "once per order");
        }
        assert_eq!(sent, BURST_LIMIT);
        let later = now + BURST_WINDOW;
        let o = OrderUpdate {
            id: Some("ord-late".into()),
            client_order_id: None,
            symbol: "AAPL".into(),
            side: Side::Sell,
            qty: 3.0,
            status: Some(OrderStatus::Rejected),
            filled_qty: None,
            avg_price: None,
            filled_at: None,
            reason: Some("unknown symbol".into()),
        };
        let n = p.on_order(later, &o, &prefs).unwrap();
        assert_eq!(n.title, "Order rejected: sell 3 AAPL");
        assert_eq!(n.body, "ord-late: unknown symbol");
    }
}

#[cfg(test)]
mod health_tests {
    use super::*;

    #[test]
    fn stale_prices_notify_once_per_episode_and_can_be_switched_off() {
        let prefs = NotifySettings::default();
        let mut p = NotifyPolicy::new();
        let now = Instant::now();
        let syms: Vec<String> = ["AAPL", "MSFT"].map(String::from).to_vec();
        let n = p.on_stale(now, 42.0, &syms, &prefs).unwrap();
        assert_eq!(n.kind, NoteKind::Stale);
        assert_eq!(
            n.body,
            "No prices for 42 s while the feed still answers (AAPL, MSFT)"
        );
        assert!(!n.sound, "no sound unless asked for");
        // A second episode soon after is deduplicated like the others.
        assert!(p
            .on_stale(now + Duration::from_secs(60), 30.0, &syms, &prefs)
            .is_none());
        let off = NotifySettings {
            on_stale: false,
            ..NotifySettings::default()
        };
        assert!(NotifyPolicy::new()
            .on_stale(now, 42.0, &syms, &off)
            .is_none());
    }

    #[test]
    fn an_alerted_outage_announces_its_end_with_its_length() {
        let prefs = NotifySettings {
            sound: true,
            ..NotifySettings::default()
        };
        let mut p = NotifyPolicy::new();
        let now = Instant::now();
        let n = p.on_outage(now, 10.0, &prefs).unwrap();
        assert_eq!((n.kind, n.sound), (NoteKind::Outage, true));
        assert_eq!(n.body, "No connection for 10 s; Uplink keeps retrying");
        let n = p.on_recovered(now, 134.0).unwrap();
        assert_eq!(
            (n.kind, n.body.as_str()),
            (NoteKind::Back, "Feed back after 2 min 14 s")
        );
        // An outage that was not alerted ends quietly.
        assert!(p.on_recovered(now, 3.0).is_none());
    }

    #[test]
    fn lists_are_cut_short() {
        let s: Vec<String> = (1..=7).map(|i| format!("S{i}")).collect();
        assert_eq!(list(&s, 5), "S1, S2, S3, S4, S5 and 2 more");
    }

    #[test]
    fn feed_text_in_a_notification_is_escaped_and_short() {
        let mut p = NotifyPolicy::new();
        let o = OrderUpdate {
            id: Some("o1".into()),
            client_order_id: None,
            symbol: "AAPL".into(),
            side: uplink_engine::proto::Side::Buy,
            qty: 1.0,
            status: Some(OrderStatus::Rejected),
            filled_qty: None,
            avg_price: None,
            filled_at: None,
            reason: Some(format!("no\nforged{}", "x".repeat(1000))),
        };
        let n = p
            .on_order(Instant::now(), &o, &NotifySettings::default())
            .unwrap();
        assert!(n.body.starts_with("o1: no\\nforged"), "{}", n.body);
        assert!(!n.body.contains('\n'));
        assert!(n.body.chars().count() <= 301);
    }

    /// A day of failovers, one every 11 minutes: each is notified (none is within the
    /// dedupe window of the last), and what the policy remembers stays small.
    #[test]
    fn what_is_remembered_for_deduplication_does_not_grow_with_time() {
        let mut p = NotifyPolicy::new();
        let prefs = NotifySettings::default();
        let mut now = Instant::now();
        for i in 0..130 {
            now += Duration::from_secs(11 * 60);
            let to = 1 + i % 2;
            assert!(
                p.on_switch(now, to, "ws://backup", &prefs).is_some(),
                "switch {i}"
            );
        }
        assert_eq!(p.last_by_key.len(), 1, "only the last window's key");
    }
}
