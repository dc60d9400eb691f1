//! What the engine's test binaries share: the `uplink` CLI's stdout as timed JSON
//! lines, waiting for one of them, waiting for the process to end, this process's
//! resident memory, and a TLS simulator's CA as a file.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// JSON lines (the CLI's stdout, a fixture's reports), parsed, each with the time it
/// reached this process.
pub type Lines = mpsc::Receiver<(Instant, Value)>;

/// Reads `out` on a thread of its own (so the writer never meets a full or closed
/// pipe). It must be JSON lines only: any other line panics that thread (joining it
/// fails the test) and closes the channel.
pub fn json_lines(out: impl Read + Send + 'static) -> (Lines, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            let v: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a stdout line that is not JSON ({e}): {line}"));
            if tx.send((Instant::now(), v)).is_err() {
                break;
            }
        }
    });
    (rx, reader)
}

/// Waits up to `within` for a line `pred` accepts; returns it and when it came.
pub fn wait_line(
    lines: &Lines,
    within: Duration,
    what: &str,
    pred: impl Fn(&Value) -> bool,
) -> (Instant, Value) {
    let until = Instant::now() + within;
    loop {
        match lines.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok((at, v)) if pred(&v) => return (at, v),
            Ok(_) => {}
            Err(_) => panic!("no {what} within {within:?}"),
        }
    }
}

/// Waits up to `within` for `child` to end, looking every 20 ms; fails the test with
/// `what` if it is still running then.
pub async fn wait_exit(child: &mut Child, within: Duration, what: &str) -> ExitStatus {
    let until = Instant::now() + within;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        assert!(
            Instant::now() < until,
            "still running {within:?} after {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A PEM file holding the CA that signed the TLS simulator `s`'s certificate, for
/// `ClientConfig::extra_ca_file`: in a temporary folder of this process's own, named
/// by the simulator's port.
pub fn sim_ca_file(s: &uplink_sim::Simulator) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("uplink-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join(format!("{}.pem", s.addr().port()));
    std::fs::write(&ca, s.ca_pem().expect("a simulator with TLS")).unwrap();
    ca
}

/// This process's resident memory (VmRSS), MiB. Panics when /proc cannot tell: a
/// bound on memory growth must not pass on a reading of 0. (The Windows build of these
/// tests runs under Wine, which passes Linux's /proc through as a drive: the reading
/// is that of the very process. On real Windows this would panic.)
pub fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: f64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/self/status");
    kb / 1024.0
}
