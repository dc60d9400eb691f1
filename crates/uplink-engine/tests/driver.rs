//! The engine against the real feed simulator on 127.0.0.1: real sockets, short
//! (millisecond) intervals, and waits on observed events, never on sleeps.

mod common;

use std::time::{Duration, Instant};

use uplink_engine::core::Config;
use uplink_engine::proto::Payload;
use uplink_engine::{
    ClientConfig, Engine, EngineEvent, ErrorKind, EventStream, Handle, Outbound, StateKind,
};
use uplink_sim::{DropMode, SimConfig, Simulator};

const WAIT: Duration = Duration::from_secs(10);

/// Fast settings: 1 s heartbeat, 10 ms base backoff, no jitter.
fn fast(url: &str) -> ClientConfig {
    let mut c = ClientConfig::new(url);
    c.core = Config {
        heartbeat_interval: Duration::from_secs(1),
        pong_timeout: Duration::from_millis(500),
        idle_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        reconnect_base_delay: Duration::from_millis(10),
        reconnect_max_delay: Duration::from_millis(80),
        jitter: 0.0,
        min_uptime: Duration::from_millis(200),
        flush_interval: Duration::from_millis(1),
        ..Config::default()
    };
    c.seed = Some(1);
    c
}

async fn sim() -> Simulator {
    Simulator::start(SimConfig::default()).await.unwrap()
}

/// Waits for the first event matching `pred`; on timeout, fails showing what was seen.
async fn wait_for(
    events: &mut EventStream,
    what: &str,
    mut pred: impl FnMut(&EngineEvent) -> bool,
) -> EngineEvent {
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(ev)) => {
                if pred(&ev) {
                    return ev;
                }
                if !matches!(ev, EngineEvent::Message { .. }) {
                    seen.push(serde_json::to_string(&ev).unwrap());
                }
            }
            Ok(None) => panic!(
                "engine stopped while waiting for {what}; saw:\n{}",
                seen.join("\n")
            ),
            Err(_) => panic!("no {what} within {WAIT:?}; saw:\n{}", seen.join("\n")),
        }
    }
}

fn is_state(ev: &EngineEvent, s: StateKind) -> bool {
    matches!(ev, EngineEvent::State(st) if st.state == s)
}

async fn wait_state(events: &mut EventStream, s: StateKind) -> uplink_engine::Status {
    match wait_for(events, s.as_str(), |e| is_state(e, s)).await {
        EngineEvent::State(st) => *st,
        _ => unreachable!(),
    }
}

async fn start(c: ClientConfig) -> (Handle, EventStream) {
    let (h, mut ev) = Engine::start(c).unwrap();
    h.connect().unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    (h, ev)
}

fn order(n: u32) -> Outbound {
    Outbound::json(format!(
        r#"{{"type":"order","data":{{"symbol":"AAPL","side":"buy","qty":{n},"client_order_id":"c{n}"}}}}"#
    ))
    .unwrap()
}

/// The published status, once it satisfies `pred`; on timeout, fails showing the last.
async fn status_when(
    h: &Handle,
    what: &str,
    pred: impl FnMut(&uplink_engine::Status) -> bool,
) -> uplink_engine::Status {
    let mut rx = h.status();
    let found = tokio::time::timeout(WAIT, rx.wait_for(pred))
        .await
        .map(|r| r.map(|st| st.clone()));
    match found {
        Ok(Ok(st)) => st,
        _ => panic!(
            "no status with {what} within {WAIT:?}; last: {:?}",
            *h.status().borrow()
        ),
    }
}

/// The client order ids the simulator received, in order.
fn received_orders(s: &Simulator) -> Vec<String> {
    s.received()
        .into_iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.text).ok()?;
            (v["type"] == "order")
                .then(|| v["data"]["client_order_id"].as_str().unwrap().to_owned())
        })
        .collect()
}

#[tokio::test]
async fn server_restart_reconnects_and_delivers_the_queue_in_order_exactly_once() {
    let a = sim().await;
    let addr = a.addr();
    let (h, mut ev) = start(fast(&a.url())).await;
    h.subscribe(vec!["AAPL".into()]).unwrap();
    h.send(order(1)).unwrap();
    h.send(order(2)).unwrap();
    wait_for(&mut ev, "order 2 accepted", |e| {
        matches!(e, EngineEvent::Message { message } if matches!(&message.payload, Payload::Order(o) if o.client_order_id.as_deref() == Some("c2")))
    })
    .await;

    // The server goes away; what the trader sends meanwhile is queued.
    a.shutdown().await;
    wait_state(&mut ev, StateKind::Reconnecting).await;
    for n in 3..=7 {
        h.send(order(n)).unwrap();
    }
    status_when(&h, "5 queued", |s| s.stats.queue_depth == 5).await;

    // The server comes back on the same address: reconnect, resubscribe, flush in order.
    let b = Simulator::start(SimConfig {
        addr,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    wait_for(&mut ev, "order 7 accepted", |e| {
        matches!(e, EngineEvent::Message { message } if matches!(&message.payload, Payload::Order(o) if o.client_order_id.as_deref() == Some("c7")))
    })
    .await;
    let mut all = received_orders(&a);
    all.extend(received_orders(&b));
    assert_eq!(
        all,
        ["c1", "c2", "c3", "c4", "c5", "c6", "c7"],
        "in order, each exactly once"
    );
    let subs: Vec<_> = b
        .received()
        .into_iter()
        .filter(|r| r.text.contains("subscribe"))
        .collect();
    assert_eq!(subs.len(), 1, "the subscription set was re-sent once");
    assert!(subs[0].text.contains("AAPL"));
    let st = h.status().borrow().clone();
    assert_eq!((st.stats.queue_depth, st.stats.reconnections), (0, 1));
    h.shutdown().await;
}

#[tokio::test]
async fn a_silent_server_is_detected_within_interval_plus_deadline() {
    let s = sim().await;
    let mut c = fast(&s.url());
    c.core.heartbeat_interval = Duration::from_millis(300);
    c.core.pong_timeout = Duration::from_millis(200);
    c.core.idle_timeout = Duration::from_secs(5);
    let (h, mut ev) = start(c).await;
    // Let one heartbeat complete, so the link is known good.
    wait_for(&mut ev, "a latency sample", |e| {
        matches!(e, EngineEvent::Latency(_))
    })
    .await;
    s.set_silent(true);
    let silenced = Instant::now();
    wait_for(&mut ev, "heartbeat timeout", |e| {
        matches!(
            e,
            EngineEvent::Error {
                kind: ErrorKind::HeartbeatTimeout,
                ..
            }
        )
    })
    .await;
    let took = silenced.elapsed();
    let st = wait_state(&mut ev, StateKind::Reconnecting).await;
    assert_eq!(st.error_kind, Some(ErrorKind::HeartbeatTimeout));
    // interval + deadline = 500 ms; allow scheduling slack on a shared machine.
    assert!(
        took < Duration::from_millis(500) + Duration::from_millis(700),
        "detected after {took:?}"
    );
    // The TCP connection was still open: the server did not close it.
    assert!(s.stats().connections_open >= 1);
    s.set_silent(false);
    wait_state(&mut ev, StateKind::Connected).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_close_with_a_code_leads_to_reconnecting_with_the_reason() {
    let s = sim().await;
    let (h, mut ev) = start(fast(&s.url())).await;
    s.drop_all(DropMode::Close { code: 1012 });
    let st = wait_state(&mut ev, StateKind::Reconnecting).await;
    let reason = st.reason.unwrap();
    assert!(reason.contains("code 1012 service restart"), "{reason}");
    assert_eq!(st.error_kind, Some(ErrorKind::ServerClosed));
    wait_state(&mut ev, StateKind::Connected).await;

    // A TCP reset is an I/O error, and also recovers.
    s.drop_all(DropMode::Reset);
    let st = wait_state(&mut ev, StateKind::Reconnecting).await;
    assert_eq!(st.error_kind, Some(ErrorKind::Io), "{:?}", st.reason);
    wait_state(&mut ev, StateKind::Connected).await;
    h.shutdown().await;
}

#[tokio::test]
async fn a_401_at_the_handshake_is_an_authentication_error_without_retries() {
    let s = Simulator::start(SimConfig {
        token: Some("right".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = fast(&s.url());
    c.token = Some("wrong".into());
    let (h, mut ev) = Engine::start(c).unwrap();
    h.connect().unwrap();
    let st = wait_state(&mut ev, StateKind::Error).await;
    assert_eq!(st.error_kind, Some(ErrorKind::Auth));
    let reason = st.reason.unwrap();
    assert!(
        reason.starts_with("authentication failed: HTTP 401"),
        "{reason}"
    );
    assert!(
        st.url.contains("token=***") && !st.url.contains("wrong"),
        "{}",
        st.url
    );
    // No tight loop: one refused handshake, and it stays that way.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.stats().handshakes_refused, 1);
    // With the right token a manual reconnect works.
    let mut c = fast(&s.url());
    c.token = Some("right".into());
    h.reconfigure(&c).unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    h.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_counted_and_the_connection_kept() {
    let s = sim().await;
    let (h, mut ev) = start(fast(&s.url())).await;
    s.send_malformed();
    let e = wait_for(&mut ev, "malformed error", |e| {
        matches!(e, EngineEvent::Error { .. })
    })
    .await;
    assert!(matches!(
        e,
        EngineEvent::Error {
            kind: ErrorKind::MalformedMessage,
            ..
        }
    ));
    let st = h.status().borrow().clone();
    assert_eq!(st.state, StateKind::Connected);
    assert_eq!(st.stats.malformed_messages, 1);
    assert_eq!(s.stats().connections_total, 1, "no reconnect");
    h.shutdown().await;
}

#[tokio::test]
async fn an_oversized_message_is_refused_per_the_limit_and_the_link_recovers() {
    let s = sim().await;
    let mut c = fast(&s.url());
    c.max_message_size = 64 * 1024;
    c.max_frame_size = 64 * 1024;
    let (h, mut ev) = start(c).await;
    // Under the limit: delivered as usual.
    s.send_oversized(32 * 1024);
    wait_for(&mut ev, "the 32 KiB message", |e| {
        matches!(e, EngineEvent::Message { .. })
    })
    .await;
    // Over it: refused, reported, connection replaced.
    s.send_oversized(200 * 1024);
    let e = wait_for(&mut ev, "too-large error", |e| {
        matches!(e, EngineEvent::Error { .. })
    })
    .await;
    assert!(
        matches!(
            e,
            EngineEvent::Error {
                kind: ErrorKind::MessageTooLarge,
                ..
            }
        ),
        "{e:?}"
    );
    wait_state(&mut ev, StateKind::Reconnecting).await;
    wait_state(&mut ev, StateKind::Connected).await;
    let st = h.status().borrow().clone();
    assert_eq!(st.stats.errors_by_kind[&ErrorKind::MessageTooLarge], 1);
    h.shutdown().await;
}

#[tokio::test]
async fn a_message_of_many_socket_reads_arrives_whole_over_ws_and_wss() {
    // The driver reads at most 32 KiB from the socket at a time: a 1 MiB message
    // takes 32 reads or more, over plain TCP and through TLS records.
    const SIZE: usize = 1 << 20;
    for tls in [false, true] {
        let s = Simulator::start(SimConfig {
            tls,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let mut c = fast(&s.url());
        if tls {
            c.extra_ca_file = Some(common::sim_ca_file(&s));
        }
        let (h, mut ev) = start(c).await;
        s.send_oversized(SIZE);
        let e = wait_for(&mut ev, "the 1 MiB message", |e| {
            matches!(e, EngineEvent::Message { message } if matches!(message.payload, Payload::Other(_)))
        })
        .await;
        let EngineEvent::Message { message } = e else {
            unreachable!()
        };
        let Payload::Other(m) = &message.payload else {
            unreachable!()
        };
        let pad = m["data"]["pad"].as_str().unwrap();
        let frame = r#"{"type":"padding","data":{"pad":""}}"#;
        assert_eq!(pad.len(), SIZE - frame.len(), "tls: {tls}");
        assert!(pad.bytes().all(|b| b == b'x'), "tls: {tls}");
        let st = h.status().borrow().clone();
        assert_eq!(st.stats.errors_by_kind.values().sum::<u64>(), 0, "{st:?}");
        h.shutdown().await;
    }
}

#[tokio::test]
async fn refused_connections_walk_the_backoff_up_to_error() {
    let s = sim().await;
    let mut c = fast(&s.url());
    c.core.max_reconnect_attempts = 3;
    let (h, mut ev) = start(c).await;
    s.refuse(None);
    s.drop_all(DropMode::Close { code: 1001 });
    let st = wait_state(&mut ev, StateKind::Error).await;
    assert!(st.gave_up);
    let reason = st.reason.unwrap();
    assert!(
        reason.starts_with("gave up after 3 attempts: connection refused by 127.0.0.1:"),
        "{reason}"
    );
    assert_eq!(st.stats.reconnect_attempts, 3);
    // Manual reconnect re-arms once the server accepts again.
    s.accept();
    h.reconnect().unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    h.shutdown().await;
}

#[tokio::test]
async fn disconnect_stays_disconnected_and_keeps_the_queue() {
    let s = sim().await;
    let (h, mut ev) = start(fast(&s.url())).await;
    h.disconnect().unwrap();
    let st = wait_state(&mut ev, StateKind::Disconnected).await;
    assert_eq!(st.reason.as_deref(), Some("disconnected by user"));
    h.send(order(1)).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let st = status_when(&h, "the order queued", |s| s.stats.queue_depth == 1).await;
    assert_eq!(st.state, StateKind::Disconnected);
    assert!(received_orders(&s).is_empty());
    h.connect().unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    wait_for(&mut ev, "order accepted", |e| {
        matches!(e, EngineEvent::Message { .. })
    })
    .await;
    assert_eq!(received_orders(&s), ["c1"]);
    h.shutdown().await;
}

#[tokio::test]
async fn queue_overflow_is_reported_for_every_drop() {
    let s = sim().await;
    let mut c = fast(&s.url());
    c.core.queue_size = 2;
    let (h, mut ev) = Engine::start(c).unwrap();
    let ids: Vec<_> = (1..=4).map(|n| h.send(order(n)).unwrap()).collect();
    for (want, total) in [(ids[0], 1), (ids[1], 2)] {
        match wait_for(&mut ev, "queue drop", |e| {
            matches!(e, EngineEvent::QueueDropped { .. })
        })
        .await
        {
            EngineEvent::QueueDropped { id, total: t } => assert_eq!((id, t), (want, total)),
            _ => unreachable!(),
        }
    }
    h.connect().unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    for _ in 0..2 {
        wait_for(&mut ev, "order accepted", |e| {
            matches!(e, EngineEvent::Message { message } if matches!(&message.payload, Payload::Order(o) if o.status == Some(uplink_engine::proto::OrderStatus::Accepted)))
        })
        .await;
    }
    assert_eq!(received_orders(&s), ["c3", "c4"]);
    h.shutdown().await;
}

#[tokio::test]
async fn wss_is_validated_and_an_extra_ca_can_be_trusted() {
    let s = Simulator::start(SimConfig {
        tls: true,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    // Unknown issuer: a TLS error, fatal (no retry loop).
    let (h, mut ev) = Engine::start(fast(&s.url())).unwrap();
    h.connect().unwrap();
    let st = wait_state(&mut ev, StateKind::Error).await;
    assert_eq!(st.error_kind, Some(ErrorKind::Tls), "{:?}", st.reason);
    let reason = st.reason.unwrap();
    assert!(
        reason.contains("signed by an authority this machine does not trust")
            && reason.contains("CA file"),
        "which check failed, and what to do: {reason}"
    );
    h.shutdown().await;

    let mut c = fast(&s.url());
    c.extra_ca_file = Some(common::sim_ca_file(&s));
    let (h, mut ev) = start(c).await;
    wait_for(&mut ev, "a latency sample over wss", |e| {
        matches!(e, EngineEvent::Latency(_))
    })
    .await;
    h.shutdown().await;
}

#[tokio::test]
async fn reconfiguring_moves_to_a_new_feed_keeping_subscriptions() {
    let a = sim().await;
    let b = sim().await;
    let (h, mut ev) = start(fast(&a.url())).await;
    h.subscribe(vec!["MSFT".into()]).unwrap();
    let mut bad = fast(&b.url());
    bad.url = "http://nope".into();
    assert!(h.reconfigure(&bad).is_err(), "refused, nothing changes");
    h.reconfigure(&fast(&b.url())).unwrap();
    let st = loop {
        let st = wait_state(&mut ev, StateKind::Connected).await;
        if st.url == b.url() {
            break st;
        }
    };
    assert_eq!(st.subscriptions, ["MSFT"]);
    wait_for(&mut ev, "an MSFT update from b", |e| {
        matches!(e, EngineEvent::Message { message } if matches!(&message.payload, Payload::Update(u) if u.symbol == "MSFT"))
    })
    .await;
    assert_eq!(b.stats().connections_total, 1);
    h.shutdown().await;
}

#[tokio::test]
async fn bad_commands_are_refused_at_once() {
    let s = sim().await;
    let (h, _ev) = Engine::start(fast(&s.url())).unwrap();
    assert!(Outbound::json("not json")
        .unwrap_err()
        .to_string()
        .starts_with("invalid message"));
    assert!(Outbound::json(r#"{"no":"type"}"#).is_err());
    assert!(h.subscribe(vec!["has space".into()]).is_err());
    h.shutdown().await;
    assert!(matches!(
        h.connect(),
        Err(uplink_engine::EngineError::Stopped)
    ));
}

/// The driver's one clock is tokio's, so a whole backoff schedule runs in virtual time:
/// 1 + 2 + 4 + 4 s of waiting pass in no real time, and the status shows each attempt.
/// (Only refused dials on loopback here: the kernel answers those at once.)
#[tokio::test(start_paused = true)]
async fn the_backoff_schedule_runs_on_tokio_time() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/ws", closed.local_addr().unwrap());
    drop(closed);
    let mut c = fast(&url);
    c.core.reconnect_base_delay = Duration::from_secs(1);
    c.core.reconnect_max_delay = Duration::from_secs(4);
    c.core.max_reconnect_attempts = 4;
    c.core.connect_timeout = Duration::from_secs(600);
    let (h, mut ev) = Engine::start(c).unwrap();
    let real = Instant::now();
    let start = tokio::time::Instant::now();
    h.connect().unwrap();
    let mut retries = Vec::new();
    let st = loop {
        match ev.recv().await.expect("engine running") {
            EngineEvent::Retrying {
                attempt, in_secs, ..
            } => retries.push((attempt, in_secs)),
            EngineEvent::State(st) if st.state == StateKind::Error => break st,
            _ => {}
        }
    };
    assert_eq!(retries, [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0)]);
    assert!(st.gave_up);
    let virtual_elapsed = start.elapsed();
    assert!(
        virtual_elapsed >= Duration::from_secs(11) && virtual_elapsed < Duration::from_secs(12),
        "{virtual_elapsed:?}"
    );
    assert!(real.elapsed() < Duration::from_secs(5), "no real waiting");
    assert_eq!(h.status().borrow().label.split(" · ").next(), Some("Error"));
    h.shutdown().await;
}

/// A feed that keeps answering pings but stops sending prices turns the connection
/// stale within `stale_after`, and fresh again when prices resume; a halted symbol is
/// stale on its own while the others tick.
#[tokio::test]
async fn a_stalled_feed_is_stale_while_pongs_continue_and_fresh_when_prices_resume() {
    let s = Simulator::start(SimConfig {
        rate: 100.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = fast(&s.url());
    c.core.heartbeat_interval = Duration::from_millis(100);
    c.core.stale_after = Duration::from_millis(400);
    let (h, mut ev) = start(c).await;
    h.subscribe(vec!["AAPL".into(), "MSFT".into()]).unwrap();
    wait_for(&mut ev, "an MSFT price", |e| {
        matches!(e, EngineEvent::Message { message } if matches!(&message.payload, Payload::Update(u) if u.symbol == "MSFT"))
    })
    .await;

    // MSFT halts; AAPL ticks on: the symbol is stale, the feed is not.
    s.stall(false, &["MSFT"]);
    let st = status_when(&h, "MSFT stale", |s| {
        s.symbols.iter().any(|x| x.symbol == "MSFT" && x.stale)
    })
    .await;
    assert!(!st.stale, "{st:?}");
    assert!(
        !st.symbols
            .iter()
            .find(|x| x.symbol == "AAPL")
            .unwrap()
            .stale
    );

    // Everything stops; pongs go on.
    s.stall(true, &[]);
    let stalled_at = Instant::now();
    match wait_for(&mut ev, "stale", |e| matches!(e, EngineEvent::Stale { .. })).await {
        EngineEvent::Stale { symbols, age_secs } => {
            assert_eq!(symbols, ["AAPL", "MSFT"]);
            assert!(age_secs >= 0.4, "{age_secs}");
        }
        _ => unreachable!(),
    }
    let st = status_when(&h, "the stale flag", |s| s.stale).await;
    assert_eq!(st.state, StateKind::Connected);
    assert!(
        st.label.starts_with("Connected · prices stale "),
        "{}",
        st.label
    );
    assert!(stalled_at.elapsed() < Duration::from_secs(3));
    // Latency keeps being measured: pongs still come.
    wait_for(&mut ev, "a pong while stale", |e| {
        matches!(e, EngineEvent::Latency(_))
    })
    .await;

    s.stall(false, &[]);
    wait_for(&mut ev, "fresh", |e| matches!(e, EngineEvent::Fresh { .. })).await;
    status_when(&h, "fresh", |s| {
        !s.stale && s.symbols.iter().all(|x| !x.stale)
    })
    .await;
    h.shutdown().await;
}

/// The feed's clock, set 5 s ahead in the simulator, is estimated from ping/pong
/// timestamps, and the feed delay is corrected by it.
#[tokio::test]
async fn the_feeds_clock_offset_is_estimated_and_the_delay_corrected() {
    let s = Simulator::start(SimConfig {
        rate: 50.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    s.set_clock_offset(5_000);
    let mut c = fast(&s.url());
    c.core.heartbeat_interval = Duration::from_millis(100);
    let (h, mut ev) = start(c).await;
    h.subscribe(vec!["AAPL".into()]).unwrap();
    wait_for(&mut ev, "the skew warning", |e| {
        matches!(e, EngineEvent::ClockSkew { skewed: true, .. })
    })
    .await;
    let st = status_when(&h, "delay samples", |s| s.feed_delay.samples >= 5).await;
    let offset = st.clock_offset_ms.unwrap();
    assert!((offset - 5_000.0).abs() < 100.0, "offset {offset}");
    assert!(st.clock_skewed);
    // On loopback the corrected delay is small, not 5 s.
    let p50 = st.feed_delay.p50_ms.unwrap();
    assert!(p50 < 200.0, "feed delay p50 {p50} ms");
    h.shutdown().await;
}

/// Orders seen by the simulator with their client order ids, per connection.
fn orders_received(s: &Simulator) -> Vec<(u64, String)> {
    s.received()
        .into_iter()
        .filter_map(|r| {
            let v: serde_json::Value = serde_json::from_str(&r.text).ok()?;
            (v["type"] == "order").then(|| {
                (
                    r.conn,
                    v["data"]["client_order_id"].as_str().unwrap().to_owned(),
                )
            })
        })
        .collect()
}

/// How many `filled` updates the client saw per client order id.
async fn fills_until(
    ev: &mut EventStream,
    want: &[&str],
) -> std::collections::BTreeMap<String, u32> {
    let mut fills = std::collections::BTreeMap::new();
    while !want.iter().all(|c| fills.contains_key(*c)) {
        let e = wait_for(ev, "fills", |e| {
            matches!(e, EngineEvent::Message { message } if matches!(&message.payload, Payload::Order(o) if o.status == Some(uplink_engine::proto::OrderStatus::Filled)))
        })
        .await;
        if let EngineEvent::Message { message } = e {
            if let Payload::Order(o) = message.payload {
                *fills.entry(o.client_order_id.unwrap()).or_insert(0) += 1;
            }
        }
    }
    fills
}

/// The feed's kernel accepts the order's write, the feed reads nothing and resets:
/// the order is re-sent on the next connection with the same client order id, before
/// the order queued after it, and filled exactly once.
#[tokio::test]
async fn an_order_lost_in_a_reset_is_resent_once_and_filled_once() {
    let s = Simulator::start(SimConfig {
        order_step: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (h, mut ev) = start(fast(&s.url())).await;
    s.fault_next_order(uplink_sim::OrderFault::ResetUnread);
    let id1 = h.send(order(1)).unwrap();
    wait_for(
        &mut ev,
        "sent",
        |e| matches!(e, EngineEvent::Sent { id } if *id == id1),
    )
    .await;
    let id2 = h.send(order(2)).unwrap();
    wait_for(
        &mut ev,
        "resent",
        |e| matches!(e, EngineEvent::Resent { id } if *id == id1),
    )
    .await;
    let fills = fills_until(&mut ev, &["c1", "c2"]).await;
    assert_eq!(
        fills.values().copied().collect::<Vec<_>>(),
        [1, 1],
        "{fills:?}"
    );
    let got = orders_received(&s);
    assert_eq!(
        got.iter().map(|(_, c)| c.as_str()).collect::<Vec<_>>(),
        ["c1", "c2"],
        "the lost write was never read; the re-send came first, then the newer order: {got:?}"
    );
    assert_eq!(s.stats().orders_executed, 2);
    let st = h.status().borrow().clone();
    assert_eq!(st.stats.awaiting_ack, 0);
    let _ = id2;
    h.shutdown().await;
}

/// The feed executes the order, then resets before acknowledging it: the re-send is
/// deduplicated by client order id, so it executes once and fills once.
#[tokio::test]
async fn an_order_executed_but_not_acknowledged_is_deduplicated_on_resend() {
    let s = Simulator::start(SimConfig {
        order_step: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let (h, mut ev) = start(fast(&s.url())).await;
    s.fault_next_order(uplink_sim::OrderFault::ResetBeforeAck);
    let id = h.send(order(7)).unwrap();
    wait_for(
        &mut ev,
        "resent",
        |e| matches!(e, EngineEvent::Resent { id: i } if *i == id),
    )
    .await;
    wait_for(
        &mut ev,
        "acked",
        |e| matches!(e, EngineEvent::Acked { id: i, .. } if *i == id),
    )
    .await;
    let fills = fills_until(&mut ev, &["c7"]).await;
    assert_eq!(fills["c7"], 1);
    let stats = s.stats();
    assert_eq!((stats.orders_executed, stats.orders_deduplicated), (1, 1));
    let got = orders_received(&s);
    assert_eq!(got.len(), 2, "sent twice, on two connections: {got:?}");
    assert_ne!(got[0].0, got[1].0);
    h.shutdown().await;
}

/// With `unacked_orders = hold`, nothing is re-sent: the order is reported
/// unconfirmed, and goes out again only when the trader says so.
#[tokio::test]
async fn with_hold_an_unacknowledged_order_is_reported_not_resent() {
    let s = Simulator::start(SimConfig::default()).await.unwrap();
    let mut c = fast(&s.url());
    c.core.unacked_orders = uplink_engine::UnackedOrders::Hold;
    let (h, mut ev) = start(c).await;
    s.fault_next_order(uplink_sim::OrderFault::ResetUnread);
    let id = h.send(order(3)).unwrap();
    match wait_for(&mut ev, "unconfirmed", |e| {
        matches!(e, EngineEvent::Unconfirmed { .. })
    })
    .await
    {
        EngineEvent::Unconfirmed { id: i, reason } => {
            assert_eq!(
                (i, reason),
                (id, uplink_engine::Unconfirmed::ConnectionLost)
            );
        }
        _ => unreachable!(),
    }
    wait_state(&mut ev, StateKind::Connected).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(orders_received(&s).is_empty(), "nothing re-sent by itself");
    h.resend(id).await.unwrap();
    wait_for(
        &mut ev,
        "acked",
        |e| matches!(e, EngineEvent::Acked { id: i, .. } if *i == id),
    )
    .await;
    assert_eq!(orders_received(&s).len(), 1);
    assert!(
        h.discard(id).await.is_err(),
        "acknowledged: nothing to discard"
    );
    h.shutdown().await;
}

/// Moving to another feed: what was queued for the old one is reported expired
/// (`feed_changed`) and never reaches the new one, whose connection gets only what
/// is sent after the change.
#[tokio::test]
async fn a_new_feed_url_gets_nothing_queued_for_the_old_one() {
    let old = sim().await;
    let new = sim().await;
    let (h, mut ev) = Engine::start(fast(&old.url())).unwrap();
    // Offline: both orders wait in the queue.
    let first = h.send(order(1)).unwrap();
    let second = h.send(order(2)).unwrap();
    h.reconfigure(&fast(&new.url())).unwrap();
    let mut expired = Vec::new();
    wait_for(&mut ev, "both queued orders expired", |e| {
        if let EngineEvent::Expired { id, reason } = e {
            assert_eq!(*reason, uplink_engine::Expiry::FeedChanged);
            expired.push(*id);
        }
        expired.len() == 2
    })
    .await;
    assert_eq!(expired, [first, second]);
    h.connect().unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    h.send(order(3)).unwrap();
    wait_for(&mut ev, "the new order acknowledged", |e| {
        matches!(e, EngineEvent::Acked { .. })
    })
    .await;
    let got: Vec<String> = orders_received(&new).into_iter().map(|(_, c)| c).collect();
    assert_eq!(got, ["c3"], "only what was sent after the change");
    assert!(orders_received(&old).is_empty());
    h.shutdown().await;
}

/// The rate limit refuses at once, saying when the next slot opens; an order without
/// a client order id gets one from the engine. Heartbeats and subscriptions do not
/// count against it.
#[tokio::test]
async fn sends_over_the_rate_limit_are_refused_with_the_wait() {
    let s = sim().await;
    let mut c = fast(&s.url());
    c.core.rate_limit = Some(uplink_engine::core::RateLimit {
        max: 2,
        window: Duration::from_secs(60),
    });
    let (h, mut ev) = start(c).await;
    // Three subscription changes and a heartbeat's round trip first: none is a send.
    h.subscribe(vec!["AAPL".into()]).unwrap();
    h.unsubscribe(vec!["AAPL".into()]).unwrap();
    h.subscribe(vec!["MSFT".into()]).unwrap();
    wait_for(&mut ev, "a heartbeat's round trip", |e| {
        matches!(e, EngineEvent::Latency(_))
    })
    .await;
    let bare = Outbound::json(r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":1}}"#)
        .unwrap();
    h.send(bare).unwrap();
    h.send(order(2)).unwrap();
    match h.send(order(3)) {
        Err(uplink_engine::EngineError::RateLimited {
            max, retry_in_secs, ..
        }) => {
            assert_eq!(max, 2);
            assert!(
                retry_in_secs > 59.0 && retry_in_secs <= 60.0,
                "{retry_in_secs}"
            );
        }
        other => panic!("not refused: {other:?}"),
    }
    wait_for(&mut ev, "two acks", {
        let mut n = 0;
        move |e| {
            n += usize::from(matches!(e, EngineEvent::Acked { .. }));
            n == 2
        }
    })
    .await;
    let got = orders_received(&s);
    assert!(
        got[0].1.starts_with('u') && got[0].1.ends_with("-1"),
        "{got:?}"
    );
    assert_eq!(got.len(), 2, "the refused send never left");
    h.shutdown().await;
}

/// The primary dies: traffic moves to the backup within a backoff step, and what was
/// queued meanwhile is delivered there exactly once. The primary comes back: after
/// `failback_after` the engine probes it in the background and switches back, without
/// dropping the backup first.
#[tokio::test]
async fn failover_to_the_backup_and_failback_to_the_primary() {
    let primary = sim().await;
    let addr = primary.addr();
    let backup = sim().await;
    let mut c = fast(&primary.url());
    c.backups = vec![backup.url()];
    c.core.failback_after = Duration::from_millis(600);
    let (h, mut ev) = start(c).await;
    h.subscribe(vec!["AAPL".into()]).unwrap();

    primary.shutdown().await;
    for n in 1..=3 {
        h.send(order(n)).unwrap();
    }
    match wait_for(&mut ev, "a switch to the backup", |e| {
        matches!(e, EngineEvent::EndpointSwitched { .. })
    })
    .await
    {
        EngineEvent::EndpointSwitched { from, to, url } => {
            assert_eq!((from, to, url), (0, 1, backup.url()));
        }
        _ => unreachable!(),
    }
    let st = status_when(&h, "the backup in use", |s| {
        s.state == StateKind::Connected && s.endpoint == 1
    })
    .await;
    assert!(st.label.starts_with("Connected · backup 1"), "{}", st.label);
    wait_for(&mut ev, "order 3 accepted", |e| {
        matches!(e, EngineEvent::Acked { .. }) && {
            let st = h.status().borrow().clone();
            st.stats.awaiting_ack == 0 && st.stats.queue_depth == 0
        }
    })
    .await;
    assert_eq!(
        received_orders(&backup),
        ["c1", "c2", "c3"],
        "exactly once, in order"
    );

    // The primary is back on its address; the backup stays up meanwhile.
    let primary = Simulator::start(SimConfig {
        addr,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    match wait_for(&mut ev, "the failback", |e| {
        matches!(e, EngineEvent::EndpointSwitched { .. })
    })
    .await
    {
        EngineEvent::EndpointSwitched { from, to, .. } => assert_eq!((from, to), (1, 0)),
        _ => unreachable!(),
    }
    status_when(&h, "the primary in use", |s| {
        s.state == StateKind::Connected && s.endpoint == 0
    })
    .await;
    // Re-subscribed there, and the backup's connection was closed cleanly.
    for _ in 0..100 {
        if primary
            .received()
            .iter()
            .any(|r| r.text.contains("subscribe"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(primary.received().iter().any(|r| r.text.contains("AAPL")));
    for _ in 0..100 {
        if backup.stats().connections_open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(backup.stats().connections_open, 0);
    assert!(received_orders(&primary).is_empty(), "nothing sent twice");
    h.shutdown().await;
}

/// Three endpoints, the first two down: the third is reached, and breakers open on
/// the dead ones.
#[tokio::test]
async fn the_first_live_endpoint_in_order_is_used_and_dead_ones_are_skipped() {
    let dead1 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead2 = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (a1, a2) = (dead1.local_addr().unwrap(), dead2.local_addr().unwrap());
    drop((dead1, dead2));
    let live = sim().await;
    let mut c = fast(&format!("ws://{a1}/ws"));
    c.backups = vec![format!("ws://{a2}/ws"), live.url()];
    c.core.breaker_threshold = 1;
    let (h, mut ev) = Engine::start(c).unwrap();
    h.connect().unwrap();
    wait_state(&mut ev, StateKind::Connected).await;
    let st = h.status().borrow().clone();
    assert_eq!(st.endpoint, 2);
    assert_eq!(
        st.endpoints.iter().map(|e| e.breaker).collect::<Vec<_>>(),
        [
            uplink_engine::core::BreakerState::Open,
            uplink_engine::core::BreakerState::Open,
            uplink_engine::core::BreakerState::Closed
        ]
    );
    h.shutdown().await;
}

/// A server that echoes the request line (token and all) in its 401 body: the reason,
/// the last error and every event are free of the token; a newline in the body cannot
/// start a forged line.
#[tokio::test]
async fn a_server_echoing_the_token_never_gets_it_into_any_output() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = s.read(&mut buf).await.unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let line = req.lines().next().unwrap_or("").to_owned();
            let body = format!("denied: {line}\nINFO forged line");
            let resp = format!(
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    let mut c = fast(&format!("ws://{addr}/ws"));
    c.token = Some("s3cr3t-t0ken-123".into());
    let (h, mut ev) = Engine::start(c).unwrap();
    h.connect().unwrap();
    let mut seen = Vec::new();
    let st = loop {
        let e = tokio::time::timeout(WAIT, ev.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(serde_json::to_string(&e).unwrap());
        if let EngineEvent::State(st) = e {
            if st.state == StateKind::Error {
                break *st;
            }
        }
    };
    let status = serde_json::to_string(&*h.status().borrow()).unwrap();
    let all = format!("{status}\n{}", seen.join("\n"));
    assert!(!all.contains("s3cr3t"), "{all}");
    let reason = st.reason.unwrap();
    assert!(reason.contains("token=***"), "{reason}");
    assert!(
        reason.contains("\\nINFO forged line") && !reason.contains('\n'),
        "{reason}"
    );
    h.shutdown().await;
}

/// A subscriber that never reads, under a firehose: the engine keeps reading, keeps
/// its heartbeat and answers commands; the stalled stream loses price updates
/// (counted), never state changes; memory stays bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_subscriber_never_stalls_the_engine() {
    let s = Simulator::start(SimConfig {
        rate: 0.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut c = fast(&s.url());
    c.core.heartbeat_interval = Duration::from_millis(200);
    c.core.pong_timeout = Duration::from_secs(2);
    c.core.idle_timeout = Duration::from_secs(5);
    let (h, mut stalled) = Engine::start(c).unwrap();
    h.subscribe(vec!["AAPL".into(), "MSFT".into()]).unwrap();
    h.connect().unwrap();
    let start_rss = common::rss_mb();
    // Nobody reads `stalled` for three seconds of firehose.
    let until = Instant::now() + Duration::from_secs(3);
    let mut peak = start_rss;
    let mut samples_seen = Vec::new();
    while Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(250)).await;
        peak = peak.max(common::rss_mb());
        samples_seen.push(h.status().borrow().latency.samples);
    }
    let st = h.status().borrow().clone();
    assert_eq!(st.state, StateKind::Connected, "{:?}", st.reason);
    assert!(
        st.stats.events_dropped > 0,
        "the stalled stream lost prices: {:?}",
        st.stats
    );
    assert!(
        samples_seen.last() > samples_seen.first(),
        "heartbeats went on: {samples_seen:?}"
    );
    assert!(
        peak - start_rss < 200.0,
        "memory bounded: {start_rss:.0} → {peak:.0} MB"
    );
    // Commands still work at once.
    h.disconnect().unwrap();
    status_when(&h, "disconnected", |s| s.state == StateKind::Disconnected).await;
    // The stalled stream still gets every state change, in order.
    let mut states = Vec::new();
    while let Ok(Some(e)) = tokio::time::timeout(Duration::from_secs(2), stalled.recv()).await {
        if let EngineEvent::State(st) = e {
            states.push(st.state);
            if st.state == StateKind::Disconnected {
                break;
            }
        }
    }
    assert_eq!(
        states,
        [
            StateKind::Connecting,
            StateKind::Connected,
            StateKind::Disconnected
        ]
    );
    h.shutdown().await;
}
