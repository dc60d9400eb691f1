//! The window's orders against a venue we did not write: `tests/fixtures/dialect_feed.py`
//! (Python's `websockets`, nothing of Uplink's) on its `/orders_venue` path. It resets
//! the connection on the first order it executes, before answering; then answers as
//! many venues do, with only `{id, client_order_id, status: "new"}`, and reports the
//! fills in the same shape (`"PARTIALLY_FILLED"`, `"FILLED"`, quantities and prices
//! as strings). The whole app runs on Tauri's mock runtime and the order is placed
//! through its IPC, as the window does.
//!
//! Needs /usr/bin/python3 with Debian's python3-websockets (`scripts/install-deps.sh
//! --test` installs it).

mod common;
#[path = "../../tests/fixtures/dialect_feed.rs"]
mod dialect_feed;

use std::io::BufRead;
use std::process::Child;

use common::{order, place_order, snapshot_when};
use serde_json::{json, Value};

/// The fixture process, killed when dropped.
struct Fixture(
    /// The Python process: it serves until killed.
    Child,
);

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the fixture on a free port; returns it, its port, and its reports (one JSON
/// object per line: what it executed, and what it saw as a repeat).
fn fixture() -> (Fixture, u16, std::sync::mpsc::Receiver<Value>) {
    let (child, port, out) = dialect_feed::start(&["--port", "0"]);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in out.lines() {
            let Ok(line) = line else { break };
            let v: Value = serde_json::from_str(&line).expect("the fixture reports JSON lines");
            if tx.send(v).is_err() {
                break;
            }
        }
    });
    (Fixture(child), port, rx)
}

/// An order placed in the window reaches the venue, which executes it and resets the
/// connection before answering. After the reconnect the order is re-sent, the venue
/// sees a repeat (executed once), and the row goes on to acknowledged with the
/// venue's id, then partially filled, then filled, with the venue's fill and price
/// read from its strings. A late partial fill after that leaves the row filled, and
/// a status word of the venue's own ("DONE_FOR_DAY") is a warning in the log.
#[test]
fn a_venues_short_answers_and_fill_reports_drive_the_window_row_to_filled() {
    let (_fixture, port, reports) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let settings = json!({
        "feed_urls": [format!("ws://127.0.0.1:{port}/orders_venue")],
        "watchlist": ["AAPL"],
        "reconnect_base_delay_secs": 0.2,
    });
    std::fs::write(config.join("settings.json"), settings.to_string()).unwrap();
    let (_app, w) = common::start_app(dir.path());
    snapshot_when(&w, "connected to the venue", |s| {
        s["status"]["state"] == "connected"
    });

    let key = place_order(
        &w,
        json!({"symbol": "AAPL", "side": "buy", "qty": 100}),
        "order placed",
    );
    let row = |s: &Value| order(s, &key).cloned();
    snapshot_when(&w, "the order filled", |s| {
        row(s).is_some_and(|o| o["status"] == "filled")
    });
    // The venue's last two reports came after the fill: a partial fill it overtook,
    // and "DONE_FOR_DAY". The log names the word; the row is still the fill.
    let snap = snapshot_when(&w, "the unread status in the log", |s| {
        s["log"].as_array().unwrap().iter().any(|l| {
            l["level"] == "warn" && l["message"].as_str().unwrap().contains("\"DONE_FOR_DAY\"")
        })
    });
    let o = row(&snap).unwrap();
    assert_eq!(o["status"], "filled", "{o:#}");
    assert_eq!(
        (&o["filled_qty"], &o["avg_price"], &o["symbol"], &o["qty"]),
        (&json!(100.0), &json!(101.5), &json!("AAPL"), &json!(100.0)),
        "{o:#}"
    );
    let life: Vec<&str> = o["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        life.last_chunk::<3>(),
        Some(&["acknowledged", "partially_filled", "filled"]),
        "{life:?}"
    );
    assert!(life.contains(&"sent"), "{life:?}");

    // The venue executed it once, and saw the re-send after the reset as a repeat.
    let seen: Vec<Value> = std::iter::from_fn(|| {
        reports
            .recv_timeout(std::time::Duration::from_millis(500))
            .ok()
    })
    .collect();
    let executed: Vec<_> = seen
        .iter()
        .filter(|r| r["executed"] == key.as_str())
        .collect();
    let repeats: Vec<_> = seen
        .iter()
        .filter(|r| r["duplicate"] == key.as_str())
        .collect();
    assert_eq!((executed.len(), repeats.len()), (1, 1), "{seen:?}");
    assert_eq!(
        o["id"], executed[0]["order_id"],
        "the venue's id on the row"
    );
}
