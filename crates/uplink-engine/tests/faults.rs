//! The fault matrix's cases that need a hostile peer of their own: small servers on
//! 127.0.0.1 that misbehave in one precise way each. Every case checks the states
//! seen, that the token never appears in any output (events and status), and that the
//! process's memory stays bounded. RELIABILITY.md maps every case to its test.

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use uplink_engine::core::Config;
use uplink_engine::{ClientConfig, Engine, EngineEvent, ErrorKind, Handle, StateKind};
use uplink_sim::{SimConfig, Simulator};

const TOKEN: &str = "t0ken-never-shown";
const WAIT: Duration = Duration::from_secs(10);

fn config(url: &str) -> ClientConfig {
    let mut c = ClientConfig::new(url);
    c.token = Some(TOKEN.into());
    c.core = Config {
        heartbeat_interval: Duration::from_millis(300),
        pong_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_millis(500),
        reconnect_base_delay: Duration::from_millis(20),
        reconnect_max_delay: Duration::from_millis(50),
        max_reconnect_attempts: 3,
        jitter: 0.0,
        ..Config::default()
    };
    c
}

/// Runs the engine until `done` says so (or WAIT), collecting every event as JSON
/// and the states seen; checks the token appears nowhere.
async fn observe(
    c: ClientConfig,
    mut done: impl FnMut(&EngineEvent, &[StateKind]) -> bool,
) -> (Handle, Vec<StateKind>, Vec<String>) {
    let (h, mut ev) = Engine::start(c).unwrap();
    h.connect().unwrap();
    let until = Instant::now() + WAIT;
    let (mut states, mut seen) = (Vec::new(), Vec::new());
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(Some(e)) = tokio::time::timeout(left, ev.recv()).await else {
            panic!("not done within {WAIT:?}; states {states:?}; saw {seen:#?}");
        };
        seen.push(serde_json::to_string(&e).unwrap());
        if let EngineEvent::State(st) = &e {
            states.push(st.state);
        }
        if done(&e, &states) {
            break;
        }
    }
    let status = serde_json::to_string(&*h.status().borrow()).unwrap();
    assert!(
        !status.contains(TOKEN) && seen.iter().all(|s| !s.contains(TOKEN)),
        "the token leaked: {status}\n{seen:#?}"
    );
    (h, states, seen)
}

/// A server that answers every upgrade with this raw HTTP response.
async fn http_server(response: &'static str) -> String {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(response.as_bytes()).await;
        }
    });
    format!("ws://{addr}/ws")
}

/// Accepts the upgrade, then runs `then` on the raw stream.
async fn ws_server<F, Fut>(then: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let then = std::sync::Arc::new(then);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let then = std::sync::Arc::clone(&then);
            tokio::spawn(async move {
                let mut s = s;
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                while !req.ends_with(b"\r\n\r\n") {
                    if s.read(&mut b).await.unwrap_or(0) == 0 {
                        return;
                    }
                    req.push(b[0]);
                }
                let text = String::from_utf8_lossy(&req).to_string();
                let key = text
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("Sec-WebSocket-Key: ")
                            .or_else(|| l.strip_prefix("sec-websocket-key: "))
                    })
                    .unwrap_or("")
                    .trim()
                    .to_owned();
                let accept =
                    tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
                let resp = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                );
                if s.write_all(resp.as_bytes()).await.is_ok() {
                    then(s).await;
                }
            });
        }
    });
    format!("ws://{addr}/ws")
}

#[tokio::test]
async fn http_403_is_an_authentication_error_and_500_is_retried() {
    let url = http_server("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n").await;
    let (h, states, _) = observe(config(&url), |_, s| s.last() == Some(&StateKind::Error)).await;
    assert_eq!(
        states,
        [StateKind::Connecting, StateKind::Error],
        "no retry loop"
    );
    assert_eq!(h.status().borrow().error_kind, Some(ErrorKind::Auth));
    h.shutdown().await;

    let url =
        http_server("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops").await;
    let (h, states, _) = observe(config(&url), |_, s| s.last() == Some(&StateKind::Error)).await;
    assert_eq!(
        states,
        [
            StateKind::Connecting,
            StateKind::Reconnecting,
            StateKind::Error
        ],
        "retried, then gave up"
    );
    let st = h.status().borrow().clone();
    assert!(st.gave_up);
    assert!(st.reason.unwrap().contains("HTTP 500"));
    h.shutdown().await;
}

/// A name that does not resolve (`.invalid` is reserved, RFC 6761: no resolver
/// answers it): `connect_failed` naming the host and the lookup, the backoff, then
/// give-up; the queued order stays queued, not lost.
#[tokio::test]
async fn a_name_that_does_not_resolve_is_a_connect_failure_that_names_it() {
    let mut c = config("ws://feed.uplink-test.invalid:9000/ws");
    c.core.connect_timeout = Duration::from_secs(5);
    c.core.max_reconnect_attempts = 2;
    let (h, mut ev) = Engine::start(c).unwrap();
    let order = uplink_engine::Outbound::json(
        r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":1}}"#,
    )
    .unwrap();
    h.send(order).unwrap();
    h.connect().unwrap();
    let until = Instant::now() + WAIT;
    let mut states = Vec::new();
    while states.last() != Some(&StateKind::Error) {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(Some(e)) = tokio::time::timeout(left, ev.recv()).await else {
            panic!("no give-up within {WAIT:?}: {states:?}");
        };
        if let EngineEvent::State(st) = e {
            states.push(st.state);
        }
    }
    assert_eq!(
        states,
        [
            StateKind::Connecting,
            StateKind::Reconnecting,
            StateKind::Error
        ]
    );
    let st = h.status().borrow().clone();
    assert!(st.gave_up);
    assert_eq!(
        st.stats.errors_by_kind.get(&ErrorKind::ConnectFailed),
        Some(&3),
        "the first dial and two retries: {:?}",
        st.stats.errors_by_kind
    );
    assert_eq!(
        st.stats.errors_by_kind.len(),
        1,
        "{:?}",
        st.stats.errors_by_kind
    );
    let reason = st.reason.unwrap();
    assert!(
        reason.contains("feed.uplink-test.invalid:9000")
            && reason.contains("its name lookup failed"),
        "{reason}"
    );
    assert_eq!(st.stats.queue_depth, 1, "the order waits; nothing is lost");
    h.shutdown().await;
}

#[tokio::test]
async fn a_handshake_that_never_completes_times_out_into_the_backoff() {
    let s = Simulator::start(SimConfig::default()).await.unwrap();
    s.set_silent(true);
    let (h, _, _) = observe(config(&s.url()), |_, s| {
        s.iter().filter(|x| **x == StateKind::Reconnecting).count() >= 1
    })
    .await;
    let st = h.status().borrow().clone();
    assert_eq!(
        st.error_kind,
        Some(ErrorKind::ConnectTimeout),
        "{:?}",
        st.reason
    );
    h.shutdown().await;
}

#[tokio::test]
async fn clean_closes_of_every_code_class_reconnect_with_the_code_in_the_reason() {
    for code in [1000u16, 1001, 1011, 4000] {
        let s = Simulator::start(SimConfig::default()).await.unwrap();
        let (h, mut ev) = Engine::start(config(&s.url())).unwrap();
        h.connect().unwrap();
        let until = Instant::now() + WAIT;
        while h.status().borrow().state != StateKind::Connected {
            assert!(Instant::now() < until);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        s.drop_all(uplink_sim::DropMode::Close { code });
        let reason = loop {
            match tokio::time::timeout(WAIT, ev.recv())
                .await
                .unwrap()
                .unwrap()
            {
                EngineEvent::State(st) if st.state == StateKind::Reconnecting => {
                    break st.reason.unwrap()
                }
                _ => {}
            }
        };
        assert!(reason.contains(&format!("code {code}")), "{code}: {reason}");
        h.shutdown().await;
    }
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_is_a_protocol_error_and_the_link_is_replaced() {
    let url = ws_server(|mut s| async move {
        // A text frame (FIN, opcode 1), 2 bytes, not UTF-8.
        let _ = s.write_all(&[0x81, 0x02, 0xff, 0xfe]).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let (h, _, seen) = observe(config(&url), |_, s| s.contains(&StateKind::Reconnecting)).await;
    let st = h.status().borrow().clone();
    assert!(
        matches!(st.error_kind, Some(ErrorKind::Protocol | ErrorKind::Io)),
        "{st:?}\n{seen:#?}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn a_ping_flood_from_a_peer_that_never_reads_stays_bounded() {
    let url = ws_server(|mut s| async move {
        // Ping frames (FIN, opcode 9) with 125-byte payloads, as fast as the kernel
        // takes them, never reading a byte: every Ping queues a Pong on our side.
        let mut frame = vec![0x89u8, 125];
        frame.extend(std::iter::repeat_n(b'x', 125));
        let burst: Vec<u8> = frame
            .iter()
            .copied()
            .cycle()
            .take(frame.len() * 512)
            .collect();
        let until = Instant::now() + Duration::from_secs(4);
        while Instant::now() < until {
            if s.write_all(&burst).await.is_err() {
                break;
            }
        }
    })
    .await;
    let start = common::rss_mb();
    let mut c = config(&url);
    c.core.pong_timeout = Duration::from_secs(60);
    c.core.idle_timeout = Duration::from_secs(120);
    c.core.heartbeat_interval = Duration::from_secs(60);
    let (h, mut ev) = Engine::start(c).unwrap();
    h.connect().unwrap();
    let mut peak = start;
    let mut connected = false;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        while let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(50), ev.recv()).await {
            connected |= matches!(&e, EngineEvent::State(st) if st.state == StateKind::Connected);
        }
        peak = peak.max(common::rss_mb());
    }
    assert!(connected, "the flood came over an established WebSocket");
    assert!(
        peak - start < 100.0,
        "memory bounded under a ping flood: {start:.0} → {peak:.0} MB"
    );
    h.shutdown().await;
}

/// A certificate that has expired, and one for another name, each trusted as a CA
/// file: `error` (tls) at once, no retry loop, no insecure fallback, and the reason
/// says which check failed and what to do.
#[tokio::test]
async fn expired_and_misnamed_certificates_are_refused_with_the_reason() {
    for (kind, says) in [
        (uplink_sim::CertKind::Expired, "has expired"),
        (
            uplink_sim::CertKind::OtherName,
            "for another name than the one in the URL",
        ),
    ] {
        let s = Simulator::start(SimConfig {
            tls: true,
            cert: kind,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let mut c = config(&s.url());
        c.extra_ca_file = Some(common::sim_ca_file(&s));
        let (h, states, _) = observe(c, |_, s| s.last() == Some(&StateKind::Error)).await;
        assert_eq!(
            states,
            [StateKind::Connecting, StateKind::Error],
            "{kind:?}: no retry loop"
        );
        let st = h.status().borrow().clone();
        assert_eq!(st.error_kind, Some(ErrorKind::Tls), "{kind:?}");
        let reason = st.reason.unwrap();
        assert!(reason.contains(says), "{kind:?}: {reason}");
        assert_eq!(s.stats().connections_total, 0, "{kind:?}: never connected");
        h.shutdown().await;
    }
}

/// SIGTERM while the feed sends as fast as it can: the CLI stops within a second.
/// (Unix: Windows has no SIGTERM, and the CLI stops there on Ctrl-C or Ctrl-Break.)
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_stops_promptly_on_sigterm_under_a_firehose() {
    use std::io::Read;
    let s = Simulator::start(SimConfig {
        rate: 0.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_uplink"))
        .args([
            "watch",
            &s.url(),
            "--subscribe",
            "AAPL",
            "--subscribe",
            "MSFT",
        ])
        .env("RUST_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    // Read the flood (a reader that keeps up), then ask the CLI to stop.
    let reader = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0usize;
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let asked = Instant::now();
    let status = common::wait_exit(&mut child, Duration::from_secs(5), "SIGTERM").await;
    let took = asked.elapsed();
    assert!(status.success(), "{status:?}");
    let bytes = reader.join().unwrap();
    assert!(bytes > 1_000_000, "it was a flood: {bytes} bytes");
    assert!(
        took < Duration::from_secs(2),
        "stopped {took:?} after SIGTERM"
    );
}
