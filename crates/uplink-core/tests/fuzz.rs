//! Property tests of the core: arbitrary sequences of inputs (commands, socket events,
//! frames, time) never panic, and its invariants hold after every step: the queue
//! within its capacity, the attempt count within the budget, the status consistent
//! with the state, orders awaiting acknowledgement bounded. `PROPTEST_CASES=N` runs
//! more cases.

use std::time::{Duration, Instant, SystemTime};

use proptest::prelude::*;
use uplink_core::proto::Outbound;
use uplink_core::{Action, Config, ConnId, Connection, ErrorKind, MessageId, StateKind};

#[derive(Debug, Clone)]
enum Input {
    Connect,
    Disconnect,
    Reconnect,
    Toggle,
    NetworkUp,
    Send(u8),
    Subscribe(u8),
    Unsubscribe(u8),
    Cancel(u8),
    Resend(u8),
    Discard(u8),
    FeedChanged,
    DialOk,
    DialFail(u8),
    Lost(u8),
    Text(u8),
    WrittenAll,
    Advance(u16),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        Just(Input::Connect),
        Just(Input::Disconnect),
        Just(Input::Reconnect),
        Just(Input::Toggle),
        Just(Input::NetworkUp),
        any::<u8>().prop_map(Input::Send),
        any::<u8>().prop_map(Input::Subscribe),
        any::<u8>().prop_map(Input::Unsubscribe),
        any::<u8>().prop_map(Input::Cancel),
        any::<u8>().prop_map(Input::Resend),
        any::<u8>().prop_map(Input::Discard),
        Just(Input::FeedChanged),
        Just(Input::DialOk),
        any::<u8>().prop_map(Input::DialFail),
        any::<u8>().prop_map(Input::Lost),
        any::<u8>().prop_map(Input::Text),
        Just(Input::WrittenAll),
        any::<u16>().prop_map(Input::Advance),
    ]
}

const KINDS: [ErrorKind; 6] = [
    ErrorKind::ConnectFailed,
    ErrorKind::Auth,
    ErrorKind::Tls,
    ErrorKind::Io,
    ErrorKind::ServerClosed,
    ErrorKind::ConnectTimeout,
];

const FRAMES: [&str; 13] = [
    r#"{"type":"pong"}"#,
    // Pongs and updates stamped anywhere a feed could: the epoch, the year 9999, past
    // it, negative, absurd (the clock offset and the delay must never overflow).
    r#"{"type":"pong","timestamp":0}"#,
    r#"{"type":"pong","timestamp":"9999-12-31T23:59:59.999Z"}"#,
    r#"{"type":"pong","timestamp":1e300}"#,
    r#"{"type":"update","data":{"symbol":"S1","price":1},"timestamp":-1e300}"#,
    r#"{"type":"update","data":{"symbol":"S1","price":1},"timestamp":"0001-01-01T00:00:00Z"}"#,
    r#"{"type":"update","data":{"symbol":"S1","price":1},"timestamp":1764115200000}"#,
    r#"{"type":"order","data":{"id":"o","client_order_id":"c3","symbol":"S1","side":"buy","qty":1,"status":"accepted"}}"#,
    r#"{"type":"error","data":{"code":"X","message":"bad\nline"}}"#,
    "not json",
    r#"{"type":"update","data":{}}"#,
    r#"{"type":"ping"}"#,
    r#"{"op":"pong"}"#,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_inputs_keep_the_core_consistent(
        inputs in prop::collection::vec(input(), 1..200),
        endpoints in 1usize..4,
        queue in 1usize..8,
        attempts in 1u32..5,
    ) {
        let config = Config {
            endpoints,
            queue_size: queue,
            max_reconnect_attempts: attempts,
            stale_after: Duration::from_secs(3),
            ..Config::default()
        };
        let mut now = Instant::now();
        let mut core = Connection::new(config, 7, now).unwrap();
        core.set_wall_clock(now, 1_764_115_200_000.0);
        let mut dials: Vec<ConnId> = Vec::new();
        let mut live: Option<ConnId> = None;
        let mut writes: Vec<(ConnId, Option<MessageId>, usize)> = Vec::new();
        for inp in inputs {
            match inp {
                Input::Connect => core.handle_connect(now),
                Input::Disconnect => core.handle_disconnect(now),
                Input::Reconnect => core.handle_reconnect(now),
                Input::Toggle => core.handle_toggle(now),
                Input::NetworkUp => core.handle_network_up(now),
                Input::Send(n) => {
                    let text = if n % 2 == 0 {
                        format!(r#"{{"type":"order","data":{{"symbol":"S1","side":"buy","qty":1,"client_order_id":"c{n}"}}}}"#)
                    } else {
                        format!(r#"{{"type":"note","n":{n}}}"#)
                    };
                    core.handle_send(now, MessageId(u64::from(n)), Outbound::json(text).unwrap());
                }
                Input::Subscribe(n) => { let _ = core.handle_subscribe(now, &[format!("S{}", n % 4)]); }
                Input::Unsubscribe(n) => { let _ = core.handle_unsubscribe(now, &[format!("S{}", n % 4)]); }
                Input::Cancel(n) => { let _ = core.handle_cancel(now, MessageId(u64::from(n))); }
                Input::Resend(n) => { let _ = core.handle_resend(now, MessageId(u64::from(n))); }
                Input::Discard(n) => { let _ = core.handle_discard(MessageId(u64::from(n))); }
                Input::FeedChanged => core.handle_feed_changed(now),
                Input::DialOk => {
                    if let Some(c) = dials.pop() {
                        core.handle_connected(now, c);
                        live = Some(c);
                    }
                }
                Input::DialFail(k) => {
                    if let Some(c) = dials.pop() {
                        core.handle_connect_failed(now, c, KINDS[usize::from(k) % KINDS.len()], "refused");
                    }
                }
                Input::Lost(k) => {
                    if let Some(c) = live.take() {
                        core.handle_connection_lost(now, c, KINDS[usize::from(k) % KINDS.len()], "lost");
                    }
                }
                Input::Text(n) => {
                    if let Some(c) = live {
                        core.handle_text(now, c, FRAMES[usize::from(n) % FRAMES.len()]);
                    }
                }
                Input::WrittenAll => {
                    for (c, id, len) in writes.drain(..) {
                        core.handle_written(now, c, id, len);
                    }
                }
                Input::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms) * 10);
                    core.handle_timeout(now);
                }
            }
            while let Some(a) = core.poll_action() {
                match a {
                    Action::Dial { conn, endpoint } | Action::Probe { conn, endpoint } => {
                        prop_assert!(endpoint < endpoints);
                        dials.push(conn);
                    }
                    Action::Transmit { conn, id, text } => writes.push((conn, id, text.len())),
                    Action::Abort { conn } | Action::Close { conn, .. } => {
                        dials.retain(|c| *c != conn);
                        if live == Some(conn) { live = None; }
                    }
                    Action::Ping { .. } => {}
                }
            }
            while core.poll_event().is_some() {}
            // Invariants.
            let st = core.status(now, SystemTime::now());
            prop_assert!(st.stats.queue_depth <= queue, "queue {} > {}", st.stats.queue_depth, queue);
            prop_assert!(st.stats.awaiting_ack <= queue);
            prop_assert!(st.attempt <= st.max_attempts);
            prop_assert_eq!(st.max_attempts, attempts * endpoints as u32);
            prop_assert!(st.endpoint < endpoints);
            prop_assert_eq!(st.state, core.state());
            prop_assert_eq!(st.stale, st.stale && st.state == StateKind::Connected);
            prop_assert!(st.next_retry_unix_ms.is_none() || st.state == StateKind::Reconnecting);
            prop_assert!(!st.label.is_empty());
            if let Some(r) = &st.reason {
                prop_assert!(!r.contains('\n'), "no raw newline in a reason: {r:?}");
            }
            if let Some(t) = core.poll_timeout() {
                // A deadline in the past is fired at once, never skipped.
                let _ = t;
            }
        }
    }
}
