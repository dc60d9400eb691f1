//! Conformance against an independent feed: `tests/fixtures/dialect_feed.py`, written
//! with Python's `websockets` package and nothing of Uplink's, speaks the dialects
//! real feeds use. For each, the CLI connects, stays connected for 10 s with latency
//! measured and nothing counted as malformed, then detects the dead link within
//! interval + deadline once the feed goes silent. On its two order paths, orders are
//! executed once per `client_order_id`, acknowledged once, and the order the feed
//! reset on is re-sent and recognised as a repeat, in the protocol's answer shape and
//! in a venue's.
//!
//! Needs /usr/bin/python3 with Debian's python3-websockets (`scripts/install-deps.sh
//! --test` installs it).

mod common;
#[path = "../../../tests/fixtures/dialect_feed.rs"]
mod dialect_feed;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The fixture goes silent this long after each connection.
const SILENT_AFTER: Duration = Duration::from_secs(10);
/// Heartbeat interval and pong deadline given to the CLI.
const INTERVAL: f64 = 1.0;
const DEADLINE: f64 = 1.0;

struct Fixture {
    child: Child,
    port: u16,
    /// What the fixture reported after its first line, one JSON object per line
    /// (orders executed, repeated or rejected; stalls; handshakes on /auth), with
    /// when it arrived here.
    reports: common::Lines,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixture() -> Fixture {
    fixture_on(0)
}

/// The fixture on `port` (0: any free one).
fn fixture_on(port: u16) -> Fixture {
    let silent_after = SILENT_AFTER.as_secs_f64().to_string();
    let port = port.to_string();
    let (child, port, out) =
        dialect_feed::start(&["--silent-after", &silent_after, "--port", &port]);
    let (reports, _) = common::json_lines(out);
    Fixture {
        child,
        port,
        reports,
    }
}

/// What the CLI showed for one dialect.
#[derive(Debug)]
struct Seen {
    /// The last `stats` line before the feed went silent.
    stats: Value,
    /// From connected to the first sign of the dead link (state reconnecting or error).
    detected_after: Duration,
    /// States seen before the silence.
    early_states: Vec<String>,
}

/// The CLI watching `url` with `args` and `RUST_LOG=rust_log`, its stdout lines as
/// they arrive. Proxy variables are removed; stderr goes to `stderr`.
struct Cli {
    child: Child,
    lines: common::Lines,
}

impl Drop for Cli {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_cli(url: &str, args: &[&str], rust_log: &str, stderr: Stdio) -> Cli {
    let mut child = Command::new(env!("CARGO_BIN_EXE_uplink"))
        .args(["watch", url])
        .args(args)
        .env("RUST_LOG", rust_log)
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("UPLINK_TOKEN")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let (lines, _) = common::json_lines(child.stdout.take().unwrap());
    Cli { child, lines }
}

fn run(port: u16, dialect: &str, extra: &[&str]) -> Seen {
    let interval = INTERVAL.to_string();
    let deadline = DEADLINE.to_string();
    let mut args = vec![
        "--heartbeat-interval",
        &interval,
        "--pong-timeout",
        &deadline,
        "--stats-interval",
        "0.5",
        "--stale-after",
        "0",
        "--subscribe",
        "AAPL",
        "--reconnect-base-delay",
        "30",
        "--reconnect-max-delay",
        "30",
    ];
    args.extend_from_slice(extra);
    let cli = spawn_cli(
        &format!("ws://127.0.0.1:{port}/{dialect}"),
        &args,
        "warn",
        Stdio::null(),
    );
    let deadline = Instant::now() + SILENT_AFTER * 3;
    let mut connected_at = None;
    let mut stats = Value::Null;
    let mut early_states = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((at, v)) = cli.lines.recv_timeout(left) else {
            panic!("{dialect}: the CLI went quiet; last stats {stats}");
        };
        match v["event"].as_str() {
            Some("state") => {
                let s = v["state"].as_str().unwrap().to_owned();
                match (s.as_str(), connected_at) {
                    ("connected", None) => connected_at = Some(at),
                    ("reconnecting" | "error", Some(c)) => {
                        break Seen {
                            stats,
                            detected_after: at - c,
                            early_states,
                        }
                    }
                    _ => {}
                }
                early_states.push(s);
            }
            Some("stats") if connected_at.is_some_and(|c| at - c < SILENT_AFTER) => stats = v,
            _ => {}
        }
    }
}

fn check(dialect: &str, seen: &Seen, timestamps: bool) {
    assert_eq!(
        seen.early_states,
        ["connecting", "connected"],
        "{dialect}: stayed connected until the feed went silent"
    );
    let st = &seen.stats;
    let samples = st["latency"]["samples"].as_u64().unwrap();
    assert!(
        samples >= 5,
        "{dialect}: latency measured ({samples} samples): {st}"
    );
    assert_eq!(st["stats"]["malformed_messages"], 0, "{dialect}: {st}");
    assert_eq!(st["stats"]["unreadable_timestamps"], 0, "{dialect}: {st}");
    assert!(
        st["stats"]["messages_received"].as_u64().unwrap() > 50,
        "{dialect}: {st}"
    );
    if timestamps {
        assert!(
            st["feed_delay"]["samples"].as_u64().unwrap() > 0,
            "{dialect}: {st}"
        );
        // The offset needs a timestamped pong; protocol Pong frames carry none.
        if dialect != "ws_ping" {
            let offset = st["clock_offset_ms"].as_f64().unwrap_or(f64::NAN);
            assert!(
                offset.abs() < 1000.0,
                "{dialect}: one machine, one clock: {offset}"
            );
        }
    }
    // Silent from SILENT_AFTER: dead within interval + deadline (plus scheduling slack).
    let bound = SILENT_AFTER + Duration::from_secs_f64(INTERVAL + DEADLINE + 1.5);
    assert!(
        seen.detected_after <= bound,
        "{dialect}: dead link detected {:?} after connecting; bound {bound:?}",
        seen.detected_after
    );
    assert!(
        seen.detected_after >= SILENT_AFTER,
        "{dialect}: dropped before the silence"
    );
}

#[test]
fn the_cli_keeps_real_dialects_alive_and_detects_their_silence() {
    let f = fixture();
    let port = f.port;
    let dialects: Vec<(&str, Vec<&str>, bool)> = vec![
        ("ts_s", vec![], true),
        ("ts_ms", vec![], true),
        ("ts_us", vec![], true),
        ("ts_ns", vec![], true),
        ("ts_iso", vec![], true),
        ("ts_iso_z", vec![], true),
        ("ts_iso_ist", vec![], true),
        ("ts_iso_nst", vec![], true),
        ("no_ts", vec![], false),
        ("binary", vec![], true),
        ("ws_ping", vec!["--heartbeat", "websocket"], true),
        (
            "custom",
            vec![
                "--heartbeat",
                "custom",
                "--ping-text",
                r#"{"op":"ping"}"#,
                "--pong-field",
                "op=pong",
            ],
            false,
        ),
    ];
    let runs: Vec<_> = dialects
        .into_iter()
        .map(|(d, extra, ts)| {
            let extra: Vec<String> = extra.into_iter().map(String::from).collect();
            std::thread::spawn(move || {
                let args: Vec<&str> = extra.iter().map(String::as_str).collect();
                (d, run(port, d, &args), ts)
            })
        })
        .collect();
    for r in runs {
        let (d, seen, ts) = r.join().expect("a dialect run panicked");
        eprintln!(
            "{d}: dead link detected {:?} after connecting",
            seen.detected_after
        );
        check(d, &seen, ts);
    }
}

/// Order events the CLI printed for one dialect, and what the feed reported.
#[derive(Debug)]
struct OrderRun {
    /// `(event, id)` for sent, resent, acked, unconfirmed, expired, queue_dropped.
    events: Vec<(String, u64)>,
    /// The `acked` lines.
    acks: Vec<Value>,
    /// The fixture's reports for this dialect.
    reports: Vec<Value>,
}

/// The CLI queues `orders` (no `client_order_id`: the engine gives each one) and
/// connects to the fixture's `dialect` path, until every order is acknowledged or
/// 20 s pass.
fn run_orders(f: &Fixture, dialect: &str, orders: usize) -> OrderRun {
    let order = r#"{"type":"order","data":{"symbol":"AAPL","side":"buy","qty":1}}"#;
    let mut args = vec!["--reconnect-base-delay", "0.2", "--stats-interval", "60"];
    args.extend(["--stale-after", "0"]);
    for _ in 0..orders {
        args.extend(["--send", order]);
    }
    let cli = spawn_cli(
        &format!("ws://127.0.0.1:{}/{dialect}", f.port),
        &args,
        "warn",
        Stdio::null(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut run = OrderRun {
        events: Vec::new(),
        acks: Vec::new(),
        reports: Vec::new(),
    };
    while run.acks.len() < orders {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((_, v)) = cli.lines.recv_timeout(left) else {
            break;
        };
        let event = v["event"].as_str().unwrap_or_default().to_owned();
        if let (
            "sent" | "resent" | "acked" | "unconfirmed" | "expired" | "queue_dropped",
            Some(id),
        ) = (event.as_str(), v["id"].as_u64())
        {
            run.events.push((event.clone(), id));
        }
        if event == "acked" {
            run.acks.push(v);
        }
    }
    drop(cli);
    // Give the fixture a moment to report a late repeat, then take what it said.
    std::thread::sleep(Duration::from_millis(300));
    run.reports = f.reports.try_iter().map(|(_, v)| v).collect();
    run
}

/// The delivery guarantee of the README, against a feed we did not write: an order
/// the feed executed but never answered (it reset the connection) is re-sent with the
/// same `client_order_id` after the reconnect, the feed recognises the repeat, and the
/// order is executed once and acknowledged once, whether the feed answers with the
/// whole order or, as many venues do, with only its ids and a status of its own.
#[test]
fn orders_are_resent_after_a_reset_and_executed_once_by_an_independent_feed() {
    let f = fixture();
    for dialect in ["orders", "orders_venue"] {
        let run = run_orders(&f, dialect, 3);
        eprintln!("{dialect}: {run:?}");
        let of = |id: u64| -> Vec<&str> {
            run.events
                .iter()
                .filter(|(_, i)| *i == id)
                .map(|(e, _)| e.as_str())
                .collect()
        };
        assert_eq!(
            of(1),
            ["sent", "resent", "acked"],
            "{dialect}: the order the feed reset on"
        );
        for id in 2..=3 {
            let seen = of(id);
            assert_eq!(
                seen.last(),
                Some(&"acked"),
                "{dialect}: order {id} acknowledged: {seen:?}"
            );
            assert_eq!(
                seen.iter().filter(|e| **e == "acked").count(),
                1,
                "{dialect}: order {id} acknowledged once: {seen:?}"
            );
        }
        let nothing_lost = run
            .events
            .iter()
            .all(|(e, _)| ["sent", "resent", "acked"].contains(&e.as_str()));
        assert!(nothing_lost, "{dialect}: {:?}", run.events);

        let field =
            |k: &str| -> Vec<&str> { run.reports.iter().filter_map(|r| r[k].as_str()).collect() };
        assert!(field("rejected").is_empty(), "{dialect}: {:?}", run.reports);
        let executed = field("executed");
        let mut distinct = executed.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(
            (executed.len(), distinct.len()),
            (3, 3),
            "{dialect}: each order executed exactly once: {:?}",
            run.reports
        );
        let repeats = field("duplicate");
        assert!(
            repeats.contains(&executed[0]),
            "{dialect}: the re-send of the first order reached the feed as a repeat: {:?}",
            run.reports
        );
        // The acknowledgement names the feed's order id for the order it executed first.
        let first_ack = run.acks.iter().find(|a| a["id"] == 1).unwrap();
        let first_exec = run
            .reports
            .iter()
            .find(|r| r.get("executed").is_some())
            .unwrap();
        assert_eq!(first_ack["order_id"], first_exec["order_id"], "{dialect}");
        let status = if dialect == "orders" {
            Value::from("accepted")
        } else {
            Value::Null // "new" is not one of the protocol's statuses: not guessed at
        };
        assert_eq!(first_ack["status"], status, "{dialect}: {first_ack}");
    }
}

/// Stale data against a feed we did not write: its prices stop for 3 s while it goes
/// on answering pings. The link stays connected; `stale` comes `stale_after` (plus
/// slack) after the last price the CLI received, once; `fresh` with the first price
/// after the stall.
#[test]
fn a_stall_in_an_independent_feed_is_stale_then_fresh_while_the_link_stays_up() {
    let f = fixture();
    let cli = spawn_cli(
        &format!("ws://127.0.0.1:{}/stall", f.port),
        &[
            "--stale-after",
            "1",
            "--subscribe",
            "AAPL",
            "--heartbeat-interval",
            "0.5",
            "--pong-timeout",
            "1",
            "--stats-interval",
            "60",
        ],
        "warn",
        Stdio::null(),
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut seen: Vec<String> = Vec::new();
    let mut last_price = None;
    let mut stale_after = None;
    while !seen.iter().any(|e| e == "fresh") {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok((at, v)) = cli.lines.recv_timeout(left) else {
            panic!("no `fresh` in time: {seen:?}");
        };
        match v["event"].as_str() {
            Some("message") if v["message"]["type"] == "update" => last_price = Some(at),
            Some("state") => seen.push(format!("state {}", v["state"].as_str().unwrap())),
            Some("stale") => {
                stale_after = last_price.map(|p| at - p);
                seen.push("stale".into());
            }
            Some(e @ ("fresh" | "error" | "retrying")) => seen.push(e.to_owned()),
            _ => {}
        }
    }
    assert_eq!(
        seen,
        ["state connecting", "state connected", "stale", "fresh"],
        "one episode, and the link never dropped"
    );
    let stale_after = stale_after.expect("prices before the stall");
    eprintln!("stale {stale_after:?} after the last price");
    // Both times are when the lines reached this process: 50 ms for pipe jitter.
    assert!(
        stale_after >= Duration::from_millis(950) && stale_after <= Duration::from_millis(1600),
        "stale {stale_after:?} after the last price; --stale-after 1"
    );
    let reports: Vec<Value> = f.reports.try_iter().map(|(_, v)| v).collect();
    assert!(
        reports.iter().any(|r| r.get("resumed").is_some()),
        "`fresh` only once the feed resumed: {reports:?}"
    );
}

/// Token placement and secrecy against a server we did not write: the fixture's
/// `/auth` path reads the token from the query or the `Authorization` header, and
/// answers a wrong one with a 401 that echoes the request line and the header back.
#[test]
fn the_token_goes_where_placed_and_a_refusal_echoing_it_never_prints_it() {
    const TOKEN: &str = "fx-7Hq2-secret";
    let f = fixture();
    let url = format!("ws://127.0.0.1:{}/auth", f.port);
    let bearer = Value::from(format!("Bearer {TOKEN}"));
    for (placement, query, authorization) in [
        ("query", Value::from(TOKEN), Value::Null),
        ("header", Value::Null, bearer.clone()),
        ("both", Value::from(TOKEN), bearer.clone()),
    ] {
        let cli = spawn_cli(
            &url,
            &["--token", TOKEN, "--token-placement", placement],
            "warn",
            Stdio::null(),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let (_, v) = cli
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{placement}: never connected"));
            if v["event"] == "state" && v["state"] == "connected" {
                break;
            }
        }
        drop(cli);
        let (_, seen) = f.reports.recv_timeout(Duration::from_secs(1)).unwrap();
        assert_eq!(seen["accepted"], true, "{placement}: {seen}");
        assert_eq!(seen["auth"]["query"], query, "{placement}: {seen}");
        assert_eq!(
            seen["auth"]["authorization"], authorization,
            "{placement}: {seen}"
        );
    }

    // A wrong token: refused once, no retry storm, and the echo never printed, even
    // in debug logs.
    const WRONG: &str = "wrong-Zq81-token";
    let mut cmd = spawn_cli(
        &url,
        &["--token", WRONG, "--reconnect-base-delay", "0.1"],
        "debug",
        Stdio::piped(),
    );
    let mut err = cmd.child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut s);
        s
    });
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Ok((_, v)) = cmd
        .lines
        .recv_timeout(deadline.saturating_duration_since(Instant::now()))
    {
        out.push(v);
    }
    drop(cmd);
    let stderr = stderr.join().unwrap();
    let attempts = f.reports.try_iter().count();
    let states: Vec<&str> = out
        .iter()
        .filter(|v| v["event"] == "state")
        .filter_map(|v| v["state"].as_str())
        .collect();
    assert_eq!(states, ["connecting", "error"], "an auth failure is final");
    assert_eq!(attempts, 1, "one handshake, no retries: {out:?}");
    let printed = out.iter().map(Value::to_string).collect::<String>() + &stderr;
    assert!(
        printed.contains("401"),
        "the refusal is reported: {printed}"
    );
    // The echo itself is shown (so the check below is about it), redacted.
    assert!(
        printed.contains("unauthorized: GET /auth?token=***"),
        "the server's echo, redacted: {printed}"
    );
    assert!(
        !printed.contains(WRONG),
        "the token never reaches any output: {printed}"
    );
}

/// Failover against feeds we did not write: two fixture processes, the primary and a
/// backup. The primary's process dies: the CLI switches to the backup and is
/// connected there. The primary comes back on its port: after `--failback-after`
/// on the backup, the CLI probes it and switches back.
#[test]
fn failover_to_an_independent_backup_and_back_when_the_primary_returns() {
    let primary = fixture();
    let backup = fixture();
    let port = primary.port;
    let cli = spawn_cli(
        &format!("ws://127.0.0.1:{port}/ts_ms"),
        &[
            "--backup",
            &format!("ws://127.0.0.1:{}/ts_ms", backup.port),
            "--heartbeat-interval",
            "1",
            "--pong-timeout",
            "1",
            "--reconnect-base-delay",
            "0.2",
            "--reconnect-max-delay",
            "0.5",
            "--failback-after",
            "2",
            "--stale-after",
            "0",
            "--stats-interval",
            "60",
        ],
        "warn",
        Stdio::null(),
    );
    let next = |what: &str, pred: &dyn Fn(&Value) -> bool| -> Value {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match cli.lines.recv_timeout(left) {
                Ok((_, v)) if pred(&v) => return v,
                Ok(_) => {}
                Err(_) => panic!("no {what} within 15 s"),
            }
        }
    };
    let connected = |v: &Value| v["event"] == "state" && v["state"] == "connected";
    let c = next("connected to the primary", &connected);
    assert_eq!(c["endpoint"], 0, "{c}");

    let killed = Instant::now();
    drop(primary); // the process is killed: its sockets close
                   // The switch and the connected state come in one step, in either order.
    let (mut switched, mut on_backup) = (None, None);
    while switched.is_none() || on_backup.is_none() {
        let v = next("the switch to the backup", &|v| {
            v["event"] == "endpoint_switched" || connected(v)
        });
        if v["event"] == "endpoint_switched" {
            switched = Some(v);
        } else {
            on_backup = Some(v);
        }
    }
    let took = killed.elapsed();
    let (sw, c) = (switched.unwrap(), on_backup.unwrap());
    assert_eq!(
        (&sw["from"], &sw["to"]),
        (&Value::from(0), &Value::from(1)),
        "{sw}"
    );
    assert_eq!(c["endpoint"], 1, "{c}");
    eprintln!("on the backup {took:?} after the primary died");
    assert!(
        took < Duration::from_secs(3),
        "{took:?}: the reset is seen at once, then one backoff step (0.2 s)"
    );

    let returned = Instant::now();
    let _primary = fixture_on(port);
    let back = next("the switch back to the primary", &|v| {
        v["event"] == "endpoint_switched"
    });
    eprintln!(
        "back on the primary {:?} after it returned",
        returned.elapsed()
    );
    assert_eq!(
        (&back["from"], &back["to"]),
        (&Value::from(1), &Value::from(0)),
        "{back}"
    );
}
