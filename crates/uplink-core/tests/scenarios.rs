//! Scenario tests of the pure core: explicit instants, no sockets, no sleeping.
//! Each test tells one story of a trader's connection.

use std::time::{Duration, Instant, SystemTime};

use uplink_core::proto::{Envelope, Outbound, Payload};
use uplink_core::{Action, Config, ConnId, Connection, ErrorKind, Event, MessageId, StateKind};

const MS: Duration = Duration::from_millis(1);
const SEC: Duration = Duration::from_secs(1);

/// A core plus a clock we move by hand, and a record of what it asked for.
struct World {
    core: Connection,
    now: Instant,
    /// Actions taken out of the core by a helper, still to be seen by the test.
    held: Vec<Action>,
}

impl World {
    /// A core with `config`, less the early outage alert: its deadline would be one
    /// more stop for `run_to_next_timeout` in stories about backoff. The alert's own
    /// stories use [`World::with_alerts`].
    fn new(config: Config) -> World {
        World::with_alerts(Config {
            alert_after: Duration::ZERO,
            ..config
        })
    }

    /// A core with `config` exactly as given.
    fn with_alerts(config: Config) -> World {
        let now = Instant::now();
        World {
            core: Connection::new(config, 42, now).unwrap(),
            now,
            held: Vec::new(),
        }
    }

    /// Seed defaults without jitter, so delays are exact.
    fn exact() -> World {
        World::new(Config {
            jitter: 0.0,
            ..Config::default()
        })
    }

    fn actions(&mut self) -> Vec<Action> {
        let mut out = std::mem::take(&mut self.held);
        out.extend(std::iter::from_fn(|| self.core.poll_action()));
        out
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.core.poll_event()).collect()
    }

    /// Moves the clock to the next deadline and fires it; returns how far it moved.
    fn run_to_next_timeout(&mut self) -> Duration {
        let at = self.core.poll_timeout().expect("a deadline is pending");
        let waited = at.saturating_duration_since(self.now);
        self.now = at;
        self.core.handle_timeout(self.now);
        waited
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(at) = self.core.poll_timeout() {
            if at > end {
                break;
            }
            self.now = self.now.max(at);
            self.core.handle_timeout(self.now);
        }
        self.now = end;
        self.core.handle_timeout(self.now);
    }

    /// Expects exactly one Dial among the pending actions and returns its id.
    fn expect_dial(&mut self) -> ConnId {
        let dials: Vec<ConnId> = self
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Dial { conn, .. } => Some(conn),
                _ => None,
            })
            .collect();
        assert_eq!(dials.len(), 1, "expected one dial, got {dials:?}");
        dials[0]
    }

    /// Connects from scratch, answers the first ping as a healthy server does, and
    /// drains the events; other actions stay for the test to see.
    fn connected(&mut self) -> ConnId {
        self.core.handle_connect(self.now);
        let conn = self.expect_dial();
        self.core.handle_connected(self.now, conn);
        let mut pinged = false;
        for a in std::iter::from_fn(|| self.core.poll_action()).collect::<Vec<_>>() {
            match &a {
                Action::Transmit { text, .. } if text == PING => pinged = true,
                _ => self.held.push(a),
            }
        }
        assert!(pinged, "a ping goes out right after the handshake");
        self.core.handle_text(self.now, conn, r#"{"type":"pong"}"#);
        self.events();
        conn
    }

    /// Queues `order(n)` under the id `n`.
    fn send(&mut self, n: u32) {
        let msg = Outbound::json(order(n)).unwrap();
        self.core.handle_send(self.now, MessageId(n.into()), msg);
    }

    /// Milliseconds until the next reconnect attempt, while waiting for one.
    fn next_retry_ms(&self) -> Option<u64> {
        let at = self.core.next_retry_at()?;
        Some(at.saturating_duration_since(self.now).as_millis() as u64)
    }

    /// The texts of pending Transmit actions, with their message ids.
    fn transmits(&mut self) -> Vec<(Option<u64>, String)> {
        self.actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Transmit { id, text, .. } => Some((id.map(|i| i.0), text)),
                _ => None,
            })
            .collect()
    }

    fn status(&self) -> uplink_core::Status {
        self.core.status(self.now, SystemTime::now())
    }
}

const PING: &str = r#"{"type":"ping"}"#;

fn order(n: u32) -> String {
    format!(r#"{{"type":"order","data":{{"symbol":"AAPL","side":"buy","qty":{n}}}}}"#)
}

#[test]
fn backoff_doubles_to_the_cap_then_gives_up_after_max_attempts() {
    let mut w = World::exact();
    w.core.handle_connect(w.now);
    let mut conn = w.expect_dial();
    let mut waits = Vec::new();
    for _ in 0..10 {
        w.core
            .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "connection refused");
        assert_eq!(w.core.state(), StateKind::Reconnecting);
        waits.push(w.run_to_next_timeout().as_secs());
        conn = w.expect_dial();
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
    assert_eq!(w.status().attempt, 10);

    // The tenth retry fails too: give up, and stop scheduling anything.
    w.core
        .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "connection refused");
    assert_eq!(w.core.state(), StateKind::Error);
    let st = w.status();
    assert!(st.gave_up);
    assert_eq!(
        st.reason.as_deref(),
        Some("gave up after 10 attempts: connection refused")
    );
    assert_eq!(st.stats.reconnect_attempts, 10);
    assert_eq!(st.stats.errors_by_kind[&ErrorKind::ConnectFailed], 11);
    assert_eq!(w.core.poll_timeout(), None);
}

#[test]
fn jitter_spreads_delays_within_twenty_percent_and_is_reproducible() {
    let delays = |seed: u64| {
        let now = Instant::now();
        let config = Config {
            alert_after: Duration::ZERO,
            ..Config::default()
        };
        let mut core = Connection::new(config, seed, now).unwrap();
        core.handle_connect(now);
        let mut t = now;
        let mut out = Vec::new();
        for attempt in 1..=10u32 {
            let conn = core.current_conn().unwrap();
            core.handle_connect_failed(t, conn, ErrorKind::ConnectFailed, "refused");
            let at = core.poll_timeout().unwrap();
            let d = (at - t).as_secs_f64();
            let nominal = 2f64.powi(attempt as i32 - 1).min(60.0);
            assert!(
                d >= nominal * 0.8 - 1e-6 && d <= (nominal * 1.2).min(60.0) + 1e-6,
                "attempt {attempt}: {d}"
            );
            out.push(d);
            t = at;
            core.handle_timeout(t);
        }
        out
    };
    assert_eq!(delays(1), delays(1), "same seed, same delays");
    assert_ne!(delays(1), delays(2), "different seeds spread clients");
}

#[test]
fn manual_reconnect_cancels_backoff_and_resets_the_attempt_count() {
    let mut w = World::exact();
    w.core.handle_connect(w.now);
    let mut conn = w.expect_dial();
    for _ in 0..4 {
        w.core
            .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
        w.run_to_next_timeout();
        conn = w.expect_dial();
    }
    w.core
        .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
    assert_eq!(w.status().attempt, 5);
    assert_eq!(w.next_retry_ms(), Some(16_000));

    // The trader clicks "Reconnect now": a dial at once, no backoff, counter reset.
    w.core.handle_reconnect(w.now);
    let conn = w.expect_dial();
    assert_eq!(w.core.state(), StateKind::Connecting);
    assert_eq!(w.status().attempt, 0);
    assert_eq!(
        w.core.poll_timeout(),
        Some(w.now + 10 * SEC),
        "only the connect deadline remains"
    );

    // If that dial fails too, the backoff starts again from the base delay.
    w.core
        .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
    assert_eq!(w.run_to_next_timeout(), SEC);
}

#[test]
fn a_flapping_server_walks_the_backoff_up_instead_of_storming() {
    let mut w = World::exact();
    let mut conn = w.connected();
    let mut waits = Vec::new();
    // Each connection is accepted, then dropped after one second (< min_uptime of 5 s).
    for _ in 0..10 {
        w.advance(SEC);
        w.core
            .handle_connection_lost(w.now, conn, ErrorKind::ServerClosed, "server closed (1001)");
        if w.core.state() == StateKind::Error {
            break;
        }
        waits.push(w.run_to_next_timeout().as_secs());
        conn = w.expect_dial();
        w.core.handle_connected(w.now, conn);
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]);
    w.advance(SEC);
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::ServerClosed, "server closed (1001)");
    assert_eq!(w.core.state(), StateKind::Error);
    assert!(w.status().gave_up);
    assert_eq!(w.status().stats.reconnections, 10);
}

#[test]
fn a_connection_that_stays_up_min_uptime_resets_the_attempts() {
    let mut w = World::exact();
    let conn = w.connected();
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    w.run_to_next_timeout();
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    w.core
        .handle_connection_lost(w.now + SEC, conn, ErrorKind::Io, "reset");
    w.now += SEC;
    assert_eq!(w.run_to_next_timeout(), 2 * SEC, "second attempt: 2 s");
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    // Up for 5 s: the counter resets, so the next loss starts again at 1 s.
    w.advance(5 * SEC);
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    assert_eq!(w.status().attempt, 1);
    assert_eq!(w.run_to_next_timeout(), SEC);
}

#[test]
fn a_half_open_link_is_detected_by_the_pong_deadline() {
    let mut w = World::exact();
    let t0 = w.now;
    let conn = w.connected();

    // 30 s in: a ping. It is answered 12 ms later: a latency sample.
    assert_eq!(w.run_to_next_timeout(), 30 * SEC);
    assert_eq!(w.transmits(), [(None, r#"{"type":"ping"}"#.to_string())]);
    w.now += 12 * MS;
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"pong","timestamp":"2025-01-01T12:00:00Z"}"#,
    );
    assert_eq!(w.events(), [Event::Latency(12 * MS)]);
    assert_eq!(w.status().latency.last_ms, Some(12.0));

    // The next ping goes unanswered: the link is declared dead 10 s later.
    w.run_to_next_timeout();
    assert_eq!(w.transmits().len(), 1);
    let sent = w.now;
    w.run_to_next_timeout();
    assert_eq!(w.now - sent, 10 * SEC);
    assert!(w.now - t0 <= 30 * SEC + 12 * MS + 30 * SEC + 10 * SEC);
    assert_eq!(w.core.state(), StateKind::Reconnecting);
    assert!(
        w.actions().contains(&Action::Abort { conn }),
        "the dead socket is dropped"
    );
    let ev = w.events();
    assert!(ev.contains(&Event::Error {
        kind: ErrorKind::HeartbeatTimeout,
        message: "no pong within 10 s of a ping".into()
    }));
}

#[test]
fn the_silence_watchdog_drops_a_link_that_says_nothing() {
    // A pong deadline longer than the watchdog isolates the watchdog.
    let mut w = World::new(Config {
        jitter: 0.0,
        heartbeat_interval: 30 * SEC,
        pong_timeout: 50 * SEC,
        idle_timeout: 40 * SEC,
        ..Config::default()
    });
    let conn = w.connected();
    // Inbound traffic keeps it alive...
    w.advance(25 * SEC);
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"update","data":{"symbol":"A","price":1}}"#,
    );
    w.advance(39 * SEC);
    assert_eq!(w.core.state(), StateKind::Connected);
    // ...and 40 s of silence kills it.
    w.advance(SEC);
    assert_eq!(w.core.state(), StateKind::Reconnecting);
    assert_eq!(w.status().stats.errors_by_kind[&ErrorKind::IdleTimeout], 1);
}

#[test]
fn protocol_level_frames_also_prove_liveness() {
    let mut w = World::new(Config {
        pong_timeout: 50 * SEC,
        idle_timeout: 40 * SEC,
        ..Config::default()
    });
    let conn = w.connected();
    // Without inbound traffic the 40 s watchdog would fire; protocol frames every 20 s
    // keep it quiet (the unanswered app ping at 30 s only expires at 80 s).
    for _ in 0..3 {
        w.advance(20 * SEC);
        w.core.handle_control_frame(w.now, conn, 0);
    }
    assert_eq!(w.core.state(), StateKind::Connected);
    w.advance(19 * SEC);
    assert_eq!(w.core.state(), StateKind::Connected);
}

#[test]
fn overflow_drops_the_oldest_and_reports_every_drop() {
    let mut w = World::new(Config {
        queue_size: 3,
        ..Config::default()
    });
    for n in 0..5 {
        w.send(n);
    }
    let drops: Vec<(String, u64)> = w
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::QueueDropped { id, total } => Some((order(id.0 as u32), total)),
            _ => None,
        })
        .collect();
    assert_eq!(drops, [(order(0), 1), (order(1), 2)]);
    let st = w.status();
    assert_eq!((st.stats.queue_depth, st.stats.queue_dropped), (3, 2));
}

#[test]
fn after_reconnect_subscriptions_go_first_then_the_queue_in_order_and_paced() {
    let mut w = World::new(Config {
        flush_interval: 20 * MS,
        ..Config::default()
    });
    w.core
        .handle_subscribe(w.now, &["MSFT".into(), "AAPL".into(), "MSFT".into()])
        .unwrap();
    for n in 0..3 {
        w.send(n);
    }
    assert!(
        w.actions().is_empty(),
        "nothing is written while disconnected"
    );

    w.core.handle_connect(w.now);
    let conn = w.expect_dial();
    let t = w.now;
    w.core.handle_connected(w.now, conn);
    let first = w.transmits();
    assert_eq!(
        first,
        [
            (
                None,
                r#"{"type":"subscribe","data":{"symbols":["AAPL","MSFT"]}}"#.to_string()
            ),
            (None, PING.to_string()),
            (Some(0), order(0)),
        ]
    );
    let mut sent_at = vec![(0u64, t)];
    w.core.handle_written(w.now, conn, None, 10);
    for _ in 0..2 {
        let seq = sent_at.last().unwrap().0;
        w.core.handle_written(w.now, conn, Some(MessageId(seq)), 10);
        assert!(
            w.transmits().is_empty(),
            "paced: nothing before the interval"
        );
        w.run_to_next_timeout();
        let tx = w.transmits();
        assert_eq!(tx.len(), 1);
        let seq = tx[0].0.unwrap();
        assert_eq!(tx[0].1, order(seq as u32));
        sent_at.push((seq, w.now));
    }
    let gaps: Vec<Duration> = sent_at.windows(2).map(|p| p[1].1 - p[0].1).collect();
    assert_eq!(gaps, [20 * MS, 20 * MS]);
    w.core.handle_written(w.now, conn, Some(MessageId(2)), 10);
    assert_eq!(w.status().stats.queue_depth, 0);
    // The backlog is gone: new messages go out at once.
    w.send(9);
    assert_eq!(w.transmits(), [(Some(9), order(9))]);
}

#[test]
fn a_message_in_flight_when_the_link_dies_is_sent_again_once() {
    let mut w = World::exact();
    let conn = w.connected();
    w.send(1);
    w.send(2);
    assert_eq!(w.transmits(), [(Some(1), order(1))]);
    // The write fails: the socket is gone before order 1 was accepted.
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "broken pipe");
    // A late confirmation about the dead connection changes nothing.
    w.core.handle_written(w.now, conn, Some(MessageId(1)), 10);
    assert_eq!(w.status().stats.queue_depth, 2);

    w.run_to_next_timeout();
    let conn2 = w.expect_dial();
    w.core.handle_connected(w.now, conn2);
    let mut delivered = Vec::new();
    loop {
        let tx = w.transmits();
        if tx.is_empty() {
            if w.core.poll_timeout().is_some_and(|t| t <= w.now + SEC)
                && w.status().stats.queue_depth > 0
            {
                w.run_to_next_timeout();
                continue;
            }
            break;
        }
        for (seq, text) in tx {
            if seq.is_some() {
                delivered.push(text);
            }
            w.core.handle_written(w.now, conn2, seq.map(MessageId), 10);
        }
    }
    assert_eq!(
        delivered,
        [order(1), order(2)],
        "in order, each exactly once"
    );
}

#[test]
fn subscriptions_are_deduplicated_and_diffed_while_connected() {
    let mut w = World::exact();
    let conn = w.connected();
    w.core
        .handle_subscribe(w.now, &["AAPL".into(), "AAPL".into()])
        .unwrap();
    w.core
        .handle_subscribe(w.now, &["AAPL".into(), "TSLA".into()])
        .unwrap();
    w.core
        .handle_unsubscribe(w.now, &["AAPL".into(), "NOPE".into()])
        .unwrap();
    w.core.handle_unsubscribe(w.now, &["AAPL".into()]).unwrap();
    let texts: Vec<String> = w.transmits().into_iter().map(|t| t.1).collect();
    assert_eq!(
        texts,
        [
            r#"{"type":"subscribe","data":{"symbols":["AAPL"]}}"#,
            r#"{"type":"subscribe","data":{"symbols":["TSLA"]}}"#,
            r#"{"type":"unsubscribe","data":{"symbols":["AAPL"]}}"#,
        ]
    );
    // After a reconnect the whole set, once.
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    w.run_to_next_timeout();
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    assert_eq!(
        w.transmits(),
        [
            (
                None,
                r#"{"type":"subscribe","data":{"symbols":["TSLA"]}}"#.to_string()
            ),
            (None, PING.to_string())
        ]
    );
    assert!(w
        .core
        .handle_subscribe(w.now, &["bad symbol".into()])
        .is_err());
    assert!(w.core.handle_subscribe(w.now, &["".into()]).is_err());
}

#[test]
fn an_auth_failure_goes_straight_to_error_and_waits_for_a_person() {
    let mut w = World::exact();
    w.core.handle_connect(w.now);
    let conn = w.expect_dial();
    w.core.handle_connect_failed(
        w.now,
        conn,
        ErrorKind::Auth,
        "authentication failed: HTTP 401 Unauthorized",
    );
    assert_eq!(w.core.state(), StateKind::Error);
    let st = w.status();
    assert_eq!(st.error_kind, Some(ErrorKind::Auth));
    assert!(!st.gave_up);
    assert_eq!(
        w.core.poll_timeout(),
        None,
        "no retry loop against an auth wall"
    );
    w.actions();
    w.advance(3600 * SEC);
    assert!(w.actions().is_empty());
    // A new network does not fix a wrong token: network-up and resume leave it be.
    w.core.handle_network_up(w.now);
    assert!(w.actions().is_empty());
    assert_eq!(w.core.state(), StateKind::Error);
    // A person does: a manual reconnect dials.
    w.core.handle_reconnect(w.now);
    w.expect_dial();
    assert_eq!(w.core.state(), StateKind::Connecting);
}

#[test]
fn after_a_resume_the_probe_tells_the_truth_within_two_seconds() {
    let mut w = World::exact();
    let conn = w.connected();
    w.now += 5 * SEC;
    // The machine slept; the link may be dead although nothing said so.
    w.core.handle_network_up(w.now);
    assert!(
        w.transmits().iter().any(|(_, t)| t == PING),
        "a probe at once"
    );
    let t0 = w.now;
    w.run_to_next_timeout();
    assert_eq!(w.now - t0, 2 * SEC, "not the 10 s pong deadline");
    assert_eq!(w.core.state(), StateKind::Reconnecting);
    assert_eq!(w.status().error_kind, Some(ErrorKind::HeartbeatTimeout));
    let _ = conn;
}

#[test]
fn network_back_skips_the_remaining_backoff() {
    let mut w = World::exact();
    let conn = w.connected();
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    for _ in 0..5 {
        w.run_to_next_timeout();
        let c = w.expect_dial();
        w.core
            .handle_connect_failed(w.now, c, ErrorKind::ConnectFailed, "unreachable");
    }
    assert_eq!(w.next_retry_ms(), Some(32_000));
    w.core.handle_network_up(w.now);
    w.expect_dial();
    assert_eq!(w.core.state(), StateKind::Reconnecting);
}

#[test]
fn resume_from_sleep_probes_a_connected_link_at_once() {
    let mut w = World::exact();
    let conn = w.connected();
    w.advance(5 * SEC);
    w.core.handle_network_up(w.now);
    assert_eq!(w.transmits(), [(None, r#"{"type":"ping"}"#.into())]);
    w.advance(10 * SEC);
    assert_eq!(
        w.core.state(),
        StateKind::Reconnecting,
        "no pong after sleep: dead"
    );
    let _ = conn;
}

#[test]
fn malformed_messages_are_counted_and_the_connection_kept() {
    let mut w = World::exact();
    let conn = w.connected();
    w.core.handle_text(w.now, conn, "{not json");
    w.core
        .handle_text(w.now, conn, r#"{"type":"update","data":{"price":1}}"#);
    w.core.handle_binary(
        w.now,
        conn,
        br#"{"type":"update","data":{"symbol":"A","price":2}}"#,
    );
    let ev = w.events();
    assert_eq!(ev.len(), 3);
    assert!(
        matches!(&ev[0], Event::Error { kind: ErrorKind::MalformedMessage, message } if message.starts_with("malformed message"))
    );
    // JSON whose body does not fit its type is passed on raw and counted, not
    // rejected: only text that is not JSON is malformed.
    assert!(matches!(&ev[1], Event::Message(m) if m.is_unexpected()));
    assert!(
        matches!(&ev[2], Event::Message(m) if matches!(&m.payload, Payload::Update(u) if u.price == 2.0))
    );
    let st = w.status();
    assert_eq!(st.state, StateKind::Connected);
    assert_eq!(st.stats.malformed_messages, 1);
    assert_eq!(st.stats.unexpected_messages, 1);
    assert_eq!(
        st.stats.messages_received, 4,
        "three frames and the first pong"
    );
}

#[test]
fn feed_errors_are_reported_and_passed_on() {
    let mut w = World::exact();
    let conn = w.connected();
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"error","data":{"code":"UNKNOWN_SYMBOL","message":"no such symbol: ZZZ"}}"#,
    );
    let ev = w.events();
    assert_eq!(
        ev[0],
        Event::Error {
            kind: ErrorKind::ServerError,
            message: "feed error UNKNOWN_SYMBOL: no such symbol: ZZZ".into()
        }
    );
    assert!(matches!(
        &ev[1],
        Event::Message(Envelope {
            payload: Payload::Error(_),
            ..
        })
    ));
    assert_eq!(w.core.state(), StateKind::Connected);
}

#[test]
fn events_from_an_old_connection_are_ignored() {
    let mut w = World::exact();
    let old = w.connected();
    w.core.handle_reconnect(w.now);
    let acts = w.actions();
    assert!(acts.contains(&Action::Close {
        conn: old,
        code: 1000,
        reason: "reconnect requested"
    }));
    let new = match acts.last() {
        Some(Action::Dial { conn, .. }) => *conn,
        other => panic!("expected a dial, got {other:?}"),
    };
    w.core.handle_text(
        w.now,
        old,
        r#"{"type":"update","data":{"symbol":"A","price":1}}"#,
    );
    w.core
        .handle_connection_lost(w.now, old, ErrorKind::ServerClosed, "closed");
    assert_eq!(w.core.state(), StateKind::Connecting);
    w.core.handle_connected(w.now, new);
    assert_eq!(w.core.state(), StateKind::Connected);
    assert_eq!(
        w.status().stats.messages_received,
        1,
        "only the first pong, not the stale update"
    );
    assert_eq!(w.status().stats.reconnections, 1);
}

#[test]
fn disconnect_closes_cleanly_keeps_the_queue_and_schedules_nothing() {
    let mut w = World::exact();
    let conn = w.connected();
    w.advance(3 * SEC);
    w.core.handle_disconnect(w.now);
    assert!(w.actions().contains(&Action::Close {
        conn,
        code: 1000,
        reason: "disconnected by user"
    }));
    assert_eq!(w.core.state(), StateKind::Disconnected);
    assert_eq!(w.core.poll_timeout(), None);
    w.send(1);
    let st = w.status();
    assert_eq!(st.stats.queue_depth, 1);
    assert_eq!(st.stats.total_uptime_secs, 3.0);
    assert_eq!(st.reason.as_deref(), Some("disconnected by user"));
}

#[test]
fn a_dial_that_hangs_times_out_into_the_backoff() {
    let mut w = World::new(Config {
        jitter: 0.0,
        connect_timeout: 2 * SEC,
        ..Config::default()
    });
    w.core.handle_connect(w.now);
    let conn = w.expect_dial();
    assert_eq!(w.run_to_next_timeout(), 2 * SEC);
    assert!(w.actions().contains(&Action::Abort { conn }));
    assert_eq!(w.core.state(), StateKind::Reconnecting);
    assert_eq!(w.status().error_kind, Some(ErrorKind::ConnectTimeout));
}

#[test]
fn status_tells_the_ui_everything_it_shows() {
    let mut w = World::exact();
    w.core.set_url("wss://feed.example/ws?token=***");
    let conn = w.connected();
    w.send(1);
    w.core.handle_written(w.now, conn, Some(MessageId(1)), 60);
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"update","data":{"symbol":"A","price":1}}"#,
    );
    w.core.handle_connection_lost(
        w.now + 2 * SEC,
        conn,
        ErrorKind::ServerClosed,
        "server closed (1001 going away)",
    );
    w.now += 2 * SEC;
    let st = w.status();
    assert_eq!(st.state, StateKind::Reconnecting);
    assert_eq!((st.attempt, st.max_attempts), (1, 10));
    assert_eq!(w.next_retry_ms(), Some(1000));
    assert_eq!(
        st.reason.as_deref(),
        Some("server closed (1001 going away)")
    );
    assert_eq!(st.stats.messages_sent, 1);
    assert_eq!(st.stats.bytes_sent, 60);
    assert_eq!(
        st.stats.messages_received, 2,
        "the update and the first pong"
    );
    assert_eq!(st.stats.total_uptime_secs, 2.0);
    assert_eq!(
        st.stats.last_error.as_ref().unwrap().kind,
        ErrorKind::ServerClosed
    );
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["state"], "reconnecting");
    assert_eq!(json["url"], "wss://feed.example/ws?token=***");
    assert_eq!(json["stats"]["errors_by_kind"]["server_closed"], 1);
}

#[test]
fn a_feed_ping_is_answered_with_a_pong() {
    let mut w = World::exact();
    let conn = w.connected();
    w.core.handle_text(w.now, conn, r#"{"type":"ping"}"#);
    assert_eq!(w.transmits(), [(None, r#"{"type":"pong"}"#.into())]);
}

#[test]
fn a_new_configuration_keeps_the_queue_and_subscriptions() {
    let mut w = World::exact();
    w.core.handle_subscribe(w.now, &["AAPL".into()]).unwrap();
    for n in 0..5 {
        w.send(n);
    }
    let bad = Config {
        queue_size: 0,
        ..Config::default()
    };
    assert!(
        w.core.handle_config(bad).is_err(),
        "an invalid config is refused whole"
    );
    w.core
        .handle_config(Config {
            queue_size: 3,
            jitter: 0.0,
            reconnect_base_delay: 2 * SEC,
            ..Config::default()
        })
        .unwrap();
    let drops: Vec<String> = w
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::QueueDropped { id, .. } => Some(order(id.0 as u32)),
            _ => None,
        })
        .collect();
    assert_eq!(
        drops,
        [order(0), order(1)],
        "shrinking drops the oldest, reported"
    );
    let conn = w.connected();
    assert_eq!(
        w.transmits()[0].1,
        r#"{"type":"subscribe","data":{"symbols":["AAPL"]}}"#
    );
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    assert_eq!(
        w.run_to_next_timeout(),
        2 * SEC,
        "the new base delay applies"
    );
}

#[test]
fn a_state_change_is_announced_once_and_each_retry_is_its_own_event() {
    let mut w = World::exact();
    w.core.handle_connect(w.now);
    let conn = w.expect_dial();
    w.core
        .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
    // The backoff runs out and attempt 1 dials: same state, nothing announced, but the
    // status changed (no countdown any more), so its revision moves.
    let rev = w.core.status_revision();
    w.run_to_next_timeout();
    let conn = w.expect_dial();
    assert!(w.core.status_revision() > rev);
    w.core
        .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
    let seen: Vec<String> = w
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::StateChanged(s) => Some(format!("state {}", s.as_str())),
            Event::RetryScheduled {
                attempt,
                max_attempts,
                delay,
            } => Some(format!("retry {attempt}/{max_attempts} in {delay:?}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        seen,
        [
            "state connecting",
            "state reconnecting",
            "retry 1/10 in 1s",
            "retry 2/10 in 2s",
        ]
    );
    let st = w.status();
    assert_eq!(
        st.label,
        "Reconnecting · attempt 2/10 · next try in 2 s · down 1 s"
    );
    assert_eq!(st.toggle, uplink_core::Toggle::Disconnect);
}

#[test]
fn the_toggle_connects_when_idle_and_disconnects_otherwise() {
    let mut w = World::exact();
    assert_eq!(w.status().toggle, uplink_core::Toggle::Connect);
    w.core.handle_toggle(w.now);
    assert_eq!(w.core.state(), StateKind::Connecting);
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    w.core.handle_toggle(w.now);
    assert_eq!(w.core.state(), StateKind::Disconnected);
    // A fatal failure leaves the core in `error`: the control connects again.
    w.core.handle_toggle(w.now);
    let conn = w.expect_dial();
    w.core
        .handle_connect_failed(w.now, conn, ErrorKind::Auth, "HTTP 401");
    assert_eq!(w.status().toggle, uplink_core::Toggle::Connect);
    w.core.handle_toggle(w.now);
    assert_eq!(w.core.state(), StateKind::Connecting);
}

// ---------------------------------------------------------------- trader's truth

impl World {
    /// Moves the clock forward by `d`, answering every ping at once with a pong
    /// (stamped `pong_stamp` if given), as a healthy server that has stopped
    /// publishing prices does.
    fn advance_with_pongs(&mut self, conn: ConnId, d: Duration) {
        let end = self.now + d;
        loop {
            for a in self.actions() {
                if matches!(&a, Action::Transmit { text, .. } if text == PING) {
                    self.core.handle_text(self.now, conn, r#"{"type":"pong"}"#);
                } else {
                    self.held.push(a);
                }
            }
            match self.core.poll_timeout() {
                Some(at) if at <= end => {
                    self.now = self.now.max(at);
                    self.core.handle_timeout(self.now);
                }
                _ => break,
            }
        }
        self.now = end;
        self.core.handle_timeout(self.now);
    }

    fn subscribe(&mut self, symbols: &[&str]) {
        let s: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
        self.core.handle_subscribe(self.now, &s).unwrap();
    }

    fn update(&mut self, conn: ConnId, symbol: &str) {
        let text = format!(r#"{{"type":"update","data":{{"symbol":"{symbol}","price":1}}}}"#);
        self.core.handle_text(self.now, conn, &text);
    }

    /// The stale/fresh events, as words.
    fn health_events(&mut self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Stale { age, symbols } => Some(format!("stale {age:?} {symbols:?}")),
                Event::Fresh { stale_for } => Some(format!("fresh after {stale_for:?}")),
                Event::OutageAlert { down_for } => Some(format!("alert {down_for:?}")),
                Event::Recovered { down_for, alerted } => {
                    Some(format!("recovered {down_for:?} alerted={alerted}"))
                }
                _ => None,
            })
            .collect()
    }
}

#[test]
fn prices_that_stop_while_pongs_continue_turn_the_connection_stale_at_exactly_stale_after() {
    let mut w = World::exact();
    w.subscribe(&["AAPL", "MSFT"]);
    let conn = w.connected();
    w.update(conn, "AAPL");
    w.update(conn, "MSFT");
    // The feed keeps answering pings but sends no more prices.
    w.advance_with_pongs(conn, 30 * SEC - MS);
    assert!(!w.status().stale, "not a millisecond early");
    assert!(w.health_events().is_empty());
    w.advance_with_pongs(conn, MS);
    let st = w.status();
    assert!(st.stale);
    assert_eq!(st.state, StateKind::Connected, "the five states are kept");
    assert_eq!(st.label, "Connected · prices stale 30 s");
    assert!(st.symbols.iter().all(|s| s.stale));
    assert_eq!(w.health_events(), [r#"stale 30s ["AAPL", "MSFT"]"#]);
    // Pongs keep coming: still stale, announced once.
    w.advance_with_pongs(conn, 90 * SEC);
    assert!(w.status().stale);
    assert!(w.health_events().is_empty(), "once per episode");
    assert_eq!(w.status().label, "Connected · prices stale 2 min 0 s");
    // The first data message ends it.
    w.update(conn, "MSFT");
    assert!(!w.status().stale);
    assert_eq!(w.health_events(), ["fresh after 90s"]);
}

#[test]
fn a_quiet_symbol_is_stale_on_its_own_without_staling_the_feed() {
    let mut w = World::exact();
    w.subscribe(&["AAPL", "HALTED"]);
    let conn = w.connected();
    for _ in 0..8 {
        w.update(conn, "AAPL");
        w.advance_with_pongs(conn, 5 * SEC);
    }
    let st = w.status();
    assert!(!st.stale, "the feed flows");
    let halted = st.symbols.iter().find(|s| s.symbol == "HALTED").unwrap();
    assert!(halted.stale && halted.age_secs.is_none());
    let aapl = st.symbols.iter().find(|s| s.symbol == "AAPL").unwrap();
    assert!(!aapl.stale);
    assert_eq!(aapl.age_secs, Some(5.0));
}

#[test]
fn unsubscribing_everything_clears_staleness_and_nothing_subscribed_is_never_stale() {
    let mut w = World::exact();
    let conn = w.connected();
    w.advance_with_pongs(conn, 120 * SEC);
    assert!(!w.status().stale, "nothing subscribed, nothing to be stale");
    w.subscribe(&["AAPL"]);
    w.advance_with_pongs(conn, 30 * SEC);
    assert!(w.status().stale, "the clock started at the subscription");
    w.health_events();
    w.core
        .handle_unsubscribe(w.now, &["AAPL".to_string()])
        .unwrap();
    assert!(!w.status().stale);
    assert_eq!(w.health_events(), ["fresh after 0ns"]);
}

#[test]
fn a_reconnect_restarts_the_stale_clock_and_stale_after_zero_turns_it_off() {
    let mut w = World::exact();
    w.subscribe(&["AAPL"]);
    let conn = w.connected();
    w.advance_with_pongs(conn, 20 * SEC);
    w.core.handle_reconnect(w.now);
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    w.advance_with_pongs(conn, 29 * SEC);
    assert!(!w.status().stale, "counted from the new connection");
    w.advance_with_pongs(conn, SEC);
    assert!(w.status().stale);

    let mut off = World::new(Config {
        stale_after: Duration::ZERO,
        jitter: 0.0,
        ..Config::default()
    });
    off.subscribe(&["AAPL"]);
    let conn = off.connected();
    off.advance_with_pongs(conn, 600 * SEC);
    assert!(!off.status().stale);
}

#[test]
fn an_outage_is_alerted_once_after_alert_after_and_its_end_is_announced() {
    let mut w = World::with_alerts(Config {
        jitter: 0.0,
        ..Config::default()
    });
    let conn = w.connected();
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    // Attempts fail after 1, 3 and 7 s; 10 s into the outage, one alert. Attempt 4
    // dials at 15 s and hangs until its 10 s connect timeout.
    let mut alerts = Vec::new();
    for _ in 0..4 {
        w.run_to_next_timeout();
        alerts.extend(w.health_events());
        if let Some(conn) = w.core.current_conn() {
            w.actions();
            w.core
                .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
        }
    }
    w.advance(20 * SEC);
    alerts.extend(w.health_events());
    assert_eq!(alerts, ["alert 10s"], "exactly once, at alert_after");
    let st = w.status();
    assert!(
        st.label.ends_with(" · down 30 s"),
        "the tray says how long it has been down: {}",
        st.label
    );
    // The server is back.
    w.actions();
    w.core.handle_reconnect(w.now);
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    assert_eq!(w.health_events(), ["recovered 30s alerted=true"]);
    assert_eq!(w.status().down_since_unix_ms, None);

    // A short blip is not alerted, but its end is still reported (not alerted).
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    w.run_to_next_timeout();
    let conn = w.core.current_conn().unwrap();
    w.core.handle_connected(w.now, conn);
    assert_eq!(w.health_events(), ["recovered 1s alerted=false"]);
}

#[test]
fn feed_delay_and_clock_offset_come_from_timestamps() {
    use std::time::UNIX_EPOCH;
    let mut w = World::exact();
    // Local wall clock: 2025-01-01T12:00:00Z at the start.
    let t0 = 1_735_732_800_000.0;
    w.core.set_wall_clock(w.now, t0);
    let conn = w.connected();
    // The next ping goes out at 30 s; the pong comes back 100 ms later, stamped by a
    // server whose clock runs 5 s ahead (its 12:00:35.050 is our 12:00:30.050).
    w.run_to_next_timeout();
    assert!(w
        .actions()
        .iter()
        .any(|a| matches!(a, Action::Transmit { text, .. } if text == PING)));
    w.now += 100 * MS;
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"pong","timestamp":"2025-01-01T12:00:35.050Z"}"#,
    );
    let st = w.status();
    assert_eq!(st.clock_offset_ms, Some(5_000.0));
    assert!(st.clock_skewed, "5 s is beyond the 2 s warning");
    assert!(w
        .events()
        .iter()
        .any(|e| matches!(e, Event::ClockSkew { skewed: true, .. })));
    // An update stamped 12:00:35.000 server time (12:00:30.000 ours) arrives at
    // 12:00:30.250 ours: 250 ms of feed delay once the offset is taken out.
    w.now += 150 * MS;
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"update","data":{"symbol":"A","price":1},"timestamp":"2025-01-01T12:00:35.000Z"}"#,
    );
    let st = w.status();
    assert_eq!(st.feed_delay.last_ms, Some(250.0));
    assert_eq!(st.feed_delay.samples, 1);
    let _ = UNIX_EPOCH;
}

#[test]
fn a_feed_whose_timestamps_are_absurd_is_measured_within_reason_and_never_crashes_us() {
    let mut w = World::exact();
    w.core.set_wall_clock(w.now, 1_735_732_800_000.0);
    let conn = w.connected();
    let rtts = w.status().latency.samples;
    // A pong stamped 10^30 (no unit makes that a time): no clock offset from it.
    w.run_to_next_timeout();
    w.now += 100 * MS;
    w.core
        .handle_text(w.now, conn, r#"{"type":"pong","timestamp":1e30}"#);
    assert_eq!(w.status().clock_offset_ms, None);
    assert_eq!(
        w.status().latency.samples,
        rtts + 1,
        "the round trip still counts"
    );
    // The next pong claims the last millisecond of the year 9999, in nanoseconds: an
    // offset of about 8,000 years, which the status shows and the window warns of.
    w.run_to_next_timeout();
    w.now += 100 * MS;
    w.core
        .handle_text(w.now, conn, r#"{"type":"pong","timestamp":2.534e20}"#);
    let offset = w.status().clock_offset_ms.expect("a readable pong time");
    assert!(offset > 2.5e14, "{offset}");
    // Updates stamped at the epoch and past the year 9999: one delay sample of
    // thousands of years from the first, none from the second, and no panic. (What
    // keeps every delay within a Duration is the year-9999 cap on readable times.)
    for ts in ["0", "1e300"] {
        w.now += 20 * MS;
        let update =
            format!(r#"{{"type":"update","data":{{"symbol":"A","price":1}},"timestamp":{ts}}}"#);
        w.core.handle_text(w.now, conn, &update);
    }
    let st = w.status();
    assert_eq!(st.feed_delay.samples, 1);
    assert!(st.feed_delay.last_ms.unwrap() > 2.5e14);
    assert_eq!(st.state, StateKind::Connected);
}

#[test]
fn a_fast_feed_gives_at_most_one_delay_sample_every_ten_milliseconds() {
    let mut w = World::exact();
    w.core.set_wall_clock(w.now, 1_735_732_800_000.0);
    let conn = w.connected();
    let update = r#"{"type":"update","data":{"symbol":"A","price":1},"timestamp":"2025-01-01T12:00:00.000Z"}"#;
    let before = w.status().stats.messages_received;
    // 100 timestamped updates 1 ms apart: the first is sampled, then one every 10 ms.
    for _ in 0..100 {
        w.core.handle_text(w.now, conn, update);
        w.now += MS;
    }
    assert_eq!(w.status().feed_delay.samples, 10, "0, 10, ... 90 ms");
    assert_eq!(
        w.status().stats.messages_received - before,
        100,
        "every update counted"
    );
    // 9 ms after the last sample: still none; at 10 ms, the next.
    w.core.handle_text(w.now - MS, conn, update);
    assert_eq!(w.status().feed_delay.samples, 10);
    w.core.handle_text(w.now, conn, update);
    assert_eq!(w.status().feed_delay.samples, 11);
}

// ---------------------------------------------------------------- orders you can trust

const ORDER_A: &str =
    r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":1,"client_order_id":"A"}}"#;
const ORDER_B: &str =
    r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":2,"client_order_id":"B"}}"#;
const ORDER_C: &str =
    r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":3,"client_order_id":"C"}}"#;

impl World {
    fn send_text(&mut self, id: u64, text: &str) {
        self.core
            .handle_send(self.now, MessageId(id), Outbound::json(text).unwrap());
    }

    /// Writes every pending Transmit (the socket accepts them); returns the texts.
    fn write_all(&mut self, conn: ConnId) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let tx = self.transmits();
            if tx.is_empty() {
                if self
                    .core
                    .poll_timeout()
                    .is_some_and(|t| t <= self.now + 100 * MS)
                    && self.status().stats.queue_depth > 0
                {
                    self.run_to_next_timeout();
                    continue;
                }
                return out;
            }
            for (id, text) in tx {
                self.core
                    .handle_written(self.now, conn, id.map(MessageId), text.len());
                out.push(text);
            }
        }
    }

    fn feed_says(&mut self, conn: ConnId, cid: &str, status: &str) {
        let text = format!(
            r#"{{"type":"order","data":{{"id":"ord-{cid}","client_order_id":"{cid}","symbol":"AAPL","side":"buy","qty":1,"status":"{status}"}}}}"#
        );
        self.core.handle_text(self.now, conn, &text);
    }

    fn order_events(&mut self) -> Vec<String> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::Sent { id } => Some(format!("sent {}", id.0)),
                Event::Acked {
                    id,
                    order_id,
                    status,
                } => Some(format!("acked {} {order_id:?} {status:?}", id.0)),
                Event::Resent { id } => Some(format!("resent {}", id.0)),
                Event::Unconfirmed { id, reason } => {
                    Some(format!("unconfirmed {} {reason:?}", id.0))
                }
                Event::Expired { id, reason } => Some(format!("expired {} {reason:?}", id.0)),
                Event::Cancelled { id } => Some(format!("cancelled {}", id.0)),
                Event::Discarded { id } => Some(format!("discarded {}", id.0)),
                _ => None,
            })
            .collect()
    }

    fn lose_and_reconnect(&mut self, conn: ConnId) -> ConnId {
        self.core
            .handle_connection_lost(self.now, conn, ErrorKind::Io, "reset by peer");
        self.run_to_next_timeout();
        let conn = self.expect_dial();
        self.core.handle_connected(self.now, conn);
        conn
    }
}

#[test]
fn an_order_is_sent_then_acknowledged_when_the_feed_echoes_its_client_order_id() {
    let mut w = World::exact();
    let conn = w.connected();
    w.send_text(1, ORDER_A);
    assert_eq!(w.write_all(conn), [ORDER_A]);
    assert_eq!(w.order_events(), ["sent 1"]);
    assert_eq!(w.status().stats.awaiting_ack, 1, "written is not delivered");
    w.feed_says(conn, "A", "accepted");
    assert_eq!(
        w.order_events(),
        [r#"acked 1 Some("ord-A") Some(Accepted)"#]
    );
    assert_eq!(w.status().stats.awaiting_ack, 0);
    // Its later updates are not acknowledgements of anything unknown.
    w.feed_says(conn, "A", "filled");
    // An order this client never sent is ignored and counted.
    w.feed_says(conn, "someone-else", "filled");
    assert!(w.order_events().is_empty());
    assert_eq!(w.status().stats.unknown_acks, 1);
}

#[test]
fn a_venue_that_answers_with_only_ids_and_its_own_status_still_acknowledges_the_order() {
    let mut w = World::exact();
    let conn = w.connected();
    w.send_text(1, ORDER_A);
    w.send_text(2, ORDER_B);
    w.write_all(conn);
    assert_eq!(w.order_events(), ["sent 1", "sent 2"]);
    // No symbol, side or quantity, and "new" is not one of the protocol's statuses.
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"order","data":{"id":"V1","client_order_id":"A","status":"new"}}"#,
    );
    // A numeric order id and the quantity as a string.
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"order","data":{"id":42,"client_order_id":"B","qty":"2","status":"accepted"}}"#,
    );
    assert_eq!(
        w.order_events(),
        [
            r#"acked 1 Some("V1") None"#,
            r#"acked 2 Some("42") Some(Accepted)"#
        ],
        "acknowledged; a status of the venue's own is not guessed at"
    );
    let st = w.status().stats;
    assert_eq!(st.awaiting_ack, 0);
    assert_eq!(
        st.unexpected_messages, 2,
        "still counted as not the protocol's shape"
    );
    // Nothing is re-sent after a reconnect: both were acknowledged.
    let conn = w.lose_and_reconnect(conn);
    let wire = w.write_all(conn);
    assert!(!wire.iter().any(|t| t.contains("\"order\"")), "{wire:?}");
}

#[test]
fn unacknowledged_orders_are_resent_once_after_a_reconnect_before_newer_messages() {
    let mut w = World::exact();
    w.subscribe(&["AAPL"]);
    let conn = w.connected();
    w.send_text(1, ORDER_A);
    w.send_text(2, ORDER_B);
    w.write_all(conn);
    w.events();
    // The kernel took both writes; the feed read nothing and reset the connection.
    // Meanwhile the trader places a third order.
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset by peer");
    w.send_text(3, ORDER_C);
    w.run_to_next_timeout();
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    let wire = w.write_all(conn);
    assert_eq!(
        wire,
        [
            r#"{"type":"subscribe","data":{"symbols":["AAPL"]}}"#,
            PING,
            ORDER_A,
            ORDER_B,
            ORDER_C
        ],
        "subscriptions, then the re-sends in their original order, then newer messages"
    );
    assert_eq!(w.order_events(), ["resent 1", "resent 2", "sent 3"]);
    // The acknowledgements come on the new connection.
    w.feed_says(conn, "B", "accepted");
    w.feed_says(conn, "A", "accepted");
    w.feed_says(conn, "C", "accepted");
    assert_eq!(
        w.order_events(),
        [
            r#"acked 2 Some("ord-B") Some(Accepted)"#,
            r#"acked 1 Some("ord-A") Some(Accepted)"#,
            r#"acked 3 Some("ord-C") Some(Accepted)"#
        ]
    );
    // Acknowledged orders are never re-sent again.
    let conn = w.lose_and_reconnect(conn);
    let wire = w.write_all(conn);
    assert!(!wire.iter().any(|t| t.contains("\"order\"")), "{wire:?}");
}

#[test]
fn an_order_without_an_acknowledgement_in_time_is_reported_unconfirmed_not_left_as_sent() {
    let mut w = World::exact();
    let conn = w.connected();
    w.send_text(1, ORDER_A);
    w.write_all(conn);
    w.order_events();
    w.advance_with_pongs(conn, 10 * SEC - MS);
    assert!(w.order_events().is_empty());
    w.advance_with_pongs(conn, MS);
    assert_eq!(w.order_events(), ["unconfirmed 1 AckTimeout"]);
    // A late acknowledgement still counts.
    w.feed_says(conn, "A", "filled");
    assert_eq!(w.order_events(), [r#"acked 1 Some("ord-A") Some(Filled)"#]);
}

#[test]
fn with_hold_nothing_is_resent_and_the_trader_decides() {
    let mut w = World::new(Config {
        unacked_orders: uplink_core::UnackedOrders::Hold,
        jitter: 0.0,
        ..Config::default()
    });
    let conn = w.connected();
    w.send_text(1, ORDER_A);
    w.send_text(2, ORDER_B);
    w.write_all(conn);
    w.order_events();
    let conn = w.lose_and_reconnect(conn);
    assert_eq!(
        w.order_events(),
        [
            "unconfirmed 1 ConnectionLost",
            "unconfirmed 2 ConnectionLost"
        ]
    );
    let wire = w.write_all(conn);
    assert!(!wire.iter().any(|t| t.contains("\"order\"")), "{wire:?}");
    // The trader checked with the broker: resend A, discard B.
    w.core.handle_resend(w.now, MessageId(1)).unwrap();
    assert_eq!(w.write_all(conn), [ORDER_A]);
    assert_eq!(w.order_events(), ["resent 1"]);
    w.core.handle_discard(MessageId(2)).unwrap();
    assert_eq!(w.order_events(), ["discarded 2"]);
    assert!(w.core.handle_discard(MessageId(2)).is_err());
    assert!(
        w.core.handle_resend(w.now, MessageId(1)).is_err(),
        "not held any more"
    );
}

#[test]
fn an_order_queued_offline_expires_after_order_ttl_and_is_never_sent() {
    let mut w = World::exact();
    w.send_text(1, ORDER_A);
    w.now += 30 * SEC;
    w.send_text(2, ORDER_B);
    w.send_text(3, r#"{"type":"note"}"#);
    w.now += 30 * SEC - MS;
    w.core.handle_timeout(w.now);
    assert!(w.order_events().is_empty());
    assert_eq!(w.run_to_next_timeout(), MS);
    assert_eq!(w.order_events(), ["expired 1 Ttl"]);
    let conn = w.connected();
    let wire = w.write_all(conn);
    assert_eq!(
        wire,
        [ORDER_B, r#"{"type":"note"}"#],
        "never sent late; other messages do not expire"
    );
}

#[test]
fn a_queued_order_can_be_cancelled_until_it_is_written() {
    let mut w = World::exact();
    w.send_text(1, ORDER_A);
    w.send_text(2, ORDER_B);
    w.core.handle_cancel(w.now, MessageId(2)).unwrap();
    assert_eq!(w.order_events(), ["cancelled 2"]);
    let conn = w.connected();
    assert_eq!(w.write_all(conn), [ORDER_A]);
    assert!(
        w.core.handle_cancel(w.now, MessageId(1)).is_err(),
        "already sent"
    );
}

#[test]
fn a_new_feed_gets_nothing_of_the_old_queue() {
    let mut w = World::exact();
    let conn = w.connected();
    w.send_text(1, ORDER_A);
    w.write_all(conn);
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    w.send_text(2, ORDER_B);
    w.order_events();
    w.core.handle_feed_changed(w.now);
    assert_eq!(
        w.order_events(),
        ["expired 2 FeedChanged", "unconfirmed 1 FeedChanged"]
    );
    w.run_to_next_timeout();
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    let wire = w.write_all(conn);
    assert!(!wire.iter().any(|t| t.contains("\"order\"")), "{wire:?}");
}

// ---------------------------------------------------------------- failover

impl World {
    /// A core with a primary and `backups` backups, no jitter.
    fn with_endpoints(n: usize) -> World {
        World::new(Config {
            endpoints: n,
            jitter: 0.0,
            ..Config::default()
        })
    }

    /// Expects exactly one Dial and returns its connection and endpoint.
    fn expect_dial_to(&mut self) -> (ConnId, usize) {
        let dials: Vec<(ConnId, usize)> = self
            .actions()
            .into_iter()
            .filter_map(|a| match a {
                Action::Dial { conn, endpoint } => Some((conn, endpoint)),
                _ => None,
            })
            .collect();
        assert_eq!(dials.len(), 1, "expected one dial, got {dials:?}");
        dials[0]
    }

    fn switches(&mut self) -> Vec<(usize, usize)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::EndpointSwitched { from, to } => Some((from, to)),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn the_primary_dies_and_the_backup_takes_over_within_one_backoff_step() {
    let mut w = World::with_endpoints(2);
    let conn = w.connected();
    assert_eq!(w.status().endpoint, 0);
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    assert_eq!(w.run_to_next_timeout(), SEC, "one backoff step");
    let (conn, endpoint) = w.expect_dial_to();
    assert_eq!(endpoint, 1, "the backup");
    w.core.handle_connected(w.now, conn);
    assert_eq!(w.switches(), [(0, 1)]);
    let st = w.status();
    assert_eq!((st.state, st.endpoint), (StateKind::Connected, 1));
    assert!(st.label.starts_with("Connected · backup 1"), "{}", st.label);
    assert_eq!(st.endpoints[1].role, "backup 1");
}

#[test]
fn failback_waits_for_the_primary_to_answer_a_probe_without_dropping_the_backup() {
    let mut w = World::with_endpoints(2);
    // The primary refuses from the start: the backup is used.
    w.core.handle_connect(w.now);
    let (c0, _) = w.expect_dial_to();
    w.core
        .handle_connect_failed(w.now, c0, ErrorKind::ConnectFailed, "refused");
    w.run_to_next_timeout();
    let (backup, endpoint) = w.expect_dial_to();
    assert_eq!(endpoint, 1);
    w.core.handle_connected(w.now, backup);
    w.switches();
    // 300 s on the backup (answering pings): the first probe of the primary.
    w.advance_with_pongs(backup, 300 * SEC - MS);
    let probes = |w: &mut World| -> Vec<ConnId> {
        w.held
            .drain(..)
            .filter_map(|a| match a {
                Action::Probe { conn, endpoint: 0 } => Some(conn),
                _ => None,
            })
            .collect()
    };
    assert!(probes(&mut w).is_empty());
    w.advance_with_pongs(backup, MS);
    let p = probes(&mut w);
    assert_eq!(p.len(), 1, "one probe");
    // The primary is still down: the backup stays, no switch, a probe later again.
    w.core
        .handle_connect_failed(w.now, p[0], ErrorKind::ConnectFailed, "refused");
    assert_eq!(w.status().endpoint, 1);
    assert_eq!(w.core.state(), StateKind::Connected);
    w.advance_with_pongs(backup, 300 * SEC);
    let p = probes(&mut w);
    assert_eq!(p.len(), 1);
    // Now it answers: switch, resubscribe and flush as after any reconnect.
    w.core.handle_connected(w.now, p[0]);
    let acts = w.actions();
    assert!(acts.contains(&Action::Close {
        conn: backup,
        code: 1000,
        reason: "failing back to the primary"
    }));
    assert!(acts.iter().any(
        |a| matches!(a, Action::Transmit { conn, text, .. } if *conn == p[0] && text == PING)
    ));
    assert_eq!(w.switches(), [(1, 0)]);
    assert_eq!(w.status().endpoint, 0);
    assert!(!w.status().label.contains("backup"), "{}", w.status().label);
}

#[test]
fn breakers_open_cool_down_and_half_open() {
    let mut w = World::with_endpoints(2);
    w.core.handle_connect(w.now);
    // Both endpoints refuse, in turn, three times each: both breakers open.
    for _ in 0..6 {
        let (conn, _) = w.expect_dial_to();
        w.core
            .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
        w.run_to_next_timeout();
    }
    // Both open: the retry waited for the first cool-down to end (the primary's),
    // and its dial is the half-open trial; the backup is still skipped.
    let st = w.status();
    assert_eq!(
        st.endpoints.iter().map(|e| e.breaker).collect::<Vec<_>>(),
        [
            uplink_core::BreakerState::HalfOpen,
            uplink_core::BreakerState::Open
        ],
    );
    assert_eq!(st.endpoints[0].failures, 3);
    assert!(st.endpoints[1].open_for_secs.unwrap() > 0.0);
    // The trial fails: open again, for twice as long (60 s).
    let (conn, endpoint) = w.expect_dial_to();
    assert_eq!(endpoint, 0);
    w.core
        .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
    let st = w.status();
    assert_eq!(st.endpoints[0].breaker, uplink_core::BreakerState::Open);
    assert_eq!(st.endpoints[0].open_for_secs, Some(60.0));
    // The backup's cool-down ends first now: its trial succeeds and closes it.
    w.run_to_next_timeout();
    let (conn, endpoint) = w.expect_dial_to();
    assert_eq!(endpoint, 1);
    w.core.handle_connected(w.now, conn);
    let st = w.status();
    assert_eq!(st.endpoints[1].breaker, uplink_core::BreakerState::Closed);
    assert_eq!(st.endpoints[1].failures, 0);
}

#[test]
fn all_endpoints_down_gives_up_after_every_endpoint_failed_its_attempts() {
    let mut w = World::new(Config {
        endpoints: 3,
        max_reconnect_attempts: 2,
        jitter: 0.0,
        breaker_threshold: 100,
        ..Config::default()
    });
    w.core.handle_connect(w.now);
    let mut dialled = Vec::new();
    loop {
        let (conn, endpoint) = w.expect_dial_to();
        dialled.push(endpoint);
        w.core
            .handle_connect_failed(w.now, conn, ErrorKind::ConnectFailed, "refused");
        if w.core.state() == StateKind::Error {
            break;
        }
        w.run_to_next_timeout();
    }
    assert_eq!(
        dialled,
        [0, 1, 2, 0, 1, 2, 0],
        "2 attempts each after the first dial"
    );
    let st = w.status();
    assert!(st.gave_up);
    assert_eq!(
        st.reason.as_deref(),
        Some("gave up after 6 attempts on 3 endpoints: refused")
    );
}

#[test]
fn a_manual_reconnect_starts_again_from_the_primary() {
    let mut w = World::with_endpoints(2);
    let conn = w.connected();
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    w.run_to_next_timeout();
    let (conn, endpoint) = w.expect_dial_to();
    assert_eq!(endpoint, 1);
    w.core.handle_connected(w.now, conn);
    w.core.handle_reconnect(w.now);
    let (_, endpoint) = w.expect_dial_to();
    assert_eq!(endpoint, 0);
}

#[test]
fn subscriptions_and_queued_orders_go_to_whichever_endpoint_is_current_exactly_once() {
    let mut w = World::with_endpoints(2);
    w.subscribe(&["AAPL"]);
    let conn = w.connected();
    w.write_all(conn);
    w.core
        .handle_connection_lost(w.now, conn, ErrorKind::Io, "reset");
    w.send_text(1, ORDER_A);
    w.send_text(2, ORDER_B);
    w.run_to_next_timeout();
    let (conn, endpoint) = w.expect_dial_to();
    assert_eq!(endpoint, 1);
    w.core.handle_connected(w.now, conn);
    let wire = w.write_all(conn);
    assert_eq!(
        wire,
        [
            r#"{"type":"subscribe","data":{"symbols":["AAPL"]}}"#,
            PING,
            ORDER_A,
            ORDER_B
        ]
    );
    // Acknowledged on the backup: nothing more goes anywhere after a failback.
    w.feed_says(conn, "A", "accepted");
    w.feed_says(conn, "B", "accepted");
    let conn = w.lose_and_reconnect(conn);
    let wire = w.write_all(conn);
    assert!(!wire.iter().any(|t| t.contains("\"order\"")), "{wire:?}");
}

// ---------------------------------------------------------------- real feeds

fn with_heartbeat(h: uplink_core::Heartbeat) -> World {
    World::new(Config {
        heartbeat: h,
        heartbeat_interval: 5 * SEC,
        pong_timeout: 2 * SEC,
        idle_timeout: 10 * SEC,
        jitter: 0.0,
        ..Config::default()
    })
}

#[test]
fn websocket_heartbeats_measure_the_round_trip_from_pong_frames() {
    let mut w = with_heartbeat(uplink_core::Heartbeat::WebSocket);
    w.core.handle_connect(w.now);
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    let payload = w
        .actions()
        .into_iter()
        .find_map(|a| match a {
            Action::Ping { payload, .. } => Some(payload),
            Action::Transmit { text, .. } if text == PING => panic!("no JSON ping in this mode"),
            _ => None,
        })
        .expect("a Ping frame at once");
    // A Pong with another payload proves life but is not this ping's answer.
    w.core.handle_ws_pong(w.now + 3 * MS, conn, b"other");
    assert_eq!(w.status().latency.samples, 0);
    w.core.handle_ws_pong(w.now + 7 * MS, conn, &payload);
    assert_eq!(w.status().latency.last_ms, Some(7.0));
    // The next Pong never comes: dead within interval + deadline.
    let t0 = w.now;
    loop {
        w.run_to_next_timeout();
        if w.core.state() != StateKind::Connected {
            break;
        }
    }
    assert_eq!(w.now - t0, 7 * SEC);
    assert_eq!(w.status().error_kind, Some(ErrorKind::HeartbeatTimeout));
}

#[test]
fn a_custom_heartbeat_sends_its_text_and_matches_its_answer() {
    let mut w = with_heartbeat(uplink_core::Heartbeat::Custom {
        ping: r#"{"op":"ping"}"#.into(),
        pong: uplink_core::PongMatch::Field {
            name: "op".into(),
            value: serde_json::json!("pong"),
        },
    });
    w.core.handle_connect(w.now);
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    assert!(w.transmits().iter().any(|(_, t)| t == r#"{"op":"ping"}"#));
    w.core
        .handle_text(w.now + 4 * MS, conn, r#"{"op":"pong","ts":1}"#);
    assert_eq!(w.status().latency.last_ms, Some(4.0));
    assert!(
        !w.events().iter().any(|e| matches!(e, Event::Message(_))),
        "the answer is the heartbeat's, not the trader's"
    );
    assert_eq!(w.status().stats.unexpected_messages, 0);
}

#[test]
fn without_heartbeats_inbound_data_is_the_only_proof_of_life() {
    let mut w = with_heartbeat(uplink_core::Heartbeat::None);
    w.core.handle_connect(w.now);
    let conn = w.expect_dial();
    w.core.handle_connected(w.now, conn);
    assert!(w.transmits().is_empty(), "no ping of any kind");
    for _ in 0..5 {
        w.now += 6 * SEC;
        w.core.handle_timeout(w.now);
        w.core.handle_text(
            w.now,
            conn,
            r#"{"type":"update","data":{"symbol":"A","price":1}}"#,
        );
    }
    assert_eq!(w.core.state(), StateKind::Connected);
    // Silence: dead after interval + deadline (7 s), not the 10 s idle watchdog.
    let t0 = w.now;
    w.run_to_next_timeout();
    assert_eq!(w.now - t0, 7 * SEC);
    assert_eq!(w.status().error_kind, Some(ErrorKind::IdleTimeout));
}

#[test]
fn epoch_millisecond_timestamps_give_the_clock_offset_and_bad_ones_are_counted() {
    let mut w = World::exact();
    let t0 = 1_764_115_200_000.0;
    w.core.set_wall_clock(w.now, t0);
    let conn = w.connected();
    w.run_to_next_timeout();
    w.now += 100 * MS;
    // Our 30.050 s is the feed's 30.050 s: in step, stamped in milliseconds.
    w.core.handle_text(
        w.now,
        conn,
        &format!(r#"{{"type":"pong","timestamp":{}}}"#, t0 + 30_050.0),
    );
    assert_eq!(w.status().clock_offset_ms, Some(0.0));
    assert_eq!(w.status().latency.last_ms, Some(100.0));
    w.core.handle_text(
        w.now,
        conn,
        r#"{"type":"update","data":{"symbol":"A","price":1},"timestamp":{"when":"now"}}"#,
    );
    let st = w.status();
    assert_eq!(st.stats.unreadable_timestamps, 1);
    assert_eq!(st.stats.malformed_messages, 0, "never a reason to reject");
}

#[test]
fn a_status_whose_engine_stopped_is_an_error_that_claims_nothing_and_offers_connect() {
    let mut w = World::exact();
    w.subscribe(&["AAPL"]);
    w.connected();
    w.advance(31 * SEC);
    let last = w.status();
    assert_eq!(last.state, StateKind::Connected);
    assert!(last.stale, "no prices for 31 s");
    let now_ms = last.since_unix_ms + 31_000;
    let stopped = last.engine_stopped("the connection engine stopped unexpectedly", now_ms);
    assert_eq!(stopped.state, StateKind::Error);
    assert_eq!(stopped.toggle, uplink_core::Toggle::Connect);
    assert_eq!(
        stopped.label,
        "Error · the connection engine stopped unexpectedly"
    );
    assert!(!stopped.stale && stopped.symbols.iter().all(|s| !s.stale));
    assert_eq!(stopped.data_age_secs, None);
    assert_eq!(stopped.next_retry_unix_ms, None);
    assert_eq!(stopped.down_since_unix_ms, Some(now_ms));
    assert_eq!(
        stopped.stats, last.stats,
        "the counters stay as last published"
    );
}
