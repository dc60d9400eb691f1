//! Serves one client: handshake (token check), protocol, updates, orders, and faults.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use crate::{ConnCtl, DropMode, Faults, OrderFault, Shared, SimOrder};

/// Access to the TCP socket under a (possibly TLS) stream, to reset it.
pub(crate) trait TcpOf {
    fn tcp(&self) -> &TcpStream;
}

impl TcpOf for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl TcpOf for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// RFC 3339 with milliseconds, UTC.
pub(crate) fn now_rfc3339() -> String {
    stamp(0)
}

/// Executed orders kept for deduplication.
const ORDERS_KEPT: usize = 100_000;

/// Whether a frame is an `order` message (parsed only while an order fault is set).
fn is_order(text: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .is_some_and(|v| v.get("type").and_then(Value::as_str) == Some("order"))
}

/// Now, on a clock `offset_ms` ahead of the real one (behind if negative), RFC 3339.
pub(crate) fn stamp(offset_ms: i64) -> String {
    let off = Duration::from_millis(offset_ms.unsigned_abs());
    let t = if offset_ms >= 0 {
        SystemTime::now() + off
    } else {
        SystemTime::now() - off
    };
    humantime::format_rfc3339_millis(t).to_string()
}

/// Frames pre-rendered for unlimited-rate mode.
const FIREHOSE_RING: usize = 4096;
/// Frames written between flushes in unlimited-rate mode.
const FIREHOSE_BATCH: usize = 256;

pub(crate) async fn serve(shared: Arc<Shared>, tcp: TcpStream, peer: SocketAddr) {
    match shared.tls.clone() {
        Some(acceptor) => match acceptor.accept(tcp).await {
            Ok(tls) => handshake(shared, tls, peer).await,
            Err(e) => tracing::debug!(%peer, "TLS handshake failed: {e}"),
        },
        None => handshake(shared, tcp, peer).await,
    }
}

/// Compares without an early exit, so the token cannot be guessed by timing.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn token_ok(req: &Request, want: &str) -> bool {
    let in_query = req.uri().query().is_some_and(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .any(|(k, v)| k == "token" && same_secret(&v, want))
    });
    let in_header = req
        .headers()
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| same_secret(t.trim(), want));
    in_query || in_header
}

async fn handshake<S>(shared: Arc<Shared>, stream: S, peer: SocketAddr)
where
    S: AsyncRead + AsyncWrite + Unpin + TcpOf,
{
    // A silent (half-open) server takes the TCP connection but never answers the
    // upgrade, as a dead network path would.
    let mut faults = shared.faults.subscribe();
    while faults.borrow_and_update().silent {
        if faults.changed().await.is_err() {
            return;
        }
    }
    let token = shared.config.token.clone();
    let id = shared.next_conn.fetch_add(1, Ordering::SeqCst) + 1;
    let (tx, rx) = mpsc::unbounded_channel();
    // Registered inside the callback, i.e. before the 101 response is written: once a
    // client sees itself connected, faults injected through the handle reach it.
    let mut registration = Some(tx);
    // The error type is tungstenite's (`Callback` trait), not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback =
        |req: &Request, resp: Response| -> std::result::Result<Response, ErrorResponse> {
            match &token {
                Some(want) if !token_ok(req, want) => {
                    let mut err = ErrorResponse::new(Some("invalid or missing token".into()));
                    *err.status_mut() = StatusCode::UNAUTHORIZED;
                    Err(err)
                }
                _ => {
                    if let Some(tx) = registration.take() {
                        shared.conns.lock().unwrap().insert(id, tx);
                        shared.connections_total.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(resp)
                }
            }
        };
    let config = WebSocketConfig::default()
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20));
    let ws = match tokio_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config))
        .await
    {
        Ok(ws) => ws,
        Err(e) => {
            if shared.conns.lock().unwrap().remove(&id).is_none() {
                shared.handshakes_refused.fetch_add(1, Ordering::Relaxed);
            }
            tracing::debug!(%peer, "handshake failed: {e}");
            return;
        }
    };
    tracing::info!(%peer, conn = id, "client connected");
    let mut conn = Conn {
        id,
        shared: Arc::clone(&shared),
        ws,
        subs: Vec::new(),
        cursor: 0,
        pending: BinaryHeap::new(),
        seq: 0,
        ring: Vec::new(),
        ring_pos: 0,
    };
    let end = conn.run(rx).await;
    shared.conns.lock().unwrap().remove(&id);
    tracing::info!(%peer, conn = id, "client gone: {end}");
}

/// A frame waiting for its time (delays, order lifecycle steps).
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Pending {
    due: Instant,
    seq: u64,
    text: String,
}

struct Conn<S> {
    id: u64,
    shared: Arc<Shared>,
    ws: WebSocketStream<S>,
    /// Subscribed symbols, in subscription order.
    subs: Vec<String>,
    /// Next symbol to update (round robin).
    cursor: usize,
    /// Frames to send later, earliest first.
    pending: BinaryHeap<Reverse<Pending>>,
    /// Tie-breaker keeping same-time frames in order.
    seq: u64,
    /// Pre-rendered updates for unlimited-rate mode; rebuilt when subscriptions change.
    ring: Vec<Utf8Bytes>,
    ring_pos: usize,
}

type Result<T> = std::result::Result<T, String>;

impl<S> Conn<S>
where
    S: AsyncRead + AsyncWrite + Unpin + TcpOf,
{
    async fn run(&mut self, mut ctl: mpsc::UnboundedReceiver<ConnCtl>) -> String {
        let mut faults_rx = self.shared.faults.subscribe();
        let mut faults: Faults = faults_rx.borrow_and_update().clone();
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut tick = ticker(faults.rate);
        let mut credit = 0.0f64;
        let mut last_tick = Instant::now();
        loop {
            let due = self.pending.peek().map(|p| p.0.due);
            let live = !faults.silent;
            let streaming = live && !self.subs.is_empty();
            let res: Result<()> = tokio::select! {
                cmd = ctl.recv() => match cmd {
                    Some(ConnCtl::Drop(mode)) => return self.drop_with(mode).await,
                    Some(ConnCtl::Malformed) => self.send_now(r#"{"type":"update","data":{"symbol":"AAPL","price":"#.into()).await,
                    Some(ConnCtl::Oversized(n)) => self.send_now(oversized(n)).await,
                    None => return "simulator stopped".into(),
                },
                _ = faults_rx.changed() => {
                    let new = faults_rx.borrow_and_update().clone();
                    if new.rate != faults.rate {
                        tick = ticker(new.rate);
                    }
                    if new.silent && !faults.silent {
                        // What was about to be sent is lost in a dead link.
                        self.pending.clear();
                    }
                    faults = new;
                    Ok(())
                }
                _ = shutdown.changed() => return self.drop_with(DropMode::Close { code: 1001 }).await,
                msg = self.ws.next(), if live => match msg {
                    None => return "closed by client (end of stream)".into(),
                    Some(Err(e)) => return format!("read failed: {e}"),
                    Some(Ok(Message::Close(f))) => return format!("closed by client ({f:?})"),
                    Some(Ok(Message::Text(t))) => self.on_request(t.as_str(), &faults).await,
                    Some(Ok(Message::Binary(b))) => match std::str::from_utf8(&b) {
                        Ok(t) => self.on_request(t, &faults).await,
                        Err(_) => self.reply(&faults, error_msg("BAD_REQUEST", "binary frames must hold UTF-8 JSON", json!({}))).await,
                    },
                    Some(Ok(_)) => Ok(()),
                },
                _ = sleep_until_opt(due), if live && due.is_some() => self.flush_due().await,
                _ = tick.tick(), if streaming && faults.rate > 0.0 => {
                    let now = Instant::now();
                    credit = (credit + now.duration_since(last_tick).as_secs_f64() * faults.rate)
                        .min(faults.rate * 0.05 + 1.0);
                    last_tick = now;
                    let n = credit.floor() as usize;
                    credit -= n as f64;
                    self.stream_updates(n, &faults).await
                }
                _ = std::future::ready(()), if streaming && faults.rate == 0.0 && !faults.stall_all => self.firehose().await,
            };
            if let Err(e) = res {
                return e;
            }
            if !streaming {
                last_tick = Instant::now();
                credit = 0.0;
            }
        }
    }

    async fn drop_with(&mut self, mode: DropMode) -> String {
        match mode {
            DropMode::Reset => {
                if let Err(e) =
                    socket2::SockRef::from(self.ws.get_ref().tcp()).set_linger(Some(Duration::ZERO))
                {
                    tracing::warn!("cannot set SO_LINGER for a reset: {e}");
                }
                "dropped with a TCP reset".into()
            }
            DropMode::Close { code } => {
                let frame = CloseFrame {
                    code: CloseCode::from(code),
                    reason: "dropped by the simulator".into(),
                };
                if self.ws.close(Some(frame)).await.is_ok() {
                    // Give the client a moment to answer the close.
                    let _ = tokio::time::timeout(Duration::from_millis(500), async {
                        while let Some(Ok(_)) = self.ws.next().await {}
                    })
                    .await;
                }
                format!("dropped with close code {code}")
            }
        }
    }

    async fn send_now(&mut self, text: String) -> Result<()> {
        self.shared.messages_sent.fetch_add(1, Ordering::Relaxed);
        self.ws
            .send(Message::text(text))
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    /// Sends now, or after the configured delay (plus `extra`).
    async fn send_after(&mut self, faults: &Faults, extra: Duration, text: String) -> Result<()> {
        let delay = Duration::from_millis(faults.delay_ms) + extra;
        if delay.is_zero() && self.pending.is_empty() {
            return self.send_now(text).await;
        }
        self.schedule(Instant::now() + delay, text);
        Ok(())
    }

    async fn reply(&mut self, faults: &Faults, text: String) -> Result<()> {
        self.send_after(faults, Duration::ZERO, text).await
    }

    fn schedule(&mut self, due: Instant, text: String) {
        self.seq += 1;
        self.pending.push(Reverse(Pending {
            due,
            seq: self.seq,
            text,
        }));
    }

    /// Writes frames with one flush at the end, and counts them.
    async fn write_all(&mut self, frames: impl IntoIterator<Item = Message>) -> Result<()> {
        for f in frames {
            self.shared.messages_sent.fetch_add(1, Ordering::Relaxed);
            self.ws
                .feed(f)
                .await
                .map_err(|e| format!("write failed: {e}"))?;
        }
        self.ws
            .flush()
            .await
            .map_err(|e| format!("write failed: {e}"))
    }

    async fn flush_due(&mut self) -> Result<()> {
        let now = Instant::now();
        let mut due = Vec::new();
        while self.pending.peek().is_some_and(|p| p.0.due <= now) {
            due.push(Message::text(self.pending.pop().expect("peeked").0.text));
        }
        self.write_all(due).await
    }

    async fn on_request(&mut self, text: &str, faults: &Faults) -> Result<()> {
        if faults.order_fault == Some(OrderFault::ResetUnread)
            && is_order(text)
            && self.take_order_fault()
        {
            // The kernel took the client's write; the server never reads it.
            let why = self.drop_with(DropMode::Reset).await;
            return Err(format!("{why} with an order unread (fault)"));
        }
        self.shared.record(self.id, text);
        let req: Map<String, Value> = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            Ok(_) => {
                let e = error_msg("BAD_REQUEST", "a message must be a JSON object", json!({}));
                return self.reply(faults, e).await;
            }
            Err(e) => {
                let e = error_msg(
                    "MALFORMED_JSON",
                    &format!("cannot parse message: {e}"),
                    json!({}),
                );
                return self.reply(faults, e).await;
            }
        };
        let kind = req.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "ping" => {
                let pong =
                    json!({"type": "pong", "timestamp": stamp(faults.clock_offset_ms)}).to_string();
                let extra = Duration::from_millis(faults.pong_delay_ms);
                self.send_after(faults, extra, pong).await
            }
            "pong" => Ok(()),
            "subscribe" | "unsubscribe" => {
                self.on_subscription(kind == "subscribe", &req, faults)
                    .await
            }
            "order" => self.on_order(&req, faults).await,
            "" => {
                let e = error_msg(
                    "BAD_REQUEST",
                    "a message needs a string field \"type\"",
                    json!({}),
                );
                self.reply(faults, e).await
            }
            other => {
                let e = error_msg(
                    "UNKNOWN_TYPE",
                    &format!("unknown message type {other:?}"),
                    json!({"type": other}),
                );
                self.reply(faults, e).await
            }
        }
    }

    async fn on_subscription(
        &mut self,
        add: bool,
        req: &Map<String, Value>,
        faults: &Faults,
    ) -> Result<()> {
        let symbols = req
            .get("data")
            .and_then(|d| d.get("symbols"))
            .or_else(|| req.get("symbols"))
            .and_then(Value::as_array)
            .and_then(|a| {
                a.iter()
                    .map(|s| s.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
            });
        let Some(symbols) = symbols else {
            let e = error_msg(
                "BAD_REQUEST",
                "expected data.symbols: a list of strings",
                json!({}),
            );
            return self.reply(faults, e).await;
        };
        let (known, unknown): (Vec<String>, Vec<String>) = {
            let book = self.shared.book.lock().unwrap();
            symbols.into_iter().partition(|s| book.knows(s))
        };
        for s in known {
            let pos = self.subs.iter().position(|x| *x == s);
            match (add, pos) {
                (true, None) => self.subs.push(s),
                (false, Some(i)) => {
                    self.subs.remove(i);
                }
                _ => {}
            }
        }
        self.ring.clear();
        if !unknown.is_empty() && add {
            let e = error_msg(
                "UNKNOWN_SYMBOL",
                &format!("unknown symbol(s): {}", unknown.join(", ")),
                json!({"symbols": unknown}),
            );
            return self.reply(faults, e).await;
        }
        Ok(())
    }

    async fn on_order(&mut self, req: &Map<String, Value>, faults: &Faults) -> Result<()> {
        let data = req.get("data").and_then(Value::as_object);
        let symbol = data.and_then(|d| d.get("symbol")).and_then(Value::as_str);
        let side = data.and_then(|d| d.get("side")).and_then(Value::as_str);
        let qty = data.and_then(|d| d.get("qty")).and_then(Value::as_f64);
        let client_id = data
            .and_then(|d| d.get("client_order_id"))
            .and_then(Value::as_str);
        let (Some(symbol), Some(side @ ("buy" | "sell")), Some(qty)) = (symbol, side, qty) else {
            let e = error_msg(
                "BAD_REQUEST",
                "an order needs data.symbol (string), data.side (\"buy\" or \"sell\") and data.qty (number)",
                json!({"request": Value::Object(req.clone())}),
            );
            return self.reply(faults, e).await;
        };
        let offset = faults.clock_offset_ms;
        let frame =
            |o: &Value| json!({"type": "order", "data": o, "timestamp": stamp(offset)}).to_string();
        let known = client_id.and_then(|c| self.shared.orders.lock().unwrap().get(c).cloned());
        if let Some(existing) = known {
            // Seen before: never executed twice. Answer with its current status, and
            // finish its life on this connection.
            self.shared
                .orders_deduplicated
                .fetch_add(1, Ordering::Relaxed);
            return self.replay(existing, faults, frame).await;
        }
        let (id, price) = {
            let mut book = self.shared.book.lock().unwrap();
            (book.order_id(), book.price(symbol))
        };
        let mut order = json!({"id": id, "symbol": symbol, "side": side, "qty": qty});
        if let Some(c) = client_id {
            order["client_order_id"] = json!(c);
        }
        let reject = match price {
            None => Some(format!("unknown symbol {symbol}")),
            Some(_) if !(qty > 0.0 && qty.is_finite()) => {
                Some("qty must be a positive number".to_owned())
            }
            Some(_) if qty > 1_000_000.0 => Some("qty exceeds the 1,000,000 limit".to_owned()),
            Some(_) => None,
        };
        if let Some(reason) = reject {
            order["status"] = json!("rejected");
            order["reason"] = json!(reason);
            return self.reply(faults, frame(&order)).await;
        }
        let price = price.expect("checked");
        order["status"] = json!("accepted");
        order["filled_qty"] = json!(0.0);
        self.shared.orders_executed.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = client_id {
            let mut orders = self.shared.orders.lock().unwrap();
            if orders.len() >= ORDERS_KEPT {
                orders.clear();
            }
            orders.insert(
                c.to_owned(),
                SimOrder {
                    accepted: order.clone(),
                    at: Instant::now(),
                    price,
                },
            );
        }
        if faults.order_fault == Some(OrderFault::ResetBeforeAck) && self.take_order_fault() {
            // Executed, but the acknowledgement never leaves.
            let why = self.drop_with(DropMode::Reset).await;
            return Err(format!(
                "{why} after executing an order, before acknowledging it (fault)"
            ));
        }
        self.reply(faults, frame(&order)).await?;
        self.schedule_fills(order, price, Duration::ZERO, faults, &frame);
        Ok(())
    }

    /// Takes the one-shot order fault; false if another connection took it first.
    fn take_order_fault(&self) -> bool {
        let mut took = false;
        self.shared.faults.send_if_modified(|f| {
            took = f.order_fault.take().is_some();
            took
        });
        took
    }

    /// Answers a repeated order with its current status and schedules the rest.
    async fn replay(
        &mut self,
        existing: SimOrder,
        faults: &Faults,
        frame: impl Fn(&Value) -> String,
    ) -> Result<()> {
        let step = self.shared.config.order_step;
        let elapsed = existing.at.elapsed();
        let qty = existing.accepted["qty"].as_f64().unwrap_or(0.0);
        let half = (qty / 2.0).floor();
        let mut order = existing.accepted.clone();
        if elapsed >= step * 2 {
            order["status"] = json!("filled");
            order["filled_qty"] = json!(qty);
            order["avg_price"] = json!(existing.price);
            return self.reply(faults, frame(&order)).await;
        }
        if elapsed >= step && half >= 1.0 {
            order["status"] = json!("partially_filled");
            order["filled_qty"] = json!(half);
            order["avg_price"] = json!(existing.price);
        }
        self.reply(faults, frame(&order)).await?;
        self.schedule_fills(existing.accepted, existing.price, elapsed, faults, &frame);
        Ok(())
    }

    /// Schedules the rest of an accepted order's life: half filled after one step,
    /// filled after two (counted from its acceptance, `elapsed` ago).
    fn schedule_fills(
        &mut self,
        mut order: Value,
        price: f64,
        elapsed: Duration,
        faults: &Faults,
        frame: &impl Fn(&Value) -> String,
    ) {
        let qty = order["qty"].as_f64().unwrap_or(0.0);
        let step = self.shared.config.order_step;
        let base = Instant::now() + Duration::from_millis(faults.delay_ms);
        let at = |k: u32| base + (step * k).saturating_sub(elapsed);
        let half = (qty / 2.0).floor();
        if half >= 1.0 && elapsed < step {
            order["status"] = json!("partially_filled");
            order["filled_qty"] = json!(half);
            order["avg_price"] = json!(price);
            self.schedule(at(1), frame(&order));
        }
        order["status"] = json!("filled");
        order["filled_qty"] = json!(qty);
        order["avg_price"] = json!(price);
        order["filled_at"] = json!(humantime::format_rfc3339_millis(
            SystemTime::now() + (step * 2).saturating_sub(elapsed)
        )
        .to_string());
        self.schedule(at(2), frame(&order));
    }

    /// Now, on the simulator's (possibly offset) clock.
    fn stamp(&self) -> String {
        stamp(self.shared.faults.borrow().clock_offset_ms)
    }

    /// Sends `n` updates, round robin over the subscriptions that are not stalled.
    async fn stream_updates(&mut self, n: usize, faults: &Faults) -> Result<()> {
        let live: Vec<&String> = self
            .subs
            .iter()
            .filter(|s| !faults.stall_all && !faults.stalled.contains(s))
            .collect();
        if n == 0 || live.is_empty() {
            return Ok(());
        }
        let ts = stamp(faults.clock_offset_ms);
        let mut frames = Vec::with_capacity(n);
        {
            let mut book = self.shared.book.lock().unwrap();
            for _ in 0..n {
                let sym = live[self.cursor % live.len()];
                self.cursor = self.cursor.wrapping_add(1);
                let mut s = String::with_capacity(160);
                book.step(sym, &ts, &mut s);
                frames.push(s);
            }
        }
        if faults.delay_ms > 0 {
            let due = Instant::now() + Duration::from_millis(faults.delay_ms);
            for f in frames {
                self.schedule(due, f);
            }
            return Ok(());
        }
        self.write_all(frames.into_iter().map(Message::text)).await
    }

    /// Unlimited rate: writes pre-rendered updates as fast as the socket takes them.
    async fn firehose(&mut self) -> Result<()> {
        if self.ring.is_empty() {
            let ts = self.stamp();
            let mut book = self.shared.book.lock().unwrap();
            for i in 0..FIREHOSE_RING {
                let mut s = String::with_capacity(160);
                book.step(&self.subs[i % self.subs.len()], &ts, &mut s);
                self.ring.push(Utf8Bytes::from(s));
            }
        }
        let start = self.ring_pos;
        self.ring_pos = self.ring_pos.wrapping_add(FIREHOSE_BATCH);
        let batch: Vec<Message> = (start..start + FIREHOSE_BATCH)
            .map(|i| Message::Text(self.ring[i % FIREHOSE_RING].clone()))
            .collect();
        self.write_all(batch).await
    }
}

fn ticker(rate: f64) -> tokio::time::Interval {
    let period = if rate > 0.0 {
        Duration::from_secs_f64((1.0 / rate).clamp(0.001, 1.0))
    } else {
        Duration::from_secs(1)
    };
    let mut t = tokio::time::interval(period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

async fn sleep_until_opt(due: Option<Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

pub(crate) fn error_msg(code: &str, message: &str, details: Value) -> String {
    json!({
        "type": "error",
        "data": {"code": code, "message": message, "details": details},
        "timestamp": now_rfc3339(),
    })
    .to_string()
}

/// A valid JSON frame of exactly `n` bytes (at least the envelope's own size), of a
/// type clients do not know, which they must pass through.
fn oversized(n: usize) -> String {
    let head = r#"{"type":"padding","data":{"pad":""#;
    let tail = r#""}}"#;
    let pad = n.saturating_sub(head.len() + tail.len());
    let mut s = String::with_capacity(n);
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(tail);
    s
}
