//! The connection: one link's state machine, each concern a part of its own.
//!
//! [`Connection`] holds the [`State`] (`state.rs`, each state's data built by its
//! `enter()`) and one field per concern, each a type in its own file:
//!
//! * `heartbeats` ([`Heartbeats`], `heartbeat.rs`): pings, pongs, latency, the peer's
//!   clock; the live connection's [`Pinger`] sits in its state;
//! * `freshness` ([`Freshness`], `freshness.rs`): stale clocks and the feed's delay;
//! * `outbox` ([`Outbox`], `outbound.rs`): the queue, acknowledgements, subscriptions;
//! * `failover` (`crate::failover`): the endpoint in use and the failback probe;
//! * `stats` (`crate::stats`): the counters;
//! * `out` ([`Outputs`], `outputs.rs`): what waits to be polled.
//!
//! Every deadline is a [`Timer`] (`timers.rs`): [`Connection::poll_timeout`] is the
//! earliest of the [`TimerTable`], and [`Connection::handle_timeout`] hands each
//! expired timer, in [`Timer::ALL`]'s order, to the part that owns it. The
//! transitions (connect, dial, up, fail, drop) are in `lifecycle.rs`, the socket's
//! events (frames in, writes done) in `socket.rs`, the status builder in `status.rs`.
//!
//! # Polling order
//!
//! After any `handle_*` call the driver polls, in this order: every
//! [`Connection::poll_action`] (the network first, so a write is not held up by a
//! slow subscriber), then every [`Connection::poll_event`], then
//! [`Connection::poll_timeout`] to arm its one timer. Outputs come out in the order
//! the core produced them.

mod freshness;
mod heartbeat;
mod lifecycle;
mod outbound;
mod outputs;
mod socket;
mod state;
mod status;
mod timers;

use std::time::{Duration, Instant};

use uplink_proto::{Envelope, Outbound};

use crate::backoff::{Backoff, SplitMix64};
use crate::clock::WallClock;
use crate::config::{Config, ConfigError};
use crate::event::{Action, CommandError, Event, StateKind};
use crate::failover::{BreakerConfig, Failover};
use crate::ids::{ConnId, MessageId};
use crate::latency::LatencySummary;
use crate::redact::Redactor;
use crate::stats::{ErrorKind, Stats};

use freshness::Freshness;
use heartbeat::Heartbeats;
use outbound::Outbox;
use outputs::Outputs;
use state::{Outage, Retry, State};
use timers::{Timer, TimerTable};

pub use freshness::DELAY_SAMPLE_EVERY;
pub use heartbeat::RESUME_PROBE;

/// The connection core. See the crate documentation.
#[derive(Debug)]
pub struct Connection {
    /// Tunables, validated at construction.
    config: Config,
    /// Backoff derived from the config.
    backoff: Backoff,
    /// Jitter source, seeded by the caller.
    rng: SplitMix64,
    /// Where the machine is, with that state's data.
    state: State,
    /// When `state` was entered.
    since: Instant,
    /// Why we are in `state`, for people.
    reason: Option<String>,
    /// Failed attempts since the last stable connection (0 = none).
    attempt: u32,
    /// Id of the last dial.
    next_conn: u64,
    /// Whether a connection has ever been up (a later one counts as a reconnection).
    was_connected: bool,
    /// The outage in progress, if any.
    outage: Option<Outage>,
    /// Counters.
    stats: Stats,
    /// How instants become wall-clock time, set by the driver.
    wall: WallClock,
    /// Removes secrets from every reason and error before anyone sees them.
    redactor: Redactor,
    /// Latency and the peer's clock, across connections.
    heartbeats: Heartbeats,
    /// Stale clocks and the feed's delay, across connections.
    freshness: Freshness,
    /// The queue, acknowledgements and subscriptions, across connections.
    outbox: Outbox,
    /// The endpoint in use and the next, with their breakers.
    failover: Failover,
    /// The URL shown in the status, credentials masked by the driver.
    url: String,
    /// Pending outputs.
    out: Outputs,
}

/// Checks symbols for subscribe/unsubscribe.
pub fn validate_symbols(symbols: &[String]) -> Result<(), CommandError> {
    match symbols.iter().find(|s| !uplink_proto::valid_symbol(s)) {
        Some(bad) => Err(CommandError::InvalidSymbol(bad.clone())),
        None => Ok(()),
    }
}

impl Connection {
    /// A disconnected core. `seed` drives the backoff jitter.
    pub fn new(config: Config, seed: u64, now: Instant) -> Result<Connection, ConfigError> {
        config.validate()?;
        Ok(Connection {
            backoff: backoff(&config),
            rng: SplitMix64::new(seed),
            state: State::Disconnected,
            since: now,
            reason: None,
            attempt: 0,
            next_conn: 0,
            was_connected: false,
            outage: None,
            stats: Stats::default(),
            wall: WallClock::default(),
            redactor: Redactor::default(),
            heartbeats: Heartbeats::new(&config),
            freshness: Freshness::new(&config),
            outbox: Outbox::new(&config),
            failover: Failover::new(config.endpoints, breaker_config(&config)),
            url: String::new(),
            out: Outputs::default(),
            config,
        })
    }

    /// Sets the URL shown in [`Status`](crate::Status) (already masked): the primary's.
    pub fn set_url(&mut self, masked: impl Into<String>) {
        self.url = masked.into();
        self.failover
            .endpoints
            .set_urls(std::slice::from_ref(&self.url));
        self.out.touch();
    }

    /// Sets every endpoint's URL shown in [`Status`](crate::Status) (already masked),
    /// primary first.
    pub fn set_urls(&mut self, masked: &[String]) {
        if let Some(first) = masked.first() {
            self.url.clone_from(first);
        }
        self.failover.endpoints.set_urls(masked);
        self.out.touch();
    }

    /// The endpoint dialing or connected (0 = the primary).
    pub fn endpoint(&self) -> usize {
        self.failover.current
    }

    /// The secrets of the configuration in force (token, proxy passwords, header
    /// values): never shown in a reason, an error or the status.
    pub fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    /// A subscriber was behind and lost `n` price updates (the driver's delivery
    /// policy); counted in the status.
    pub fn note_events_dropped(&mut self, n: u64) {
        self.stats.events_dropped += n;
    }

    /// Tells the core what wall-clock time (Unix ms) `now` is. The driver calls it at
    /// start and every stats tick; timestamps (feed delay, clock offset) are compared
    /// through it.
    pub fn set_wall_clock(&mut self, now: Instant, unix_ms: f64) {
        self.wall.set(now, unix_ms);
    }

    /// Changes whenever something [`Status`](crate::Status) shows changes, apart from
    /// the counters, uptime and countdown that move with time and traffic.
    pub fn status_revision(&self) -> u64 {
        self.out.revision
    }

    /// When the next reconnect attempt dials, while waiting for it.
    pub fn next_retry_at(&self) -> Option<Instant> {
        match self.state {
            State::Reconnecting(Retry::Waiting { at }) => Some(at),
            _ => None,
        }
    }

    /// Why the connection is in its state (last failure, or what the user did).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The current state.
    pub fn state(&self) -> StateKind {
        self.state.kind()
    }

    /// The connection currently dialing or up, if any.
    pub fn current_conn(&self) -> Option<ConnId> {
        self.state.conn()
    }

    /// Latency figures alone (cheaper than a full status).
    pub fn latency(&self) -> LatencySummary {
        self.heartbeats.latency.summary()
    }

    // ------------------------------------------------------------------ outputs

    /// The next thing the driver must do to the network.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.out.actions.pop_front()
    }

    /// The next thing subscribers should hear.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.events.pop_front()
    }

    /// How many events are waiting to be polled.
    pub fn pending_events(&self) -> usize {
        self.out.events.len()
    }

    /// When [`Connection::handle_timeout`] must be called next, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers().next()
    }

    /// Every deadline, each from the part that owns it.
    fn timers(&self) -> TimerTable {
        let mut t = TimerTable::default();
        t.set(Timer::AckTimeout, self.outbox.ack_deadline());
        t.set(Timer::OrderTtl, self.outbox.ttl_deadline(&self.config));
        t.set(Timer::OutageAlert, self.alert_deadline());
        t.set(Timer::DialTimeout, self.state.dialing().map(|d| d.deadline));
        t.set(Timer::RetryDial, self.next_retry_at());
        if let Some(c) = self.state.connected() {
            let subscribed = !self.outbox.subscriptions.is_empty();
            t.set(Timer::PongTimeout, c.ping.pong_deadline());
            t.set(
                Timer::Idle,
                Some(c.last_inbound + Heartbeats::idle_limit(&self.config)),
            );
            t.set(Timer::Stable, c.stable_at);
            t.set(Timer::ProbeTimeout, c.failback.probe_deadline());
            t.set(Timer::Failback, c.failback.due_at());
            t.set(Timer::Stale, c.fresh.deadline(&self.config, subscribed));
            t.set(Timer::Ping, c.ping.ping_due(&self.config));
            t.set(Timer::Flush, self.outbox.flush_deadline(&c.pacing));
        }
        t
    }

    /// When the outage in progress is alerted, while retrying.
    fn alert_deadline(&self) -> Option<Instant> {
        let o = self.outage?;
        let retrying = matches!(self.state, State::Reconnecting(_));
        (retrying && !o.alerted && !self.config.alert_after.is_zero())
            .then(|| o.since + self.config.alert_after)
    }

    /// Time passed: each expired timer, in [`Timer::ALL`]'s order, goes to its part.
    /// A timer that fails the connection ends the round.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in Timer::ALL {
            if self.timers().is_due(timer, now) && self.fire(timer, now).is_break() {
                return;
            }
        }
        // Last, the queue: a paced message due ([`Timer::Flush`]), or one that a
        // handler above made ready.
        self.pump_queue(now);
    }

    /// Hands one expired timer to its part.
    fn fire(&mut self, timer: Timer, now: Instant) -> std::ops::ControlFlow<()> {
        use std::ops::ControlFlow::{Break, Continue};
        let config = &self.config;
        match timer {
            Timer::AckTimeout => self.outbox.acks_overdue(now, &mut self.out),
            Timer::OrderTtl => self.outbox.expire(now, config, &mut self.out),
            Timer::OutageAlert => {
                if let Some(o) = &mut self.outage {
                    o.alerted = true;
                    let down_for = now.saturating_duration_since(o.since);
                    self.out.emit(Event::OutageAlert { down_for });
                    self.out.touch();
                }
            }
            Timer::DialTimeout => {
                let msg = format!(
                    "no connection within {}",
                    fmt_duration(config.connect_timeout)
                );
                self.fail(now, ErrorKind::ConnectTimeout, &msg);
                return Break(());
            }
            Timer::RetryDial => self.dial_retry(now),
            Timer::PongTimeout => {
                let wait = self
                    .state
                    .connected()
                    .map_or(Duration::ZERO, |c| c.ping.wait);
                let msg = format!("no pong within {} of a ping", fmt_duration(wait));
                self.fail(now, ErrorKind::HeartbeatTimeout, &msg);
                return Break(());
            }
            Timer::Idle => {
                let idle = Heartbeats::idle_limit(config);
                let msg = format!("nothing received for {}", fmt_duration(idle));
                self.fail(now, ErrorKind::IdleTimeout, &msg);
                return Break(());
            }
            Timer::Stable => {
                if let Some(c) = self.state.connected_mut() {
                    c.stable_at = None;
                    self.attempt = 0;
                }
            }
            Timer::ProbeTimeout => {
                if let Some(c) = self.state.connected_mut() {
                    if let Some(p) = c.failback.retry_later(now, config.failback_after) {
                        self.out.act(Action::Abort { conn: p.conn });
                    }
                    self.failover.endpoints.on_failure(0, now);
                    self.out.touch();
                }
            }
            Timer::Failback => {
                self.next_conn += 1;
                let conn = ConnId(self.next_conn);
                if let Some(c) = self.state.connected_mut() {
                    c.failback.start(conn, now, config.connect_timeout);
                    self.failover.endpoints.dialing(0, now);
                    self.out.act(Action::Probe { conn, endpoint: 0 });
                }
            }
            Timer::Stale => {
                if let Some(c) = self.state.connected_mut() {
                    c.fresh
                        .begin(now, &self.outbox.subscriptions, &mut self.out);
                }
            }
            Timer::Ping => self.send_ping(now),
            // The queue is pumped at the end of every timeout (handle_timeout).
            Timer::Flush => {}
        }
        Continue(())
    }

    // ------------------------------------------------------------------ commands

    /// Queue a message for the feed. It is written as soon as the connection is up and
    /// everything queued before it has been written.
    /// The message was validated when it was built ([`Outbound`]); `id` names it in the
    /// events about it.
    pub fn handle_send(&mut self, now: Instant, id: MessageId, message: Outbound) {
        self.outbox.send(now, id, message, &mut self.out);
        self.pump_queue(now);
    }

    /// Cancels a queued message before it is written (the window's Cancel on a queued
    /// order). Refused once it is being written or gone.
    pub fn handle_cancel(&mut self, now: Instant, id: MessageId) -> Result<(), CommandError> {
        let _ = now;
        self.outbox.cancel(id, &mut self.out)
    }

    /// Re-sends an order held as unconfirmed (`unacked_orders = hold`), with the same
    /// `client_order_id`: now if connected, else right after the next reconnect.
    pub fn handle_resend(&mut self, now: Instant, id: MessageId) -> Result<(), CommandError> {
        let _ = now;
        let conn = self.state.connected().map(|c| c.conn);
        self.outbox.resend(id, conn, &mut self.out)
    }

    /// Forgets an order held as unconfirmed: it is never re-sent.
    pub fn handle_discard(&mut self, id: MessageId) -> Result<(), CommandError> {
        self.outbox.discard(id, &mut self.out)
    }

    /// The feed URL or token changed: nothing of the old queue goes to the new feed
    /// (every waiting message expires), and orders awaiting acknowledgement from the
    /// old feed are reported unconfirmed, never re-sent to the new one.
    pub fn handle_feed_changed(&mut self, now: Instant) {
        let _ = now;
        self.outbox.feed_changed(&mut self.out);
    }

    /// Add symbols to the subscription set; the new ones are subscribed now if connected,
    /// and all of them after every reconnect.
    pub fn handle_subscribe(
        &mut self,
        now: Instant,
        symbols: &[String],
    ) -> Result<(), CommandError> {
        self.change_subscriptions(now, symbols, true)
    }

    /// Remove symbols from the subscription set.
    pub fn handle_unsubscribe(
        &mut self,
        now: Instant,
        symbols: &[String],
    ) -> Result<(), CommandError> {
        self.change_subscriptions(now, symbols, false)
    }

    /// Replaces the configuration, keeping the queue, the subscriptions and the stats.
    /// A smaller queue drops its oldest messages (reported). Takes effect from the next
    /// deadline; call [`Connection::handle_reconnect`] to apply it to the connection now.
    pub fn handle_config(&mut self, config: Config) -> Result<(), ConfigError> {
        config.validate()?;
        self.backoff = backoff(&config);
        self.out.touch();
        self.outbox.resize(config.queue_size, &mut self.out);
        self.heartbeats.latency.set_capacity(config.latency_window);
        self.failover
            .reconfigure(config.endpoints, breaker_config(&config));
        self.attempt = self.attempt.min(config.max_reconnect_attempts);
        self.config = config;
        Ok(())
    }

    fn change_subscriptions(
        &mut self,
        now: Instant,
        symbols: &[String],
        add: bool,
    ) -> Result<(), CommandError> {
        validate_symbols(symbols)?;
        if add && self.outbox.subscriptions.is_empty() {
            // Staleness counts only while something is subscribed: its clock starts now.
            if let Some(c) = self.state.connected_mut() {
                c.fresh.last_data = c.fresh.last_data.max(now);
            }
        }
        let changed = self.outbox.change_subscriptions(symbols, add);
        if !changed.is_empty() {
            self.out.touch();
        }
        if add {
            self.freshness.subscribed(now, &changed);
        } else {
            self.freshness.unsubscribed(&changed);
        }
        if self.outbox.subscriptions.is_empty() {
            // Nothing subscribed: no prices to be stale.
            if let Some(c) = self.state.connected_mut() {
                c.fresh.end(now, &mut self.out);
            }
        }
        if let (Some(c), false) = (self.state.connected(), changed.is_empty()) {
            let env = if add {
                Envelope::subscribe(changed)
            } else {
                Envelope::unsubscribe(changed)
            };
            self.out.transmit_control(c.conn, env.encode());
        }
        Ok(())
    }

    /// Sends a heartbeat ping on the live connection and arms its pong deadline.
    fn send_ping(&mut self, now: Instant) {
        if let Some(c) = self.state.connected_mut() {
            let conn = c.conn;
            self.heartbeats
                .send(&mut c.ping, &self.config, conn, now, &mut self.out);
        }
    }

    /// Hands the next queued message to the driver if the connection can take it now.
    fn pump_queue(&mut self, now: Instant) {
        if let Some(c) = self.state.connected_mut() {
            let conn = c.conn;
            self.outbox
                .pump(&mut c.pacing, conn, now, &self.config, &mut self.out);
        }
    }
}

/// The backoff the configuration asks for.
fn backoff(c: &Config) -> Backoff {
    Backoff {
        base: c.reconnect_base_delay,
        max: c.reconnect_max_delay,
        jitter: c.jitter,
    }
}

/// The breakers the configuration asks for.
fn breaker_config(c: &Config) -> BreakerConfig {
    BreakerConfig {
        threshold: c.breaker_threshold,
        cooldown: c.breaker_cooldown,
        max_cooldown: c.breaker_max_cooldown.max(c.breaker_cooldown),
    }
}

/// "1.5 s", "200 ms".
fn fmt_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{} s", d.as_secs_f64())
    }
}
