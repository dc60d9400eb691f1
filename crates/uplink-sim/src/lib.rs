//! A real trading-feed WebSocket server that misbehaves on command.
//!
//! Used three ways: the `uplink-sim` binary, a library that tests start in-process on
//! port 0, and the app's built-in demo feed. It speaks the seed's protocol
//! (see `uplink-proto`):
//!
//! * `{"type":"ping"}` → `{"type":"pong","timestamp":…}`;
//! * `subscribe` / `unsubscribe` → a stream of `update`s for the subscribed symbols,
//!   random-walk prices from one seeded book, at `rate` updates per second per
//!   connection (0 = as fast as the socket takes them, for benchmarks);
//! * `order` → `accepted` → `partially_filled` → `filled` (or `rejected` with a reason);
//! * `error` with `code`, `message`, `details` for what it cannot serve: unknown
//!   type (`UNKNOWN_TYPE`), malformed JSON (`MALFORMED_JSON`), unknown symbol
//!   (`UNKNOWN_SYMBOL`), bad request shape (`BAD_REQUEST`);
//! * optional token (`?token=` or `Authorization: Bearer`): refused with 401 at the handshake;
//! * optional `wss` with a self-signed certificate generated at start.
//!
//! Faults are switched at run time through [`Simulator`]'s methods, or over HTTP (see
//! [`control`]): drop every connection (close frame or TCP reset), go silent
//! (half-open), refuse new connections, delay pongs or everything, send malformed
//! JSON or an oversized frame, flap.
//!
//! Module tour: [`market`] holds prices and orders, `conn` serves one client,
//! [`control`] is the HTTP fault switchboard, `tls` makes the certificate, and [`peers`]
//! starts real proxy servers (tinyproxy, microsocks) for tests.

mod control;
pub mod market;
pub mod peers;

mod conn;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::market::Book;

/// How the simulator is set up at start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where the feed listens; port 0 picks a free one.
    pub addr: SocketAddr,
    /// Where the HTTP control endpoint listens, if anywhere.
    pub control_addr: Option<SocketAddr>,
    /// Token clients must present; `None` accepts everyone.
    pub token: Option<String>,
    /// Serve `wss` with a self-signed certificate for `localhost` and 127.0.0.1.
    pub tls: bool,
    /// Which certificate `tls` serves: a valid one, or a faulty one for tests.
    pub cert: CertKind,
    /// Seed of the price book.
    pub seed: u64,
    /// Updates per second per connection, spread over its subscriptions; 0 = unlimited.
    pub rate: f64,
    /// Time between the steps of an order's lifecycle.
    pub order_step: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            control_addr: None,
            token: None,
            tls: false,
            cert: CertKind::Valid,
            seed: 1,
            rate: 20.0,
            order_step: Duration::from_millis(300),
        }
    }
}

/// Could not start.
#[derive(Debug, Error)]
pub enum SimError {
    /// Binding a listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// Making the self-signed certificate failed.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
}

/// How to drop connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum DropMode {
    /// A close frame with this code, then the TCP close.
    Close {
        /// The WebSocket close code.
        code: u16,
    },
    /// A TCP reset, no close frame (SO_LINGER 0).
    Reset,
}

/// Commands to one connection's task.
#[derive(Debug, Clone)]
pub(crate) enum ConnCtl {
    Drop(DropMode),
    Malformed,
    Oversized(usize),
}

/// Fault switches that every connection reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Faults {
    /// Half-open: connections neither read nor write, TCP stays up.
    pub silent: bool,
    /// New connections are refused (the listener is closed).
    pub refusing: bool,
    /// Extra delay before each pong, in milliseconds.
    pub pong_delay_ms: u64,
    /// Extra delay before every outbound message, in milliseconds.
    pub delay_ms: u64,
    /// Updates per second per connection (0 = unlimited).
    pub rate: f64,
    /// Flapping: (seconds up, seconds down).
    pub flap: Option<(f64, f64)>,
    /// Stop all price updates, while still answering pings and orders: a stalled
    /// upstream behind a healthy gateway.
    pub stall_all: bool,
    /// Stop the updates of these symbols only (a halted symbol); the others tick on.
    pub stalled: Vec<String>,
    /// The simulator's clock runs this many milliseconds ahead (negative: behind) in
    /// the timestamps of pongs, updates and orders.
    pub clock_offset_ms: i64,
    /// What happens to the next order (once, on whichever connection gets it).
    pub order_fault: Option<OrderFault>,
}

/// The certificate the simulator serves with `tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertKind {
    /// Valid now, for `localhost` and 127.0.0.1.
    #[default]
    Valid,
    /// Expired (valid in 2020 only).
    Expired,
    /// Valid now, but for `other.example`.
    OtherName,
}

/// A one-shot fault for the next order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderFault {
    /// Read nothing of it (it is not received, not executed) and reset the TCP
    /// connection: the client's write was accepted by the kernel, and lost.
    ResetUnread,
    /// Accept and execute it, then reset the TCP connection before acknowledging it.
    ResetBeforeAck,
}

/// An order the simulator executed, kept for deduplication by `client_order_id`.
#[derive(Debug, Clone)]
pub(crate) struct SimOrder {
    /// The order as first acknowledged (`status` accepted).
    pub accepted: serde_json::Value,
    /// When it was accepted.
    pub at: tokio::time::Instant,
    /// Its fill price.
    pub price: f64,
}

/// One message a client sent, as recorded for tests.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Received {
    /// Which connection (1-based, in accept order).
    pub conn: u64,
    /// The frame's text.
    pub text: String,
}

/// Counters, for tests, the control endpoint and the benchmark.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimStats {
    /// Connections accepted since start (handshake completed).
    pub connections_total: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Handshakes refused (bad token).
    pub handshakes_refused: u64,
    /// Frames sent to clients.
    pub messages_sent: u64,
    /// Frames received from clients.
    pub messages_received: u64,
    /// Orders executed (accepted); a repeated `client_order_id` is not executed again.
    pub orders_executed: u64,
    /// Orders received again with a `client_order_id` already executed: answered
    /// with the existing order's status.
    pub orders_deduplicated: u64,
}

/// How many received messages are kept for inspection.
const RECEIVED_KEPT: usize = 100_000;

/// State shared by the acceptor, the connections and the handle.
pub(crate) struct Shared {
    pub config: SimConfig,
    pub book: Mutex<Book>,
    pub faults: watch::Sender<Faults>,
    pub conns: Mutex<HashMap<u64, mpsc::UnboundedSender<ConnCtl>>>,
    pub received: Mutex<Vec<Received>>,
    /// Executed orders by `client_order_id` (the most recent 100,000).
    pub orders: Mutex<HashMap<String, SimOrder>>,
    pub orders_executed: AtomicU64,
    pub orders_deduplicated: AtomicU64,
    pub next_conn: AtomicU64,
    pub connections_total: AtomicU64,
    pub handshakes_refused: AtomicU64,
    pub messages_sent: AtomicU64,
    pub messages_received: AtomicU64,
    /// Bumped by every refuse/accept command, so an old timer cannot undo a newer one.
    pub refuse_generation: AtomicU64,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub flap_task: Mutex<Option<JoinHandle<()>>>,
    pub shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .field("faults", &*self.faults.borrow())
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn record(&self, conn: u64, text: &str) {
        self.messages_received.fetch_add(1, Ordering::Relaxed);
        let mut r = self.received.lock().unwrap();
        if r.len() >= RECEIVED_KEPT {
            r.drain(..RECEIVED_KEPT / 10);
        }
        r.push(Received {
            conn,
            text: text.to_owned(),
        });
    }

    fn broadcast(&self, ctl: ConnCtl) -> usize {
        let conns = self.conns.lock().unwrap();
        conns
            .values()
            .filter(|tx| tx.send(ctl.clone()).is_ok())
            .count()
    }

    fn set_refusing(self: &Arc<Self>, refuse: bool, for_: Option<Duration>) {
        let generation = self.refuse_generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.faults.send_modify(|f| f.refusing = refuse);
        if let (true, Some(d)) = (refuse, for_) {
            let me = Arc::clone(self);
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                if me.refuse_generation.load(Ordering::SeqCst) == generation {
                    me.faults.send_modify(|f| f.refusing = false);
                }
            });
        }
    }
}

/// A running simulator. Dropping it does not stop it; call [`Simulator::shutdown`].
#[derive(Debug, Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    control_addr: Option<SocketAddr>,
    ca_pem: Option<String>,
}

impl Simulator {
    /// Binds and starts serving. Must be called inside a tokio runtime.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: config.addr,
            source,
        })?;
        let (tls, ca_pem) = if config.tls {
            let (acceptor, pem) = tls::self_signed(config.cert).map_err(SimError::Tls)?;
            (Some(acceptor), Some(pem))
        } else {
            (None, None)
        };
        let faults = Faults {
            rate: config.rate,
            ..Faults::default()
        };
        let shared = Arc::new(Shared {
            book: Mutex::new(Book::new(config.seed)),
            faults: watch::channel(faults).0,
            conns: Mutex::new(HashMap::new()),
            received: Mutex::new(Vec::new()),
            orders: Mutex::new(HashMap::new()),
            orders_executed: AtomicU64::new(0),
            orders_deduplicated: AtomicU64::new(0),
            next_conn: AtomicU64::new(0),
            connections_total: AtomicU64::new(0),
            handshakes_refused: AtomicU64::new(0),
            messages_sent: AtomicU64::new(0),
            messages_received: AtomicU64::new(0),
            refuse_generation: AtomicU64::new(0),
            tls,
            flap_task: Mutex::new(None),
            shutdown: watch::channel(false).0,
            config: config.clone(),
        });
        tokio::spawn(accept_loop(Arc::clone(&shared), listener, addr));
        let mut sim = Simulator {
            shared,
            addr,
            control_addr: None,
            ca_pem,
        };
        if let Some(caddr) = config.control_addr {
            sim.control_addr = Some(control::serve(sim.clone(), caddr).await?);
        }
        tracing::info!(url = %sim.url(), control = ?sim.control_addr, "feed simulator listening");
        Ok(sim)
    }

    /// The feed's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL clients connect to, e.g. `ws://127.0.0.1:40123/ws`.
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        let host = if self.shared.tls.is_some() {
            format!("localhost:{}", self.addr.port())
        } else {
            self.addr.to_string()
        };
        format!("{scheme}://{host}/ws")
    }

    /// The HTTP control endpoint's base URL, if one was started.
    pub fn control_url(&self) -> Option<String> {
        self.control_addr.map(|a| format!("http://{a}"))
    }

    /// The self-signed certificate in PEM, when serving `wss`.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Current fault switches.
    pub fn faults(&self) -> Faults {
        self.shared.faults.borrow().clone()
    }

    /// Counters.
    pub fn stats(&self) -> SimStats {
        let s = &self.shared;
        SimStats {
            connections_total: s.connections_total.load(Ordering::Relaxed),
            connections_open: s.conns.lock().unwrap().len() as u64,
            handshakes_refused: s.handshakes_refused.load(Ordering::Relaxed),
            messages_sent: s.messages_sent.load(Ordering::Relaxed),
            messages_received: s.messages_received.load(Ordering::Relaxed),
            orders_executed: s.orders_executed.load(Ordering::Relaxed),
            orders_deduplicated: s.orders_deduplicated.load(Ordering::Relaxed),
        }
    }

    /// Sets a one-shot fault for the next order any client sends.
    pub fn fault_next_order(&self, fault: OrderFault) {
        self.shared
            .faults
            .send_modify(|f| f.order_fault = Some(fault));
    }

    /// Every message clients sent (the most recent 100,000).
    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Drops every open connection; returns how many.
    pub fn drop_all(&self, mode: DropMode) -> usize {
        self.shared.broadcast(ConnCtl::Drop(mode))
    }

    /// Half-open link: stop reading and writing on every connection, TCP kept open.
    pub fn set_silent(&self, silent: bool) {
        self.shared.faults.send_modify(|f| f.silent = silent);
    }

    /// Refuses new connections (the listener closes) for `duration`, or until
    /// [`Simulator::accept`] when `None`.
    pub fn refuse(&self, duration: Option<Duration>) {
        self.shared.set_refusing(true, duration);
    }

    /// Accepts connections again.
    pub fn accept(&self) {
        self.shared.set_refusing(false, None);
    }

    /// Delays each pong by `pong`, and every outbound message by `all`.
    pub fn set_delays(&self, pong: Duration, all: Duration) {
        self.shared.faults.send_modify(|f| {
            f.pong_delay_ms = pong.as_millis() as u64;
            f.delay_ms = all.as_millis() as u64;
        });
    }

    /// Stops price updates (all of them, or only `symbols`) while pings and orders are
    /// still answered; `stall(false, &[])` resumes everything.
    pub fn stall(&self, all: bool, symbols: &[&str]) {
        self.shared.faults.send_modify(|f| {
            f.stall_all = all;
            f.stalled = symbols.iter().map(|s| s.to_string()).collect();
        });
    }

    /// Puts the simulator's clock `ms` milliseconds ahead (negative: behind) in the
    /// timestamps it writes.
    pub fn set_clock_offset(&self, ms: i64) {
        self.shared.faults.send_modify(|f| f.clock_offset_ms = ms);
    }

    /// Updates per second per connection; 0 = unlimited.
    pub fn set_rate(&self, rate: f64) {
        self.shared.faults.send_modify(|f| f.rate = rate.max(0.0));
    }

    /// Sends one malformed JSON frame on every connection; returns how many.
    pub fn send_malformed(&self) -> usize {
        self.shared.broadcast(ConnCtl::Malformed)
    }

    /// Sends one text frame of `bytes` bytes on every connection; returns how many.
    pub fn send_oversized(&self, bytes: usize) -> usize {
        self.shared.broadcast(ConnCtl::Oversized(bytes))
    }

    /// Flaps: up for `up`, then drop everything (close 1001) and refuse for `down`, repeatedly.
    pub fn flap(&self, up: Duration, down: Duration) {
        let me = self.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(up).await;
                me.shared.set_refusing(true, None);
                me.drop_all(DropMode::Close { code: 1001 });
                tokio::time::sleep(down).await;
                me.shared.set_refusing(false, None);
            }
        });
        self.shared
            .faults
            .send_modify(|f| f.flap = Some((up.as_secs_f64(), down.as_secs_f64())));
        if let Some(old) = self.shared.flap_task.lock().unwrap().replace(task) {
            old.abort();
        }
    }

    /// Clears every fault: no silence, no refusal, no delays, no flapping, no stalls.
    /// The rate and the clock offset stay.
    pub fn clear_faults(&self) {
        if let Some(t) = self.shared.flap_task.lock().unwrap().take() {
            t.abort();
        }
        self.shared.set_refusing(false, None);
        self.shared.faults.send_modify(|f| {
            let (rate, clock_offset_ms) = (f.rate, f.clock_offset_ms);
            *f = Faults {
                rate,
                clock_offset_ms,
                ..Faults::default()
            };
        });
    }

    /// Stops listening and closes every connection (close 1001).
    pub async fn shutdown(&self) {
        if let Some(t) = self.shared.flap_task.lock().unwrap().take() {
            t.abort();
        }
        self.shared.shutdown.send_replace(true);
        self.drop_all(DropMode::Close { code: 1001 });
        let deadline = Instant::now() + Duration::from_secs(2);
        while !self.shared.conns.lock().unwrap().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Accepts connections, closing the listener while refusing and reopening it after.
async fn accept_loop(shared: Arc<Shared>, listener: TcpListener, addr: SocketAddr) {
    let mut listener = Some(listener);
    let mut faults = shared.faults.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let refusing = faults.borrow_and_update().refusing;
        if refusing && listener.is_some() {
            listener = None;
            tracing::info!("refusing connections");
        } else if !refusing && listener.is_none() {
            match TcpListener::bind(addr).await {
                Ok(l) => {
                    tracing::info!("accepting connections again");
                    listener = Some(l);
                }
                Err(e) => {
                    tracing::warn!("cannot listen again on {addr}: {e}; retrying");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            }
        }
        tokio::select! {
            accepted = async { listener.as_ref().expect("guarded").accept().await }, if listener.is_some() => {
                match accepted {
                    Ok((tcp, peer)) => {
                        let _ = tcp.set_nodelay(true);
                        tokio::spawn(conn::serve(Arc::clone(&shared), tcp, peer));
                    }
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }
            _ = faults.changed() => {}
            _ = shutdown.changed() => return,
        }
    }
}
