//! The engine through real proxy servers on 127.0.0.1: tinyproxy (HTTP CONNECT) and
//! microsocks (SOCKS5), both Debian packages, each started here with its own config;
//! ws and wss (TLS to the feed inside the tunnel), with and without credentials, and
//! the environment variables with NO_PROXY through the CLI.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use uplink_engine::core::Config;
use uplink_engine::{
    ClientConfig, Engine, EngineEvent, ErrorKind, EventStream, ProxySetting, StateKind,
};
use uplink_sim::peers::{free_port, microsocks, tinyproxy};
use uplink_sim::{SimConfig, Simulator};

const WAIT: Duration = Duration::from_secs(10);

fn config(url: &str, proxy: &str) -> ClientConfig {
    let mut c = ClientConfig::new(url);
    c.proxy = ProxySetting::Url(proxy.to_owned());
    c.token = Some("s3cr3t-token".into());
    c.core = Config {
        reconnect_base_delay: Duration::from_millis(50),
        reconnect_max_delay: Duration::from_millis(100),
        max_reconnect_attempts: 2,
        jitter: 0.0,
        ..Config::default()
    };
    c
}

async fn outcome(events: &mut EventStream) -> uplink_engine::Status {
    let until = Instant::now() + WAIT;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, events.recv()).await {
            Ok(Some(EngineEvent::State(st)))
                if matches!(st.state, StateKind::Connected | StateKind::Error) =>
            {
                return *st
            }
            Ok(Some(_)) => {}
            _ => panic!("no outcome within {WAIT:?}"),
        }
    }
}

async fn connect_through(url: &str, proxy: &str, ca: Option<PathBuf>) -> uplink_engine::Status {
    let mut c = config(url, proxy);
    c.extra_ca_file = ca;
    let (h, mut ev) = Engine::start(c).unwrap();
    h.connect().unwrap();
    let st = outcome(&mut ev).await;
    if st.state == StateKind::Connected {
        // A round trip through the tunnel.
        let until = Instant::now() + WAIT;
        while h.status().borrow().latency.samples == 0 {
            assert!(Instant::now() < until, "no pong through {proxy}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    h.shutdown().await;
    st
}

/// Both the plain and the TLS feed are reached through `proxy`.
async fn connects_to_both(ws: &Simulator, wss: &Simulator, ca: &Path, proxy: &str) {
    assert_eq!(
        connect_through(&ws.url(), proxy, None).await.state,
        StateKind::Connected,
        "ws:// through {proxy}"
    );
    assert_eq!(
        connect_through(&wss.url(), proxy, Some(ca.to_path_buf()))
            .await
            .state,
        StateKind::Connected,
        "wss:// through {proxy}"
    );
}

async fn tls_sim() -> (Simulator, PathBuf) {
    let s = Simulator::start(SimConfig {
        tls: true,
        token: Some("s3cr3t-token".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let ca = common::sim_ca_file(&s);
    (s, ca)
}

async fn plain_sim() -> Simulator {
    Simulator::start(SimConfig {
        token: Some("s3cr3t-token".into()),
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_connect_through_tinyproxy_for_ws_and_wss_with_and_without_credentials() {
    let ws = plain_sim().await;
    let (wss, ca) = tls_sim().await;
    let open = tinyproxy(None);
    let guarded = tinyproxy(Some(("alice", "pa55")));

    let p = format!("http://127.0.0.1:{}", open.port);
    connects_to_both(&ws, &wss, &ca, &p).await;
    assert!(
        open.log()
            .contains(&format!("CONNECT 127.0.0.1:{}", ws.addr().port())),
        "{}",
        open.log()
    );
    assert!(
        open.log()
            .contains(&format!("CONNECT localhost:{}", wss.addr().port()))
            || open.log().contains(&format!(":{}", wss.addr().port()))
    );

    let good = format!("http://alice:pa55@127.0.0.1:{}", guarded.port);
    assert_eq!(
        connect_through(&wss.url(), &good, Some(ca)).await.state,
        StateKind::Connected
    );

    // Wrong credentials: a clear error naming the proxy, its password masked, fatal.
    let bad = format!("http://alice:wrong@127.0.0.1:{}", guarded.port);
    let st = connect_through(&ws.url(), &bad, None).await;
    let reason = st.reason.clone().unwrap();
    assert_eq!(
        (st.state, st.error_kind),
        (StateKind::Error, Some(ErrorKind::Auth)),
        "{reason}"
    );
    assert!(
        reason.contains(&format!(
            "proxy http://alice:***@127.0.0.1:{}",
            guarded.port
        )),
        "{reason}"
    );
    assert!(
        reason.contains("wants credentials, or refused the ones given"),
        "{reason}"
    );
    assert!(
        !reason.contains("wrong") && !reason.contains("s3cr3t"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_through_microsocks_for_ws_and_wss_with_and_without_credentials() {
    let ws = plain_sim().await;
    let (wss, ca) = tls_sim().await;
    let open = microsocks(None);
    let guarded = microsocks(Some(("bob", "hunter2")));

    let p = format!("socks5://127.0.0.1:{}", open.port);
    connects_to_both(&ws, &wss, &ca, &p).await;
    let good = format!("socks5://bob:hunter2@127.0.0.1:{}", guarded.port);
    assert_eq!(
        connect_through(&wss.url(), &good, Some(ca)).await.state,
        StateKind::Connected
    );

    let bad = format!("socks5://bob:nope@127.0.0.1:{}", guarded.port);
    let st = connect_through(&ws.url(), &bad, None).await;
    let reason = st.reason.clone().unwrap();
    assert_eq!(st.error_kind, Some(ErrorKind::Auth), "{reason}");
    assert!(
        reason.contains(&format!(
            "SOCKS5 proxy socks5://bob:***@127.0.0.1:{}",
            guarded.port
        )),
        "{reason}"
    );
    assert!(!reason.contains("nope"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_that_is_not_there_is_named_in_the_error() {
    let ws = plain_sim().await;
    let port = free_port();
    let st = connect_through(&ws.url(), &format!("http://127.0.0.1:{port}"), None).await;
    let reason = st.reason.unwrap();
    assert!(
        reason.contains(&format!("cannot reach the proxy http://127.0.0.1:{port}")),
        "{reason}"
    );
    assert!(
        !reason.contains(&ws.addr().port().to_string()),
        "the proxy, not the feed: {reason}"
    );
}

/// A proxy on 127.0.0.1 that answers every CONNECT with `status`; returns its URL and
/// how many connections it took.
async fn refusing_proxy(status: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                while !req.ends_with(b"\r\n\r\n") && tcp.read(&mut b).await.unwrap_or(0) == 1 {
                    req.push(b[0]);
                }
                let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                let _ = tcp.write_all(reply.as_bytes()).await;
            });
        }
    });
    (url, accepted)
}

/// A proxy's 403 (or another refusal) is retried like any failed dial, until the
/// attempts run out; its 407 is an authentication failure, not retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_refusal_is_retried_and_its_credential_demand_is_not() {
    let ws = plain_sim().await;
    let (forbidding, tries) = refusing_proxy("403 Forbidden").await;
    let st = connect_through(&ws.url(), &forbidding, None).await;
    let reason = st.reason.clone().unwrap();
    assert!(
        reason.contains("refused to connect to") && reason.contains("403"),
        "{reason}"
    );
    assert!(st.gave_up, "gave up after its attempts: {st:?}");
    assert_eq!(
        tries.load(Ordering::SeqCst),
        3,
        "the first dial and 2 retries"
    );

    let (demanding, tries) = refusing_proxy("407 Proxy Authentication Required").await;
    let st = connect_through(&ws.url(), &demanding, None).await;
    assert!(st.reason.unwrap().contains("wants credentials"));
    assert!(!st.gave_up, "an authentication failure, not a give-up");
    assert_eq!(tries.load(Ordering::SeqCst), 1, "not retried");
}

/// The CLI reads HTTP_PROXY, and NO_PROXY bypasses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_takes_the_proxy_from_the_environment_unless_no_proxy_says_otherwise() {
    let ws = Simulator::start(SimConfig::default()).await.unwrap();
    let proxy = tinyproxy(None);
    let first_state = |envs: &[(&str, String)]| cli_outcome(&ws.url(), &[], envs);
    let via = format!("http://127.0.0.1:{}", proxy.port);
    let before = proxy.log().matches("CONNECT").count();
    assert_eq!(
        first_state(&[("http_proxy", via.clone())])["state"],
        "connected"
    );
    assert!(
        proxy.log().matches("CONNECT").count() > before,
        "it went through the proxy"
    );

    let dead = format!("http://127.0.0.1:{}", free_port());
    let v = first_state(&[("HTTP_PROXY", dead.clone())]);
    assert_eq!(v["state"], "error");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("cannot reach the proxy"),
        "{v}"
    );

    let v = first_state(&[
        ("HTTP_PROXY", dead),
        ("NO_PROXY", "localhost,127.0.0.1".into()),
    ]);
    assert_eq!(v["state"], "connected", "NO_PROXY bypasses it: {v}");

    // With no scheme, as curl takes it: an HTTP proxy.
    let before = proxy.log().matches("CONNECT").count();
    let bare = format!("127.0.0.1:{}", proxy.port);
    assert_eq!(first_state(&[("http_proxy", bare)])["state"], "connected");
    assert!(
        proxy.log().matches("CONNECT").count() > before,
        "through it"
    );

    // One it cannot use does not stop the engine from starting: each dial fails
    // with the variable named and its password masked.
    let v = first_state(&[("HTTP_PROXY", "https://u:pw-42@127.0.0.1:1".into())]);
    assert_eq!(v["state"], "error");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("the proxy in HTTP_PROXY cannot be used")
            && reason.contains("not https")
            && !reason.contains("pw-42"),
        "{reason}"
    );
}

/// Runs `uplink watch URL ARGS` with `envs` (and no proxy variable of the caller's)
/// until its first `connected` or `error` state line, which it returns.
fn cli_outcome(url: &str, args: &[&str], envs: &[(&str, String)]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uplink"));
    cmd.args([
        "watch",
        url,
        "--max-reconnect-attempts",
        "1",
        "--reconnect-base-delay",
        "0.05",
    ])
    .args(args)
    .env("RUST_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    for k in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let mut result = None;
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["event"] == "state" && matches!(v["state"].as_str(), Some("connected" | "error")) {
            result = Some(v);
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    result.expect("a state")
}

/// The proxy matrix through the CLI process: HTTP CONNECT and SOCKS5, ws and wss
/// (TLS inside the tunnel), with credentials, and wrong credentials named and masked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_goes_through_both_kinds_of_proxy_for_ws_and_wss() {
    let ws = plain_sim().await;
    let (wss, ca) = tls_sim().await;
    let http = tinyproxy(Some(("alice", "pa55")));
    let socks = microsocks(Some(("bob", "hunter2")));
    let ca = ca.to_str().unwrap().to_owned();
    for proxy in [
        format!("http://alice:pa55@127.0.0.1:{}", http.port),
        format!("socks5://bob:hunter2@127.0.0.1:{}", socks.port),
    ] {
        let token = ["--token", "s3cr3t-token"];
        let v = cli_outcome(&ws.url(), &[&token[..], &["--proxy", &proxy]].concat(), &[]);
        assert_eq!(v["state"], "connected", "ws through {proxy}: {v}");
        let v = cli_outcome(
            &wss.url(),
            &[&token[..], &["--proxy", &proxy, "--ca-file", &ca]].concat(),
            &[],
        );
        assert_eq!(v["state"], "connected", "wss through {proxy}: {v}");
    }
    let wrong = format!("socks5://bob:nope@127.0.0.1:{}", socks.port);
    let v = cli_outcome(&ws.url(), &["--proxy", &wrong], &[]);
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("SOCKS5 proxy socks5://bob:***@") && !reason.contains("nope"),
        "{reason}"
    );
}
