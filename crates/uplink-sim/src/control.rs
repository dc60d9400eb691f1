//! The HTTP fault switchboard, on loopback.
//!
//! A deliberately tiny HTTP/1.1 server (one request per connection, parameters in
//! the query string, JSON answers), so shell scripts and the end-to-end suite can
//! flip faults with `curl`:
//!
//! | request | effect |
//! |---|---|
//! | `GET /status` | counters and current faults |
//! | `GET /received[?type=order]` | messages clients sent (optionally of one type) |
//! | `POST /drop?mode=close&code=1001` / `POST /drop?mode=reset` | drop every connection |
//! | `POST /silence?on=true` / `?on=false` | half-open link on/off |
//! | `POST /refuse[?secs=N]` | refuse new connections for N s, or until `/accept` |
//! | `POST /accept` | accept connections again |
//! | `POST /delay?pong_ms=N&all_ms=M` | delay pongs / every message |
//! | `POST /malformed` | send one malformed JSON frame on every connection |
//! | `POST /oversized?bytes=N` | send one N-byte frame on every connection |
//! | `POST /flap?up=X&down=Y` | up X s, down Y s, repeatedly |
//! | `POST /rate?per_sec=N` | updates per second per connection (0 = unlimited) |
//! | `POST /clear` | clear every fault |
//!
//! Bad parameters get `400` with `{"error": "..."}`; unknown paths `404`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::{DropMode, OrderFault, SimError, Simulator};

/// Starts the control endpoint; returns the address it listens on.
pub async fn serve(sim: Simulator, addr: SocketAddr) -> Result<SocketAddr, SimError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| SimError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| SimError::Bind { addr, source })?;
    let mut shutdown = sim.shared.shutdown.subscribe();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                acc = listener.accept() => if let Ok((stream, _)) = acc {
                    tokio::spawn(handle(sim.clone(), stream));
                },
                _ = shutdown.changed() => return,
            }
        }
    });
    Ok(local)
}

async fn handle(sim: Simulator, mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let head_end = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 16 * 1024 {
            return;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let request_line = head.lines().next().unwrap_or("");
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = route(&sim, method, target);
    let body = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let resp = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(resp.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn bad(msg: impl Into<String>) -> (u16, Value) {
    (400, json!({"error": msg.into()}))
}

fn num<T: std::str::FromStr>(
    q: &HashMap<String, String>,
    key: &str,
) -> Result<Option<T>, (u16, Value)> {
    match q.get(key) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| bad(format!("{key} must be a non-negative number, got {v:?}"))),
    }
}

fn secs(q: &HashMap<String, String>, key: &str) -> Result<Option<Duration>, (u16, Value)> {
    match num::<f64>(q, key)? {
        Some(s) if s.is_finite() && s >= 0.0 => Ok(Some(Duration::from_secs_f64(s))),
        Some(_) => Err(bad(format!(
            "{key} must be a non-negative number of seconds"
        ))),
        None => Ok(None),
    }
}

/// Answers one request.
pub fn route(sim: &Simulator, method: &str, target: &str) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let ok = |v: Value| (200, v);
    let result = (|| -> Result<(u16, Value), (u16, Value)> {
        Ok(match (method, path) {
            ("GET", "/status") => {
                ok(json!({"url": sim.url(), "stats": sim.stats(), "faults": sim.faults()}))
            }
            ("GET", "/received") => {
                let want = q.get("type");
                let list: Vec<Value> = sim
                    .received()
                    .into_iter()
                    .filter_map(|r| {
                        let msg: Value =
                            serde_json::from_str(&r.text).unwrap_or(Value::String(r.text.clone()));
                        let matches =
                            want.is_none_or(|t| msg.get("type").and_then(Value::as_str) == Some(t));
                        matches.then(|| json!({"conn": r.conn, "message": msg}))
                    })
                    .collect();
                ok(json!(list))
            }
            ("POST", "/drop") => {
                let mode = match q.get("mode").map(String::as_str) {
                    None | Some("close") => DropMode::Close {
                        code: num::<u16>(&q, "code")?.unwrap_or(1001),
                    },
                    Some("reset") => DropMode::Reset,
                    Some(other) => {
                        return Err(bad(format!("mode must be close or reset, got {other:?}")))
                    }
                };
                ok(json!({"dropped": sim.drop_all(mode)}))
            }
            ("POST", "/silence") => {
                let on = match q.get("on").map(String::as_str) {
                    None | Some("true" | "1") => true,
                    Some("false" | "0") => false,
                    Some(other) => {
                        return Err(bad(format!("on must be true or false, got {other:?}")))
                    }
                };
                sim.set_silent(on);
                ok(json!({"silent": on}))
            }
            ("POST", "/refuse") => {
                sim.refuse(secs(&q, "secs")?);
                ok(json!({"refusing": true}))
            }
            ("POST", "/accept") => {
                sim.accept();
                ok(json!({"refusing": false}))
            }
            ("POST", "/delay") => {
                let pong = num::<u64>(&q, "pong_ms")?.unwrap_or(0);
                let all = num::<u64>(&q, "all_ms")?.unwrap_or(0);
                sim.set_delays(Duration::from_millis(pong), Duration::from_millis(all));
                ok(json!({"pong_delay_ms": pong, "delay_ms": all}))
            }
            ("POST", "/malformed") => ok(json!({"sent": sim.send_malformed()})),
            ("POST", "/oversized") => {
                let n = num::<usize>(&q, "bytes")?.unwrap_or(2 << 20);
                ok(json!({"sent": sim.send_oversized(n), "bytes": n}))
            }
            ("POST", "/flap") => {
                let (Some(up), Some(down)) = (secs(&q, "up")?, secs(&q, "down")?) else {
                    return Err(bad("flap needs up and down, in seconds"));
                };
                if up.is_zero() || down.is_zero() {
                    return Err(bad("up and down must be greater than zero"));
                }
                sim.flap(up, down);
                ok(json!({"flap": [up.as_secs_f64(), down.as_secs_f64()]}))
            }
            ("POST", "/rate") => {
                let Some(r) = num::<f64>(&q, "per_sec")?.filter(|r| r.is_finite() && *r >= 0.0)
                else {
                    return Err(bad("per_sec must be a non-negative number"));
                };
                sim.set_rate(r);
                ok(json!({"rate": r}))
            }
            ("POST", "/stall") => {
                let all = match q.get("on").map(String::as_str) {
                    None | Some("true" | "1") => !q.contains_key("symbols"),
                    Some("false" | "0") => false,
                    Some(other) => {
                        return Err(bad(format!("on must be true or false, got {other:?}")))
                    }
                };
                let off = matches!(q.get("on").map(String::as_str), Some("false" | "0"));
                let symbols: Vec<&str> = match (off, q.get("symbols")) {
                    (false, Some(list)) => list.split(',').filter(|s| !s.is_empty()).collect(),
                    _ => Vec::new(),
                };
                sim.stall(all, &symbols);
                ok(json!({"stall_all": all, "stalled": symbols}))
            }
            ("POST", "/clock") => {
                let Some(ms) = q.get("offset_ms").and_then(|v| v.parse::<i64>().ok()) else {
                    return Err(bad("offset_ms must be a whole number of milliseconds"));
                };
                sim.set_clock_offset(ms);
                ok(json!({"clock_offset_ms": ms}))
            }
            ("POST", "/order-fault") => {
                let fault = match q.get("mode").map(String::as_str) {
                    Some("reset_unread") => OrderFault::ResetUnread,
                    Some("reset_before_ack") => OrderFault::ResetBeforeAck,
                    other => {
                        return Err(bad(format!(
                            "mode must be reset_unread or reset_before_ack, got {other:?}"
                        )))
                    }
                };
                sim.fault_next_order(fault);
                ok(json!({"order_fault": fault}))
            }
            ("POST", "/clear") => {
                sim.clear_faults();
                ok(json!({"faults": sim.faults()}))
            }
            (
                _,
                "/status" | "/received" | "/drop" | "/silence" | "/refuse" | "/accept" | "/delay"
                | "/malformed" | "/oversized" | "/flap" | "/rate" | "/stall" | "/clock"
                | "/order-fault" | "/clear",
            ) => (
                405,
                json!({"error": format!("{method} not allowed on {path}")}),
            ),
            _ => (404, json!({"error": format!("no such endpoint: {path}")})),
        })
    })();
    result.unwrap_or_else(|e| e)
}
