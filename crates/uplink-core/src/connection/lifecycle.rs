//! The transitions of the state machine: the commands that start and stop it
//! (connect, disconnect, reconnect, network back), dialing, coming up, failing,
//! backing off, and tearing a connection down. Each part is told what happened to the connection
//! here; the parts decide the rest.

use std::time::Instant;

use crate::config::Heartbeat;
use crate::connection::heartbeat::RESUME_PROBE;
use crate::connection::state::{Connected, Dialing, Outage, Retry, State};
use crate::connection::Connection;
use crate::event::{Action, Event};
use crate::ids::ConnId;
use crate::stats::ErrorKind;
use crate::status::Toggle;

impl Connection {
    /// Connect, if not already connected or trying to.
    pub fn handle_connect(&mut self, now: Instant) {
        if matches!(self.state, State::Disconnected | State::Error { .. }) {
            self.attempt = 0;
            self.dial_first(now, None);
        }
    }

    /// Disconnect and stay disconnected until told otherwise. The queue is kept.
    pub fn handle_disconnect(&mut self, now: Instant) {
        if matches!(self.state, State::Disconnected) {
            return;
        }
        self.drop_current(now, true, "disconnected by user");
        self.attempt = 0;
        // The user chose this: no outage to alert or recover from.
        self.outage = None;
        self.enter(
            now,
            State::Disconnected,
            Some("disconnected by user".into()),
        );
    }

    /// The Connect/Disconnect control: connects when idle (`disconnected`, `error`),
    /// disconnects otherwise (see [`Toggle::for_state`]).
    pub fn handle_toggle(&mut self, now: Instant) {
        match Toggle::for_state(self.state()) {
            Toggle::Connect => self.handle_connect(now),
            Toggle::Disconnect => self.handle_disconnect(now),
        }
    }

    /// Reconnect now (manual): drop any connection, cancel any backoff, reset the
    /// attempt count and dial at once.
    pub fn handle_reconnect(&mut self, now: Instant) {
        self.drop_current(now, true, "reconnect requested");
        // A person asked: every endpoint gets a fresh chance, from the primary.
        self.failover.endpoints.reset();
        self.attempt = 0;
        self.dial_first(now, Some("reconnect requested".into()));
    }

    /// The network came back or the system resumed from sleep.
    ///
    /// In `error` this re-arms the connection; while waiting to retry it dials at once;
    /// while connected it sends a ping right away, since the link may have died in sleep.
    ///
    /// A rejected credential (`auth`) stays in `error`: a new network does not fix a
    /// wrong token. While connected, the probe ping gets at most [`RESUME_PROBE`] for its
    /// answer, so the state tells the truth within seconds of a resume.
    pub fn handle_network_up(&mut self, now: Instant) {
        match &mut self.state {
            State::Error {
                kind: ErrorKind::Auth,
                ..
            } => return,
            State::Error { .. } => {
                self.attempt = 0;
                self.dial_first(now, Some("network is back".into()));
            }
            State::Reconnecting(Retry::Waiting { at }) => *at = now,
            State::Connected(c) => {
                if c.ping.sent_at.is_none() && self.config.heartbeat != Heartbeat::None {
                    c.ping.next_at = now;
                    self.handle_timeout(now);
                    if let Some(c) = self.state.connected_mut() {
                        c.ping.wait = self.config.pong_timeout.min(RESUME_PROBE);
                    }
                    return;
                }
                // No ping to send: the silence watchdog decides, from now.
                c.ping.hurry(now);
            }
            _ => return,
        }
        self.handle_timeout(now);
    }

    /// The dial `conn` completed its handshake.
    pub fn handle_connected(&mut self, now: Instant, conn: ConnId) {
        if let Some(c) = self.state.connected_mut() {
            if c.failback.is_probe(conn) {
                // The primary answered the failback probe: switch to it.
                c.failback.probe = None;
                self.drop_current(now, true, "failing back to the primary");
                self.failover.current = 0;
                self.up(now, conn);
                return;
            }
        }
        let from_retry = match &self.state {
            State::Connecting(d) if d.conn == conn => false,
            State::Reconnecting(Retry::Dialing(d)) if d.conn == conn => true,
            _ => {
                // A dial we no longer want (e.g. superseded by a manual reconnect).
                self.out.act(Action::Abort { conn });
                return;
            }
        };
        if from_retry || self.was_connected {
            self.stats.reconnections += 1;
        }
        self.up(now, conn);
    }

    /// The dial `conn` failed.
    pub fn handle_connect_failed(
        &mut self,
        now: Instant,
        conn: ConnId,
        kind: ErrorKind,
        message: &str,
    ) {
        if let Some(c) = self.state.connected_mut() {
            if c.failback.is_probe(conn) {
                // The primary is still down: stay on the backup, probe again later.
                c.failback.retry_later(now, self.config.failback_after);
                self.failover.endpoints.on_failure(0, now);
                self.out.touch();
                return;
            }
        }
        if self.state.dialing().is_some_and(|d| d.conn == conn) {
            self.fail(now, kind, message);
        }
    }

    /// The connection `conn` is gone: closed by the server, or a read/write failed.
    pub fn handle_connection_lost(
        &mut self,
        now: Instant,
        conn: ConnId,
        kind: ErrorKind,
        message: &str,
    ) {
        if self.state.connected().is_some_and(|c| c.conn == conn) {
            self.fail(now, kind, message);
        }
    }

    /// The connection `conn` to the current endpoint is up: enter `connected`, then
    /// subscriptions, a ping, the re-sends and the queue.
    pub(super) fn up(&mut self, now: Instant, conn: ConnId) {
        self.was_connected = true;
        self.outbox.queue.requeue_in_flight();
        let endpoint = self.failover.current;
        let switched_from = self.failover.up();
        let connected = Connected::enter(
            conn,
            now,
            &self.config,
            self.attempt > 0,
            !self.outbox.queue.is_empty(),
            endpoint,
        );
        self.freshness.connected(now);
        // A new connection may be another server, with another clock.
        self.heartbeats.clock.reset();
        self.enter(now, State::Connected(connected), None);
        if let Some(from) = switched_from {
            self.out
                .emit(Event::EndpointSwitched { from, to: endpoint });
        }
        if let Some(o) = self.outage.take() {
            self.out.emit(Event::Recovered {
                down_for: now.saturating_duration_since(o.since),
                alerted: o.alerted,
            });
        }
        self.outbox.resubscribe(conn, &mut self.out);
        // A first ping at once: a latency figure from the first second, and a link that
        // accepted the handshake but died right after is caught within the pong deadline.
        self.send_ping(now);
        self.outbox
            .resend_unacked(conn, &self.config, &mut self.out);
        self.pump_queue(now);
    }

    /// Enters `state` at `now`, announcing a change of state.
    pub(super) fn enter(&mut self, now: Instant, state: State, reason: Option<String>) {
        let kind_before = self.state();
        self.state = state;
        self.since = now;
        self.reason = reason.map(|r| self.redactor.clean(&r));
        let kind = self.state();
        self.out.touch();
        if kind != kind_before {
            self.out.emit(Event::StateChanged(kind));
        }
    }

    /// Attempts before giving up: every endpoint gets `max_reconnect_attempts`.
    pub(super) fn max_attempts(&self) -> u32 {
        self.config
            .max_reconnect_attempts
            .saturating_mul(self.failover.endpoints.len() as u32)
    }

    /// The id of a new dial.
    fn new_conn(&mut self) -> ConnId {
        self.next_conn += 1;
        ConnId(self.next_conn)
    }

    /// Dials at once in `connecting` (first attempt, not counted as a retry).
    pub(super) fn dial_first(&mut self, now: Instant, reason: Option<String>) {
        let conn = self.new_conn();
        self.failover.current = 0;
        self.failover.endpoints.dialing(0, now);
        self.out.act(Action::Dial { conn, endpoint: 0 });
        let dialing = Dialing::enter(conn, now, &self.config);
        self.enter(now, State::Connecting(dialing), reason);
    }

    /// The backoff ended: the next attempt dials the next endpoint.
    pub(super) fn dial_retry(&mut self, now: Instant) {
        let conn = self.new_conn();
        self.stats.reconnect_attempts += 1;
        self.state = State::Reconnecting(Retry::Dialing(Dialing::enter(conn, now, &self.config)));
        self.failover.current = self.failover.next;
        let endpoint = self.failover.current;
        self.failover.endpoints.dialing(endpoint, now);
        self.out.act(Action::Dial { conn, endpoint });
        // Same state, but the status changed (dialing, no countdown).
        self.out.touch();
    }

    /// Tears down whatever connection or dial exists, accounting its uptime.
    pub(super) fn drop_current(&mut self, now: Instant, graceful: bool, reason: &'static str) {
        let Some(conn) = self.current_conn() else {
            return;
        };
        if let Some(c) = self.state.connected_mut() {
            if let Some(p) = c.failback.probe.take() {
                self.out.act(Action::Abort { conn: p.conn });
            }
            self.outbox.hold_on_loss(&self.config, &mut self.out);
        }
        if let Some(c) = self.state.connected() {
            self.stats.closed_uptime += now.saturating_duration_since(c.since);
            if graceful {
                self.out.act(Action::Close {
                    conn,
                    code: 1000,
                    reason,
                });
            } else {
                self.out.act(Action::Abort { conn });
            }
        } else {
            self.out.act(Action::Abort { conn });
        }
        self.outbox.queue.requeue_in_flight();
    }

    /// A dial failed or the live connection was lost: record it and decide what next.
    pub(super) fn fail(&mut self, now: Instant, kind: ErrorKind, message: &str) {
        self.report_error(now, kind, message);
        self.failover
            .endpoints
            .on_failure(self.failover.current, now);
        self.outage.get_or_insert(Outage {
            since: now,
            alerted: false,
        });
        self.drop_current(now, false, "");
        if kind.is_fatal() {
            let error = State::Error {
                kind,
                gave_up: false,
            };
            self.enter(now, error, Some(message.to_owned()));
            return;
        }
        self.attempt += 1;
        let max = self.max_attempts();
        let endpoints = self.failover.endpoints.len();
        if self.attempt > max {
            let reason = if endpoints > 1 {
                format!("gave up after {max} attempts on {endpoints} endpoints: {message}")
            } else {
                format!("gave up after {max} attempts: {message}")
            };
            self.attempt = max;
            let error = State::Error {
                kind,
                gave_up: true,
            };
            self.enter(now, error, Some(reason));
            return;
        }
        // With several endpoints, one backoff step per round over all of them: the
        // next endpoint is tried after the same delay as this one was.
        let round = (self.attempt - 1) / endpoints as u32 + 1;
        let backoff = self.backoff.delay(round, self.rng.next_unit());
        let (next, at) = self
            .failover
            .endpoints
            .next_after(self.failover.current, now + backoff);
        self.failover.next = next;
        let delay = at.saturating_duration_since(now);
        let waiting = State::Reconnecting(Retry::Waiting { at });
        self.enter(now, waiting, Some(message.to_owned()));
        self.out.emit(Event::RetryScheduled {
            attempt: self.attempt,
            max_attempts: max,
            delay,
        });
    }

    /// Counts and reports an error, cleaned of the configuration's secrets.
    pub(super) fn report_error(&mut self, now: Instant, kind: ErrorKind, message: &str) {
        let message = &self.redactor.clean(message);
        self.stats.record_error(now, kind, message);
        self.out.touch();
        self.out.emit(Event::Error {
            kind,
            message: message.to_owned(),
        });
    }
}
