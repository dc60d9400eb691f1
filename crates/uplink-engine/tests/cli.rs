//! The `uplink` binary as a user runs it: JSON lines out, clean exit on SIGTERM.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

#[cfg(feature = "test-hooks")]
use common::wait_exit;
use common::{json_lines, wait_line, Lines};
use serde_json::Value;
use uplink_sim::{SimConfig, Simulator};

fn uplink() -> Command {
    Command::new(env!("CARGO_BIN_EXE_uplink"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_json_events_and_exits_cleanly_on_sigterm() {
    let sim = Simulator::start(SimConfig {
        rate: 50.0,
        order_step: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut child = uplink()
        .args(["watch", &sim.url(), "--heartbeat-interval", "0.2", "--pong-timeout", "0.2"])
        .args(["--stats-interval", "0.2", "--queue-size", "1", "--subscribe", "AAPL"])
        .args(["--send", r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":1,"client_order_id":"dropped"}}"#])
        .args(["--send", r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":2,"client_order_id":"kept"}}"#])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (rx, reader) = json_lines(child.stdout.take().unwrap());

    let mut seen = std::collections::BTreeSet::new();
    let mut saw = Vec::new();
    let needed = [
        "state:connected",
        "latency",
        "stats",
        "message:update",
        "message:order",
        "queue_dropped",
    ];
    while !needed.iter().all(|n| seen.contains(*n)) {
        let (_, v) = rx
            .recv_timeout(Duration::from_secs(10))
            .unwrap_or_else(|_| {
                panic!(
                    "missing {:?}; saw {saw:#?}",
                    needed
                        .iter()
                        .filter(|n| !seen.contains(**n))
                        .collect::<Vec<_>>()
                )
            });
        let ev = v["event"]
            .as_str()
            .expect("every line has an event")
            .to_owned();
        let key = match ev.as_str() {
            "state" => format!("state:{}", v["state"].as_str().unwrap()),
            "message" => format!("message:{}", v["message"]["type"].as_str().unwrap()),
            "latency" => {
                assert!(v["ms"].as_f64().unwrap() >= 0.0);
                ev
            }
            "queue_dropped" => {
                // The first --send (id 1, client_order_id "dropped") made room.
                assert_eq!(v["id"], 1);
                assert_eq!(v["total"], 1);
                ev
            }
            _ => ev,
        };
        saw.push(key.clone());
        seen.insert(key);
    }
    let kept: Vec<_> = sim
        .received()
        .into_iter()
        .filter(|r| r.text.contains("client_order_id"))
        .collect();
    assert_eq!(kept.len(), 1);
    assert!(kept[0].text.contains("\"kept\""));

    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM: {status:?}");
    let mut last_state = None;
    while let Ok((_, v)) = rx.recv_timeout(Duration::from_secs(5)) {
        if v["event"] == "state" {
            last_state = Some(v["state"].as_str().unwrap().to_owned());
        }
    }
    reader.join().unwrap();
    assert_eq!(last_state.as_deref(), Some("disconnected"));
    // The server saw a clean close, not a dropped socket.
    for _ in 0..100 {
        if sim.stats().connections_open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sim.stats().connections_open, 0);
}

#[test]
fn invalid_arguments_get_a_clear_error_before_connecting() {
    for (args, want) in [
        (
            vec!["watch", "http://127.0.0.1:1/ws"],
            "the scheme must be ws or wss",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--pong-timeout", "-1"],
            "must be a positive number of seconds",
        ),
        (
            vec![
                "watch",
                "ws://127.0.0.1:1/ws",
                "--heartbeat-interval",
                "soon",
            ],
            "is not a number of seconds",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--send", "{oops"],
            "--send #1",
        ),
        (
            vec![
                "watch",
                "ws://127.0.0.1:1/ws",
                "--reconnect-base-delay",
                "5",
                "--reconnect-max-delay",
                "1",
            ],
            "reconnect_max_delay",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--queue-size", "0"],
            "queue_size must be at least 1",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--rate-limit", "100"],
            "expected N/SECONDS",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--connect-timeout", "1e19"],
            "is too long: at most",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--backup", "http://x/ws"],
            "the scheme must be ws or wss",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--ping-text", "hi"],
            "--ping-text applies only with --heartbeat custom",
        ),
        (
            vec!["watch", "ws://127.0.0.1:1/ws", "--pong-field", "op=pong"],
            "--pong-field applies only with --heartbeat custom",
        ),
        (
            vec![
                "watch",
                "ws://127.0.0.1:1/ws",
                "--heartbeat",
                "none",
                "--idle-timeout",
                "5",
            ],
            "--idle-timeout does not apply with --heartbeat none",
        ),
        (
            vec![
                "watch",
                "ws://127.0.0.1:1/ws",
                "--header",
                "X-Desk: 7",
                "--header",
                "Authorization Bearer sekrit-9",
            ],
            "--header #2 has no NAME: before its value",
        ),
    ] {
        let out = uplink().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(
            !err.contains("sekrit"),
            "a header's value is not repeated: {err}"
        );
        assert!(out.stdout.is_empty(), "nothing printed, nothing connected");
    }
}

/// `--stale-after`: a feed that stops prices but answers pings prints one `stale`
/// line, and one `fresh` line when prices resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_stale_once_and_fresh_once() {
    let sim = Simulator::start(SimConfig {
        rate: 50.0,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let mut child = uplink()
        .args([
            "watch",
            &sim.url(),
            "--heartbeat-interval",
            "0.1",
            "--pong-timeout",
            "0.5",
        ])
        .args(["--stale-after", "0.3", "--subscribe", "AAPL"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (rx, _) = json_lines(child.stdout.take().unwrap());
    let next = |want: &str| wait_line(&rx, Duration::from_secs(10), want, |v| v["event"] == want).1;
    next("message");
    sim.stall(true, &[]);
    let stale = next("stale");
    assert!(stale["age_secs"].as_f64().unwrap() >= 0.3);
    assert_eq!(stale["symbols"], serde_json::json!(["AAPL"]));
    // Pongs keep coming, and no second `stale` line before the prices resume.
    let until = std::time::Instant::now() + Duration::from_millis(800);
    while let Ok((_, v)) =
        rx.recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
    {
        assert_ne!(v["event"], "stale", "once per episode");
    }
    sim.stall(false, &[]);
    let fresh = next("fresh");
    assert!(fresh["stale_for_secs"].as_f64().unwrap() >= 0.5);
    let _ = child.kill();
    let _ = child.wait();
}

/// The engine ends without being asked (a panic, made by the `test-hooks` build's
/// hidden `--crash-after`; `cargo test` at the workspace root builds with it): the
/// CLI says so on stderr and exits 1, not 0.
#[cfg(feature = "test-hooks")]
#[tokio::test]
async fn watch_exits_1_when_the_engine_dies() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mut child = uplink()
        .args(["watch", &sim.url(), "--crash-after", "0.5"])
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut child, Duration::from_secs(10), "the engine died").await;
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: the connection engine stopped unexpectedly"),
        "{err}"
    );
}

/// libfaketime: moves this process's wall clock (CLOCK_REALTIME) by the offset in a
/// file, read on every call, and leaves the monotonic clock alone: a real wall-clock
/// jump as the driver sees one after a suspend, or when the time is set back.
const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

/// The CLI under libfaketime, its wall clock moved by what `offset` holds ("+0",
/// "+7200", "-7200"); its JSON lines with the time they arrived.
fn uplink_with_clock(offset: &std::path::Path, args: &[&str]) -> (std::process::Child, Lines) {
    assert!(
        std::path::Path::new(FAKETIME).exists(),
        "{FAKETIME} is missing: run scripts/install-deps.sh --test (Debian package faketime)"
    );
    let mut child = uplink()
        .args(args)
        .env("LD_PRELOAD", FAKETIME)
        .env("FAKETIME_TIMESTAMP_FILE", offset)
        .env("FAKETIME_NO_CACHE", "1")
        .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, _) = json_lines(child.stdout.take().unwrap());
    (child, lines)
}

fn is_state(v: &Value, s: &str) -> bool {
    v["event"] == "state" && v["state"] == s
}

/// The CLI connected to a simulator, under libfaketime with its wall clock not
/// moved yet. Ends the CLI and removes its folder when dropped.
struct ClockedCli {
    sim: Simulator,
    dir: std::path::PathBuf,
    child: std::process::Child,
    lines: Lines,
}

impl ClockedCli {
    async fn connected(name: &str) -> ClockedCli {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let dir = tempfile_dir(name);
        std::fs::write(dir.join("offset"), "+0").unwrap();
        let url = sim.url();
        let args = [
            "watch",
            &url,
            "--stats-interval",
            "0.5",
            "--heartbeat-interval",
            "30",
        ];
        let (child, lines) = uplink_with_clock(&dir.join("offset"), &args);
        wait_line(&lines, Duration::from_secs(10), "connected", |v| {
            is_state(v, "connected")
        });
        ClockedCli {
            sim,
            dir,
            child,
            lines,
        }
    }

    /// Moves the CLI's wall clock to `offset` from the real time ("+7200", "-7200").
    fn set_clock(&self, offset: &str) {
        std::fs::write(self.dir.join("offset"), offset).unwrap();
    }
}

impl Drop for ClockedCli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A real forward jump of the wall clock (as after a suspend), with the feed gone
/// silent meanwhile: the driver probes the link at once and drops it within its
/// 2 s deadline, so the CLI shows `reconnecting` within a stats tick + 2 s, not the
/// heartbeat's 30 s + 10 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_wall_clock_jump_forward_probes_the_link_at_once() {
    let cli = ClockedCli::connected("jump-forward").await;
    std::thread::sleep(Duration::from_secs(1));
    cli.sim.set_silent(true);
    cli.set_clock("+7200");
    let jumped = std::time::Instant::now();
    let (dropped, _) = wait_line(&cli.lines, Duration::from_secs(10), "reconnecting", |v| {
        is_state(v, "reconnecting")
    });
    let took = dropped - jumped;
    eprintln!("dead link found {took:?} after a 2 h wall-clock jump");
    assert!(
        took <= Duration::from_millis(3500),
        "{took:?}: a stats tick (0.5 s) + the 2 s probe deadline, with slack"
    );
}

/// A real backward jump (the time set back two hours) is not a resume: the live link
/// is not probed or dropped, and stays connected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_wall_clock_jump_backward_leaves_a_live_link_alone() {
    let cli = ClockedCli::connected("jump-back").await;
    cli.set_clock("-7200");
    // Four stats ticks later: still connected, one connection, no probe's latency
    // sample (the first ping's is the only one).
    let until = std::time::Instant::now() + Duration::from_secs(2);
    let mut stats = 0;
    while let Ok((_, v)) = cli
        .lines
        .recv_timeout(until.saturating_duration_since(std::time::Instant::now()))
    {
        assert!(v["event"] != "state", "no state change: {v}");
        if v["event"] == "stats" {
            stats += 1;
            assert_eq!(v["state"], "connected");
            assert_eq!(v["latency"]["samples"], 1, "no probe: {v}");
        }
    }
    assert!(stats >= 3, "{stats} stats lines");
    assert_eq!(cli.sim.stats().connections_total, 1);
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("uplink-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A feed whose `error` message repeats the token back: the CLI prints the message
/// (it is the feed's data) with the token masked, as it prints its own errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feeds_error_that_echoes_the_token_is_printed_without_it() {
    use futures_util::{SinkExt, StreamExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let error = r#"{"type":"error","data":{"code":"AUTH","message":"token tok-secret-77 is not allowed here","details":{"echo":["tok-secret-77"]}}}"#;
                let _ = ws
                    .send(tokio_tungstenite::tungstenite::Message::text(error))
                    .await;
                // The same in a shape of the feed's own.
                let other = r#"{"type":"error","error":{"reason":["bad","tok-secret-77"]},"tok-secret-77 bad":1}"#;
                let _ = ws
                    .send(tokio_tungstenite::tungstenite::Message::text(other))
                    .await;
                while let Some(Ok(_)) = ws.next().await {}
            });
        }
    });
    let mut child = uplink()
        .args([
            "watch",
            &url,
            "--token",
            "tok-secret-77",
            "--stats-interval",
            "60",
        ])
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines, _reader) = json_lines(child.stdout.take().unwrap());
    // The engine's own `error` line comes first, then the message; neither has it.
    let saw_error = std::cell::Cell::new(false);
    let (_, message) = wait_line(&lines, Duration::from_secs(10), "the feed's error", |v| {
        assert!(!v.to_string().contains("tok-secret"), "{v}");
        saw_error.set(saw_error.get() || v["event"] == "error");
        v["event"] == "message" && v["message"]["type"] == "error"
    });
    let (_, other) = wait_line(&lines, Duration::from_secs(10), "the other error", |v| {
        assert!(!v.to_string().contains("tok-secret"), "{v}");
        v["event"] == "message" && v["message"].get("error").is_some()
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(saw_error.get(), "the engine reported the feed's error");
    assert_eq!(other["message"]["error"]["reason"][1], "***", "{other}");
    assert_eq!(other["message"]["*** bad"], 1, "{other}");
    assert_eq!(message["message"]["data"]["details"]["echo"][0], "***");
    assert_eq!(
        message["message"]["data"]["message"], "token *** is not allowed here",
        "{message}"
    );
}
