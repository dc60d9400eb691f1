//! The task that owns the socket and the core.
//!
//! It loops: carry out the core's actions (dial, write, close, abort) and deliver its
//! events, then wait for whichever comes first (a command, the dial finishing, a
//! frame, the core's deadline, the stats tick) and feed it to the core. Frames are
//! read in batches of up to [`READ_BATCH`] per wake-up, so the per-message cost stays
//! close to a bare read loop.
//!
//! It publishes the core's [`Status`] on the watch channel whenever the core says
//! something shown changed (before delivering the events of that round, so whoever
//! hears of a change finds it in the status), and on every stats tick (counters,
//! uptime, countdown).
//!
//! Every instant comes from [`now`], tokio's clock, the one the loop sleeps on.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::error::ProtocolError;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use uplink_core::{Action, ConnId, Connection, ErrorKind, Event, Status};

use crate::asleep::Clocks;
use crate::config::Prepared;
use crate::event::{EngineEvent, LatencyEvent};
use crate::{Batch, Command, OrderOp, Subscriber};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;
type DialResult = Result<Ws, (ErrorKind, String)>;
type Dialing = Pin<Box<dyn Future<Output = DialResult> + Send>>;

/// Frames handled per wake-up before the loop looks at commands and timers again.
const READ_BATCH: usize = 256;
/// The most one socket read takes into tungstenite's read buffer. Before every read,
/// tungstenite zeroes up to that much of the buffer, including for the last read of
/// a wake-up, which finds nothing: with its default of 128 KiB, the zeroing was 5 % of
/// the app's samples in the tray at 100,000 msg/s (BENCHMARKS.md). A larger frame
/// still arrives whole: the buffer grows to the frame's length, filled 32 KiB per read
/// (tests/driver.rs sends 1 MiB over ws and wss).
const READ_BUFFER: usize = 32 << 10;
/// The most the WebSocket write buffer may hold (tungstenite's default is unbounded).
pub(crate) const MAX_WRITE_BUFFER: usize = 8 << 20;
/// How long a graceful close may wait for the server's answer.
const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Time asleep beyond this between two stats ticks means the machine slept
/// ([`Clocks::asleep_since`]).
const RESUME_GAP: Duration = Duration::from_secs(5);

/// The driver's one clock: tokio's, so sleeps and the instants handed to the core
/// agree, also under tokio's paused time in tests.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Unix milliseconds of a wall-clock time.
fn unix_ms(t: SystemTime) -> f64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// What woke the loop.
enum Wake {
    Command(Option<Command>),
    /// Boxed: a socket is large and this wake-up is rare.
    Dialed(Box<DialResult>),
    /// The failback probe finished dialing.
    Probed(Box<DialResult>),
    Frame(Option<Result<Message, WsError>>),
    Deadline,
    Tick,
}

pub(crate) struct Driver {
    /// The decisions.
    core: Connection,
    /// The validated settings in force.
    cfg: Arc<Prepared>,
    /// Commands from handles.
    cmds: mpsc::UnboundedReceiver<Command>,
    /// Event subscribers; closed ones are removed as they are found.
    subs: Vec<Subscriber>,
    /// Bytes of the frames read since the last batch was delivered (for the bound on
    /// what a subscriber may have waiting).
    bytes_read: usize,
    /// When the first frame behind the events not yet delivered was read.
    read_at: Option<Instant>,
    /// Where the status is published.
    status: watch::Sender<Status>,
    /// The core's status revision last published.
    published: u64,
    /// The live socket and the connection it belongs to.
    socket: Option<(ConnId, Ws)>,
    /// The dial in progress.
    dial: Option<(ConnId, Dialing)>,
    /// The endpoint that dial goes to (masked), for the log: it may be a backup.
    dial_url: String,
    /// A failback probe dialing the primary while the live socket stays up.
    probe: Option<(ConnId, Dialing)>,
    /// Graceful closes running in the background; awaited at shutdown.
    closing: Vec<JoinHandle<()>>,
    /// Who to tell once stopped.
    stopped: Option<oneshot::Sender<()>>,
    /// Set once a shutdown was asked for (or every handle is gone).
    stopping: bool,
}

impl Driver {
    pub(crate) fn new(
        core: Connection,
        cfg: Prepared,
        cmds: mpsc::UnboundedReceiver<Command>,
        first: Subscriber,
        status: watch::Sender<Status>,
    ) -> Driver {
        Driver {
            published: core.status_revision(),
            core,
            cfg: Arc::new(cfg),
            cmds,
            subs: vec![first],
            bytes_read: 0,
            read_at: None,
            status,
            socket: None,
            dial: None,
            dial_url: String::new(),
            probe: None,
            closing: Vec::new(),
            stopped: None,
            stopping: false,
        }
    }

    pub(crate) async fn run(mut self) {
        let far = || tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far());
        tokio::pin!(sleep);
        let mut tick = tokio::time::interval(self.cfg.stats_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        let mut clocks = Clocks::read(now());
        self.core.set_wall_clock(clocks.mono, unix_ms(clocks.wall));

        loop {
            self.carry_out().await;
            if self.stopping {
                break;
            }
            let deadline = self.core.poll_timeout().map(tokio::time::Instant::from_std);
            let target = deadline.unwrap_or_else(far);
            if sleep.deadline() != target {
                sleep.as_mut().reset(target);
            }
            let wake = {
                let (cmds, dial, socket, probe) = (
                    &mut self.cmds,
                    &mut self.dial,
                    &mut self.socket,
                    &mut self.probe,
                );
                tokio::select! {
                    c = cmds.recv() => Wake::Command(c),
                    r = async { dial.as_mut().expect("guarded").1.as_mut().await }, if dial.is_some() => Wake::Dialed(Box::new(r)),
                    r = async { probe.as_mut().expect("guarded").1.as_mut().await }, if probe.is_some() => Wake::Probed(Box::new(r)),
                    f = async { socket.as_mut().expect("guarded").1.next().await }, if socket.is_some() => Wake::Frame(f),
                    _ = &mut sleep, if deadline.is_some() => Wake::Deadline,
                    _ = tick.tick() => Wake::Tick,
                }
            };
            match wake {
                Wake::Command(Some(c)) => self.on_command(c),
                Wake::Command(None) => {
                    // Every handle is gone: nobody can use the connection any more.
                    self.core.handle_disconnect(now());
                    self.stopping = true;
                }
                Wake::Dialed(r) => self.on_dialed(*r),
                Wake::Probed(r) => self.on_probed(*r),
                Wake::Frame(f) => self.on_frames(f),
                Wake::Deadline => self.core.handle_timeout(now()),
                Wake::Tick => {
                    let t = Clocks::read(now());
                    let slept = t.asleep_since(&clocks);
                    clocks = t;
                    self.core.set_wall_clock(t.mono, unix_ms(t.wall));
                    if slept > RESUME_GAP {
                        tracing::info!(?slept, "system resumed: probing the connection");
                        self.core.handle_network_up(t.mono);
                    }
                    self.publish_status();
                    for sub in &mut self.subs {
                        sub.flush();
                    }
                }
            }
        }
        self.carry_out().await;
        self.publish_status();
        for c in self.closing.drain(..) {
            let _ = tokio::time::timeout(CLOSE_GRACE * 2, c).await;
        }
        if let Some(tx) = self.stopped.take() {
            let _ = tx.send(());
        }
        tracing::debug!("engine stopped");
    }

    fn on_command(&mut self, c: Command) {
        let now = now();
        match c {
            Command::Connect => self.core.handle_connect(now),
            Command::Disconnect => self.core.handle_disconnect(now),
            Command::Reconnect => self.core.handle_reconnect(now),
            Command::NetworkUp => self.core.handle_network_up(now),
            Command::Toggle => self.core.handle_toggle(now),
            #[cfg(feature = "test-hooks")]
            Command::Crash => panic!("test hook: the driver was told to crash"),
            Command::Send(id, message) => self.core.handle_send(now, id, message),
            Command::Subscribe(s) => {
                let _ = self.core.handle_subscribe(now, &s);
            }
            Command::Unsubscribe(s) => {
                let _ = self.core.handle_unsubscribe(now, &s);
            }
            Command::Events(sub) => self.subs.push(sub),
            Command::Reconfigure(p) => {
                let p = *p;
                if let Err(e) = self.core.handle_config(p.core.clone()) {
                    // Validated by the handle already; keep the old settings if not.
                    tracing::warn!("new settings refused: {e}");
                    return;
                }
                if p.endpoints != self.cfg.endpoints || p.headers != self.cfg.headers {
                    // Another feed, or other credentials: nothing queued for the old
                    // one goes there.
                    self.core.handle_feed_changed(now);
                }
                let urls: Vec<String> = p.endpoints.iter().map(|t| t.masked_url.clone()).collect();
                self.core.set_urls(&urls);
                self.core.set_redactor(p.redactor.clone());
                tracing::info!(url = %p.masked_url, "settings changed");
                self.cfg = Arc::new(p);
                if self.core.state() != uplink_core::StateKind::Disconnected {
                    self.core.handle_reconnect(now);
                }
            }
            Command::Order(op, id, reply) => {
                let r = match op {
                    OrderOp::Cancel => self.core.handle_cancel(now, id),
                    OrderOp::Resend => self.core.handle_resend(now, id),
                    OrderOp::Discard => self.core.handle_discard(id),
                };
                let _ = reply.send(r);
            }
            Command::Tune(core) => {
                if let Err(e) = self.core.handle_config(*core) {
                    tracing::warn!("new settings refused: {e}");
                }
            }
            Command::Shutdown(tx) => {
                self.core.handle_disconnect(now);
                self.stopped = Some(tx);
                self.stopping = true;
            }
        }
    }

    /// The failback probe finished: if the core switches to it, the old socket closes
    /// cleanly in the background and the probe's becomes the live one.
    fn on_probed(&mut self, r: DialResult) {
        let now = now();
        let Some((conn, _)) = self.probe.take() else {
            return;
        };
        match r {
            Ok(ws) => {
                self.core.handle_connected(now, conn);
                if self.core.current_conn() == Some(conn) {
                    if let Some((_, mut old)) = self.socket.replace((conn, ws)) {
                        self.closing.push(tokio::spawn(async move {
                            let frame = CloseFrame {
                                code: CloseCode::Normal,
                                reason: "failing back to the primary".into(),
                            };
                            let closed =
                                tokio::time::timeout(CLOSE_GRACE, old.close(Some(frame))).await;
                            if matches!(closed, Ok(Ok(()))) {
                                drain_close(old).await;
                            }
                        }));
                    }
                }
            }
            Err((kind, msg)) => {
                tracing::info!("failback probe failed: {msg}");
                self.core.handle_connect_failed(now, conn, kind, &msg);
            }
        }
    }

    fn on_dialed(&mut self, r: DialResult) {
        let now = now();
        let Some((conn, _)) = self.dial.take() else {
            return;
        };
        match r {
            Ok(ws) => {
                tracing::info!(url = %self.dial_url, "connected");
                self.socket = Some((conn, ws));
                self.core.handle_connected(now, conn);
            }
            Err((kind, msg)) => {
                tracing::warn!(url = %self.dial_url, "connect failed: {msg}");
                self.core.handle_connect_failed(now, conn, kind, &msg);
            }
        }
    }

    /// Handles one frame, then whatever else is already buffered, up to a batch.
    fn on_frames(&mut self, first: Option<Result<Message, WsError>>) {
        let mut next = Some(first);
        let mut handled = 0;
        // One reading of the clock for the batch: the frames after the first are read
        // in the same turn, from what the socket already holds, within microseconds.
        let now = now();
        self.read_at.get_or_insert(now);
        while let Some(frame) = next.take() {
            let Some(conn) = self.socket.as_ref().map(|(c, _)| *c) else {
                return;
            };
            match frame {
                Some(Ok(Message::Text(t))) => {
                    self.bytes_read += t.len();
                    self.core.handle_text(now, conn, t.as_str())
                }
                Some(Ok(Message::Binary(b))) => {
                    self.bytes_read += b.len();
                    self.core.handle_binary(now, conn, &b)
                }
                Some(Ok(Message::Ping(p))) => self.core.handle_control_frame(now, conn, p.len()),
                Some(Ok(Message::Pong(p))) => self.core.handle_ws_pong(now, conn, &p),
                Some(Ok(Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    let msg = self.cfg.redactor.clean(&describe_close(frame.as_ref()));
                    tracing::warn!("{msg}");
                    self.core
                        .handle_connection_lost(now, conn, ErrorKind::ServerClosed, &msg);
                    if let Some((_, ws)) = self.socket.take() {
                        // Let tungstenite finish the closing handshake in the background.
                        self.closing.push(tokio::spawn(drain_close(ws)));
                    }
                    return;
                }
                Some(Err(e)) => {
                    let (kind, msg) = classify_read(e);
                    let msg = self.cfg.redactor.clean(&msg);
                    tracing::warn!("{msg}");
                    self.core.handle_connection_lost(now, conn, kind, &msg);
                    self.socket = None;
                    return;
                }
                None => {
                    let msg = "the server closed the connection without a close frame".to_owned();
                    tracing::warn!("{msg}");
                    self.core
                        .handle_connection_lost(now, conn, ErrorKind::ServerClosed, &msg);
                    self.socket = None;
                    return;
                }
            }
            handled += 1;
            if handled < READ_BATCH {
                if let Some((_, ws)) = self.socket.as_mut() {
                    next = ws.next().now_or_never();
                }
            }
        }
    }

    /// Carries out the core's actions and delivers its events (as one batch per
    /// round), until it has none.
    async fn carry_out(&mut self) {
        loop {
            let mut did = false;
            while let Some(a) = self.core.poll_action() {
                did = true;
                self.act(a).await;
            }
            let mut batch = Vec::with_capacity(self.core.pending_events());
            while let Some(e) = self.core.poll_event() {
                batch.push(self.to_engine_event(e));
            }
            if self.core.status_revision() != self.published {
                // Before the events: whoever hears of a change finds it in the status.
                self.publish_status();
            }
            if !batch.is_empty() {
                did = true;
                let read_at = self.read_at.take().unwrap_or_else(now);
                let bytes = std::mem::take(&mut self.bytes_read);
                self.deliver(Batch {
                    read_at,
                    events: batch,
                    bytes,
                });
                // Give the subscribers a chance to run between batches.
                tokio::task::yield_now().await;
            }
            if !did {
                self.closing.retain(|h| !h.is_finished());
                for sub in &mut self.subs {
                    sub.flush();
                }
                return;
            }
        }
    }

    async fn act(&mut self, a: Action) {
        match a {
            Action::Dial { conn, endpoint } => {
                let cfg = Arc::clone(&self.cfg);
                self.dial_url = target_url(&cfg, endpoint);
                tracing::debug!(url = %self.dial_url, ?conn, "dialing");
                self.dial = Some((conn, Box::pin(dial(cfg, endpoint))));
            }
            Action::Probe { conn, endpoint } => {
                let cfg = Arc::clone(&self.cfg);
                tracing::info!(url = %target_url(&cfg, endpoint), "probing the primary for failback");
                self.probe = Some((conn, Box::pin(dial(cfg, endpoint))));
            }
            Action::Transmit { conn, id, text } => {
                let Some((c, ws)) = self.socket.as_mut() else {
                    return;
                };
                if *c != conn {
                    return;
                }
                let len = text.len();
                // A peer that stops reading must not wedge the loop: the write gets as
                // long as a pong would.
                let limit = self.core.config().pong_timeout;
                let res = tokio::time::timeout(limit, ws.send(Message::text(text))).await;
                let now = now();
                match res {
                    Ok(Ok(())) => self.core.handle_written(now, conn, id, len),
                    Ok(Err(e)) => {
                        let (kind, msg) = classify_read(e);
                        let msg = self.cfg.redactor.clean(&format!("write failed: {msg}"));
                        tracing::warn!("{msg}");
                        self.socket = None;
                        self.core.handle_connection_lost(now, conn, kind, &msg);
                    }
                    Err(_) => {
                        let msg = format!("write did not complete within {limit:?}");
                        tracing::warn!("{msg}");
                        self.socket = None;
                        self.core
                            .handle_connection_lost(now, conn, ErrorKind::Io, &msg);
                    }
                }
            }
            Action::Ping { conn, payload } => {
                let Some((c, ws)) = self.socket.as_mut() else {
                    return;
                };
                if *c != conn {
                    return;
                }
                let limit = self.core.config().pong_timeout;
                let res =
                    tokio::time::timeout(limit, ws.send(Message::Ping(payload.to_vec().into())))
                        .await;
                if !matches!(res, Ok(Ok(()))) {
                    let msg = "could not send a ping frame".to_owned();
                    tracing::warn!("{msg}");
                    self.socket = None;
                    self.core
                        .handle_connection_lost(now(), conn, ErrorKind::Io, &msg);
                }
            }
            Action::Close { conn, code, reason } => {
                if self.dial.as_ref().is_some_and(|(c, _)| *c == conn) {
                    self.dial = None;
                }
                if self.socket.as_ref().is_some_and(|(c, _)| *c == conn) {
                    let (_, mut ws) = self.socket.take().expect("checked");
                    self.closing.push(tokio::spawn(async move {
                        let frame = CloseFrame {
                            code: CloseCode::from(code),
                            reason: reason.into(),
                        };
                        let closed = tokio::time::timeout(CLOSE_GRACE, ws.close(Some(frame))).await;
                        if matches!(closed, Ok(Ok(()))) {
                            drain_close(ws).await;
                        }
                    }));
                }
            }
            Action::Abort { conn } => {
                if self.dial.as_ref().is_some_and(|(c, _)| *c == conn) {
                    self.dial = None;
                }
                if self.probe.as_ref().is_some_and(|(c, _)| *c == conn) {
                    self.probe = None;
                }
                if self.socket.as_ref().is_some_and(|(c, _)| *c == conn) {
                    self.socket = None;
                }
            }
        }
    }

    fn to_engine_event(&self, e: Event) -> EngineEvent {
        match e {
            Event::Message(message) => EngineEvent::Message { message },
            Event::StateChanged(_) => {
                let status = self.core.status(now(), SystemTime::now());
                tracing::info!(state = status.state.as_str(), reason = ?status.reason, attempt = status.attempt, "state");
                EngineEvent::State(Box::new(status))
            }
            Event::RetryScheduled {
                attempt,
                max_attempts,
                delay,
            } => {
                tracing::info!(attempt, max_attempts, ?delay, "reconnect scheduled");
                EngineEvent::Retrying {
                    attempt,
                    max_attempts,
                    in_secs: delay.as_secs_f64(),
                    reason: self.core.reason().map(str::to_owned),
                }
            }
            Event::Latency(rtt) => EngineEvent::Latency(Box::new(LatencyEvent {
                ms: uplink_core::duration_ms(rtt),
                summary: self.core.latency(),
            })),
            Event::QueueDropped { id, total } => {
                tracing::warn!(
                    id = id.0,
                    total,
                    "outbound queue full: dropped the oldest message"
                );
                EngineEvent::QueueDropped { id, total }
            }
            Event::Error { kind, message } => EngineEvent::Error { kind, message },
            Event::Sent { id } => EngineEvent::Sent { id },
            Event::Acked {
                id,
                order_id,
                status,
            } => EngineEvent::Acked {
                id,
                order_id,
                status,
            },
            Event::Resent { id } => {
                tracing::info!(id = id.0, "order re-sent after the reconnect");
                EngineEvent::Resent { id }
            }
            Event::Unconfirmed { id, reason } => {
                tracing::warn!(
                    id = id.0,
                    ?reason,
                    "order unconfirmed: check with the broker"
                );
                EngineEvent::Unconfirmed { id, reason }
            }
            Event::Expired { id, reason } => {
                tracing::warn!(id = id.0, ?reason, "queued message expired: never sent");
                EngineEvent::Expired { id, reason }
            }
            Event::Cancelled { id } => EngineEvent::Cancelled { id },
            Event::Discarded { id } => EngineEvent::Discarded { id },
            Event::EndpointSwitched { from, to } => {
                let url = target_url(&self.cfg, to);
                tracing::warn!(
                    from = %uplink_core::role(from),
                    to = %uplink_core::role(to),
                    %url,
                    "switched endpoint"
                );
                EngineEvent::EndpointSwitched { from, to, url }
            }
            Event::Stale { age, symbols } => {
                tracing::warn!(age = ?age, "connected, but no data: prices are stale");
                EngineEvent::Stale {
                    age_secs: age.as_secs_f64(),
                    symbols,
                }
            }
            Event::Fresh { stale_for } => {
                tracing::info!(stale_for = ?stale_for, "data flows again");
                EngineEvent::Fresh {
                    stale_for_secs: stale_for.as_secs_f64(),
                }
            }
            Event::OutageAlert { down_for } => {
                tracing::warn!(down_for = ?down_for, "the feed is down");
                EngineEvent::OutageAlert {
                    down_secs: down_for.as_secs_f64(),
                }
            }
            Event::Recovered { down_for, alerted } => EngineEvent::Recovered {
                down_secs: down_for.as_secs_f64(),
                alerted,
            },
            Event::ClockSkew { offset_ms, skewed } => {
                if skewed {
                    tracing::warn!(
                        offset_ms,
                        "the feed's clock and ours differ by more than 2 s: delays and ages are suspect"
                    );
                } else {
                    tracing::info!(offset_ms, "the feed's clock agrees with ours again");
                }
                EngineEvent::ClockSkew { offset_ms, skewed }
            }
        }
    }

    /// Publishes the core's status as it is now.
    fn publish_status(&mut self) {
        self.published = self.core.status_revision();
        self.status
            .send_replace(self.core.status(now(), SystemTime::now()));
    }

    /// Hands a batch of events to every subscriber, never waiting for one: a
    /// subscriber that is behind (its channel full, or more than
    /// [`crate::MAX_BEHIND_BYTES`] waiting for it) loses the market data of this batch
    /// (counted in `events_dropped`); everything else (state, orders, errors, round
    /// trips) waits in its backlog, at most [`crate::MAX_BACKLOG`] events and
    /// [`crate::MAX_BEHIND_BYTES`] (beyond that the oldest are dropped, counted).
    /// Reading, heartbeats and commands never stop for a slow subscriber.
    fn deliver(&mut self, batch: Batch) {
        let n = self.subs.len();
        let mut dropped = 0u64;
        let mut batch = Some(batch);
        for (i, sub) in self.subs.iter_mut().enumerate() {
            // Clone for all but the last subscriber, which takes the original.
            let b = if i + 1 == n {
                batch.take()
            } else {
                batch.clone()
            }
            .expect("one per subscriber");
            dropped += sub.offer(b);
        }
        self.subs.retain(|s| !s.tx.is_closed());
        if dropped > 0 {
            self.core.note_events_dropped(dropped);
        }
    }
}

async fn drain_close(mut ws: Ws) {
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

/// The masked URL of `endpoint`.
fn target_url(cfg: &Prepared, endpoint: usize) -> String {
    cfg.endpoints
        .get(endpoint)
        .map_or_else(|| cfg.masked_url.clone(), |t| t.masked_url.clone())
}

/// Opens the WebSocket: TCP, TLS for wss, the upgrade with our headers.
async fn dial(cfg: Arc<Prepared>, endpoint: usize) -> DialResult {
    let redactor = cfg.redactor.clone();
    dial_raw(cfg, endpoint)
        .await
        .map_err(|(kind, msg)| (kind, redactor.clean(&msg)))
}

/// [`dial`] before its errors are cleaned of secrets.
async fn dial_raw(cfg: Arc<Prepared>, endpoint: usize) -> DialResult {
    let Some(ep) = cfg.endpoints.get(endpoint) else {
        return Err((
            ErrorKind::ConnectFailed,
            format!("no endpoint {endpoint} configured"),
        ));
    };
    if let Some(e) = &ep.proxy_error {
        return Err((ErrorKind::ConnectFailed, e.clone()));
    }
    let mut req = ep.dial_url.as_str().into_client_request().map_err(|e| {
        (
            ErrorKind::ConnectFailed,
            format!("cannot build the request: {e}"),
        )
    })?;
    for (k, v) in &cfg.headers {
        req.headers_mut().append(k.clone(), v.clone());
    }
    // A peer that floods Pings and never reads cannot grow the write buffer (each Ping
    // queues a Pong) past this: the write fails and the link is replaced.
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(cfg.max_message_size))
        .max_frame_size(Some(cfg.max_frame_size))
        .max_write_buffer_size(MAX_WRITE_BUFFER);
    let connector = match &cfg.tls {
        Some(tls) => Connector::Rustls(Arc::clone(tls)),
        None => Connector::Plain,
    };
    let target = match (ep.dial_url.host_str(), ep.dial_url.port_or_known_default()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        _ => ep.masked_url.clone(),
    };
    match &ep.proxy {
        None => tokio_tungstenite::connect_async_tls_with_config(
            req,
            Some(ws_config),
            true,
            Some(connector),
        )
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| classify_dial(e, &target)),
        Some(proxy) => {
            let host = ep
                .dial_url
                .host_str()
                .unwrap_or("")
                .trim_matches(['[', ']']);
            let port = ep.dial_url.port_or_known_default().unwrap_or(443);
            let tcp = crate::proxy::connect(proxy, host, port).await?;
            tokio_tungstenite::client_async_tls_with_config(
                req,
                tcp,
                Some(ws_config),
                Some(connector),
            )
            .await
            .map(|(ws, _)| ws)
            .map_err(|e| {
                classify_dial(e, &format!("{target} (through the proxy {})", proxy.masked))
            })
        }
    }
}

fn classify_dial(e: WsError, target: &str) -> (ErrorKind, String) {
    match e {
        WsError::Http(resp) => {
            let status = resp.status();
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                .filter(|b| !b.is_empty() && b.len() < 200)
                .map(|b| format!(" ({b})"))
                .unwrap_or_default();
            if status == 401 || status == 403 {
                (
                    ErrorKind::Auth,
                    format!("authentication failed: HTTP {status}{body}"),
                )
            } else {
                (
                    ErrorKind::Handshake,
                    format!("the server refused the WebSocket upgrade: HTTP {status}{body}"),
                )
            }
        }
        WsError::Io(io) => {
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                (ErrorKind::Tls, describe_tls(tls, target))
            } else if io.kind() == std::io::ErrorKind::ConnectionRefused {
                (
                    ErrorKind::ConnectFailed,
                    format!("connection refused by {target}"),
                )
            } else if let Some(detail) = name_lookup_failure(&io) {
                (
                    ErrorKind::ConnectFailed,
                    format!("cannot reach {target}: its name lookup failed: {detail}"),
                )
            } else {
                (
                    ErrorKind::ConnectFailed,
                    format!("cannot reach {target}: {io}"),
                )
            }
        }
        WsError::Tls(t) => (
            ErrorKind::Tls,
            format!("TLS handshake with {target} failed: {t}"),
        ),
        WsError::Url(u) => (ErrorKind::ConnectFailed, format!("cannot use the URL: {u}")),
        other => (
            ErrorKind::Handshake,
            format!("WebSocket handshake with {target} failed: {other}"),
        ),
    }
}

/// What the system said, if `io` is a failed name lookup. Unix's std reports
/// getaddrinfo's failure in words only (its kind is not public), so the words are
/// matched; Windows gives the Winsock code (`WSAHOST_NOT_FOUND` and its kin), whose
/// text names no lookup. Found by running the engine's tests under Wine.
fn name_lookup_failure(io: &std::io::Error) -> Option<String> {
    const UNIX_PREFIX: &str = "failed to lookup address information: ";
    let text = io.to_string();
    if let Some(detail) = text.strip_prefix(UNIX_PREFIX) {
        return Some(detail.to_owned());
    }
    // WSAHOST_NOT_FOUND, WSATRY_AGAIN, WSANO_RECOVERY, WSANO_DATA.
    const WINSOCK_LOOKUP: [i32; 4] = [11001, 11002, 11003, 11004];
    if cfg!(windows)
        && io
            .raw_os_error()
            .is_some_and(|c| WINSOCK_LOOKUP.contains(&c))
    {
        return Some(text);
    }
    None
}

/// A TLS failure in words: which check failed, and what to do.
fn describe_tls(e: &rustls::Error, target: &str) -> String {
    use rustls::CertificateError as C;
    let what = match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => "the feed's certificate is signed by an authority this machine does not trust. If a corporate proxy inspects TLS, add its CA file in Settings (or install it in the system trust store)".to_owned(),
            C::Expired | C::ExpiredContext { .. } => "the feed's certificate has expired (or this machine's clock is wrong). Ask the feed's operator, or check the clock".to_owned(),
            C::NotValidYet | C::NotValidYetContext { .. } => "the feed's certificate is not valid yet (or this machine's clock is wrong)".to_owned(),
            C::NotValidForName | C::NotValidForNameContext { .. } => "the feed's certificate is for another name than the one in the URL. Check the feed URL".to_owned(),
            C::Revoked => "the feed's certificate has been revoked".to_owned(),
            other => format!("the feed's certificate was refused ({other:?})"),
        },
        other => other.to_string(),
    };
    format!("TLS handshake with {target} failed: {what}")
}

fn classify_read(e: WsError) -> (ErrorKind, String) {
    match e {
        WsError::Capacity(c) => (
            ErrorKind::MessageTooLarge,
            format!("inbound message over the size limit: {c}"),
        ),
        WsError::Io(io) => (ErrorKind::Io, format!("connection lost: {io}")),
        WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake) => (
            ErrorKind::Io,
            "connection reset by the server without a close frame".to_owned(),
        ),
        WsError::Protocol(p) => (
            ErrorKind::Protocol,
            format!("WebSocket protocol error: {p}"),
        ),
        WsError::ConnectionClosed | WsError::AlreadyClosed => {
            (ErrorKind::ServerClosed, "connection closed".to_owned())
        }
        other => (ErrorKind::Io, other.to_string()),
    }
}

fn describe_close(frame: Option<&CloseFrame>) -> String {
    let Some(f) = frame else {
        return "the server closed the connection (no code)".to_owned();
    };
    let code = u16::from(f.code);
    let name = match code {
        1000 => "normal closure",
        1001 => "going away",
        1002 => "protocol error",
        1003 => "unsupported data",
        1007 => "invalid payload",
        1008 => "policy violation",
        1009 => "message too big",
        1011 => "server error",
        1012 => "service restart",
        1013 => "try again later",
        _ => "",
    };
    let mut s = format!("the server closed the connection (code {code}");
    if !name.is_empty() {
        s.push(' ');
        s.push_str(name);
    }
    if !f.reason.is_empty() {
        s.push_str(": ");
        s.push_str(&f.reason);
    }
    s.push(')');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each certificate check has its own words. Unknown issuer, expired and wrong
    /// name also come from real handshakes (tests/driver.rs, tests/faults.rs); not yet
    /// valid and revoked only here.
    #[test]
    fn each_failed_certificate_check_is_named() {
        use rustls::CertificateError as C;
        for (e, words) in [
            (
                C::UnknownIssuer,
                "signed by an authority this machine does not trust",
            ),
            (C::Expired, "has expired"),
            (C::NotValidYet, "is not valid yet"),
            (
                C::NotValidForName,
                "for another name than the one in the URL",
            ),
            (C::Revoked, "has been revoked"),
            (C::BadSignature, "was refused (BadSignature)"),
        ] {
            let text = describe_tls(&rustls::Error::InvalidCertificate(e), "feed:443");
            assert!(
                text.starts_with("TLS handshake with feed:443 failed: "),
                "{text}"
            );
            assert!(text.contains(words), "{text}");
        }
    }

    #[test]
    fn a_failed_name_lookup_is_told_apart_from_other_connect_failures() {
        let unix = std::io::Error::other(
            "failed to lookup address information: Name or service not known",
        );
        assert_eq!(
            name_lookup_failure(&unix).as_deref(),
            Some("Name or service not known")
        );
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(name_lookup_failure(&reset), None);
        // WSAHOST_NOT_FOUND: a lookup failure on Windows only (elsewhere 11001 is no
        // error number at all).
        let winsock = std::io::Error::from_raw_os_error(11001);
        assert_eq!(name_lookup_failure(&winsock).is_some(), cfg!(windows));
        let (kind, msg) = classify_dial(WsError::Io(unix), "feed.example:9000");
        assert_eq!(kind, ErrorKind::ConnectFailed);
        assert_eq!(
            msg,
            "cannot reach feed.example:9000: its name lookup failed: Name or service not known"
        );
    }
}
