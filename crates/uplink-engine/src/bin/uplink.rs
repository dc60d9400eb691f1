//! `uplink`: the connection engine without a window.
//!
//! `uplink watch <URL>` keeps one connection healthy and prints every event as one JSON
//! object per line on stdout (field `"event"`: `state`, `retrying`, `latency`,
//! `endpoint_switched`, `message`, `sent`, `acked`, `resent`, `unconfirmed`, `expired`, `queue_dropped`,
//! `error`, `stale` and `fresh` (prices stop and
//! resume while the link is up), `outage_alert` and `recovered`, `clock_skew`, and
//! `stats`: the engine's published status and this process's own lag, every stats
//! interval). `sent` and `queue_dropped` name the message by its
//! id: the n-th `--send` has id n. Logs go to stderr (`RUST_LOG`). Ctrl-C or SIGTERM
//! disconnects cleanly.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use uplink_engine::core::{Heartbeat, PongMatch, RateLimit};
use uplink_engine::{
    ClientConfig, Engine, EngineEvent, Outbound, ProxySetting, Status, TokenPlacement,
    UnackedOrders,
};

/// `--heartbeat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum HeartbeatMode {
    /// `{"type":"ping"}`, answered by `{"type":"pong"}`.
    Json,
    /// WebSocket protocol Ping/Pong frames.
    Websocket,
    /// `--ping-text`, answered by what `--pong-type` or `--pong-field` names.
    Custom,
    /// No ping: inbound data alone proves the link.
    None,
}

/// `--pong-field NAME=VALUE`: the value is JSON if it parses, else a string.
fn pong_field(s: &str) -> Result<(String, serde_json::Value), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=VALUE, e.g. op=pong"))?;
    let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_owned()));
    Ok((k.trim().to_owned(), value))
}

/// `--unacked-orders`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Unacked {
    Resend,
    Hold,
}

#[derive(Debug, Parser)]
#[command(
    name = "uplink",
    version,
    about = "Keeps a trading WebSocket feed alive and reports its health."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Connect to a feed and print every event as a JSON line.
    Watch(Box<Watch>),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Placement {
    Query,
    Header,
    Both,
}

/// Events printed per wake-up before signals are looked at again.
const DRAIN_BATCH: usize = 4096;

/// The longest duration any flag takes: a year.
const MAX_SECS: f64 = 365.0 * 86_400.0;

/// Seconds, possibly fractional, strictly positive, at most a year.
fn secs(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !v.is_finite() || v <= 0.0 {
        return Err(format!("{s} must be a positive number of seconds"));
    }
    if v > MAX_SECS {
        return Err(format!(
            "{s} is too long: at most {MAX_SECS} seconds (a year)"
        ));
    }
    Duration::try_from_secs_f64(v).map_err(|e| e.to_string())
}

/// Seconds, possibly fractional; 0 turns the feature off.
fn secs_or_off(s: &str) -> Result<Duration, String> {
    if s.trim().parse::<f64>() == Ok(0.0) {
        return Ok(Duration::ZERO);
    }
    secs(s)
}

/// `--rate-limit`: `None` is off.
#[derive(Debug, Clone, Copy)]
struct Limit(Option<RateLimit>);

/// `N/SECONDS` (at most N sends in any SECONDS), or `off`.
fn rate_limit(s: &str) -> Result<Limit, String> {
    if s.trim() == "off" {
        return Ok(Limit(None));
    }
    let (n, secs_part) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected N/SECONDS, e.g. 100/60, or off"))?;
    let max: u32 = n
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?}: N must be a whole number above 0"))?;
    Ok(Limit(Some(RateLimit {
        max,
        window: secs(secs_part)?,
    })))
}

/// `--header` number `n` (1-based) as a name and a value. The error does not repeat
/// the argument: a header's value is often a credential.
fn header(n: usize, s: &str) -> Result<(String, String)> {
    match s.split_once(':') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.trim().to_owned())),
        _ => anyhow::bail!("--header #{n} has no NAME: before its value: write NAME:VALUE"),
    }
}

#[derive(Debug, clap::Args)]
#[command(allow_negative_numbers = true)]
struct Watch {
    /// Feed URL (ws:// or wss://): the primary endpoint.
    url: String,
    /// A backup endpoint of the same feed (repeat for more, in order of preference).
    #[arg(long = "backup", value_name = "URL")]
    backups: Vec<String>,
    /// On a backup this long, probe the primary and switch back once it answers;
    /// 0 = never.
    #[arg(long, value_parser = secs_or_off, default_value = "300")]
    failback_after: Duration,
    /// Seconds between heartbeat pings.
    #[arg(long, value_parser = secs, default_value = "30")]
    heartbeat_interval: Duration,
    /// Seconds to wait for each pong.
    #[arg(long, value_parser = secs, default_value = "10")]
    pong_timeout: Duration,
    /// Seconds of inbound silence before the link is dropped [default: 2 × heartbeat interval].
    #[arg(long, value_parser = secs)]
    idle_timeout: Option<Duration>,
    /// Seconds a connection attempt may take.
    #[arg(long, value_parser = secs, default_value = "10")]
    connect_timeout: Duration,
    /// First reconnect delay, seconds.
    #[arg(long, value_parser = secs, default_value = "1")]
    reconnect_base_delay: Duration,
    /// Largest reconnect delay, seconds.
    #[arg(long, value_parser = secs, default_value = "60")]
    reconnect_max_delay: Duration,
    /// Failed attempts before giving up (state "error").
    #[arg(long, default_value_t = 10)]
    max_reconnect_attempts: u32,
    /// Seconds a connection must stay up before the attempt count resets.
    #[arg(long, value_parser = secs, default_value = "5")]
    min_uptime: Duration,
    /// Backoff jitter, as a fraction (0.2 = ±20 %).
    #[arg(long, default_value_t = 0.2)]
    jitter: f64,
    /// Capacity of the outbound queue.
    #[arg(long, default_value_t = 1000)]
    queue_size: usize,
    /// Seconds without data (anything but pong, heartbeat or acknowledgement) while
    /// symbols are subscribed before the connection is "stale"; 0 turns it off.
    #[arg(long, value_parser = secs_or_off, default_value = "30")]
    stale_after: Duration,
    /// Seconds down (reconnecting) before an `outage_alert`; 0: only the give-up says so.
    #[arg(long, value_parser = secs_or_off, default_value = "10")]
    alert_after: Duration,
    /// Seconds an order may go unacknowledged before it is reported `unconfirmed`.
    #[arg(long, value_parser = secs, default_value = "10")]
    ack_timeout: Duration,
    /// Seconds an order may wait in the queue (offline) before it `expired`; 0 = never.
    #[arg(long, value_parser = secs_or_off, default_value = "60")]
    order_ttl: Duration,
    /// Orders unacknowledged when the connection drops: `resend` them (same
    /// client_order_id) after the reconnect, or `hold` them as unconfirmed.
    #[arg(long, value_enum, default_value = "resend")]
    unacked_orders: Unacked,
    /// At most N user sends in any SECONDS (`N/SECONDS`), or `off`.
    #[arg(long, value_parser = rate_limit, default_value = "100/60")]
    rate_limit: Limit,
    /// Seconds between queued messages flushed after a reconnect.
    #[arg(long, value_parser = secs, default_value = "0.01")]
    flush_interval: Duration,
    /// Auth token (never printed).
    #[arg(long, env = "UPLINK_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Where the token goes.
    #[arg(long, value_enum, default_value = "both")]
    token_placement: Placement,
    /// How the link is kept alive: `json` (the seed's ping/pong), `websocket`
    /// (protocol Ping/Pong frames), `custom` (see --ping-text), `none` (inbound data
    /// alone; silent for interval + pong timeout means dead).
    #[arg(long, value_enum, default_value = "json")]
    heartbeat: HeartbeatMode,
    /// With `--heartbeat custom`: the text sent as a ping, e.g. '{"op":"ping"}'.
    #[arg(long)]
    ping_text: Option<String>,
    /// With `--heartbeat custom`: the answer is a message of this `type`.
    #[arg(long, conflicts_with = "pong_field")]
    pong_type: Option<String>,
    /// With `--heartbeat custom`: the answer has this top-level field, NAME=VALUE
    /// (VALUE as JSON, or else a string), e.g. op=pong.
    #[arg(long, value_parser = pong_field)]
    pong_field: Option<(String, serde_json::Value)>,
    /// A proxy: http://[user:pass@]host:port (CONNECT) or socks5://[user:pass@]host:port;
    /// `direct` for none. Without it, HTTPS_PROXY / HTTP_PROXY / ALL_PROXY / NO_PROXY
    /// (lower case too) apply.
    #[arg(long)]
    proxy: Option<String>,
    /// Extra header for the upgrade request, NAME:VALUE (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// PEM file of extra CA certificates to trust for wss.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Largest inbound message, bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_message_size: usize,
    /// Largest inbound frame, bytes.
    #[arg(long, default_value_t = 16 << 20)]
    max_frame_size: usize,
    /// Subscribe to this symbol (repeatable); re-sent after every reconnect.
    #[arg(long = "subscribe", value_name = "SYMBOL")]
    subscribe: Vec<String>,
    /// Queue this JSON message at start, delivered once connected (repeatable, in order).
    #[arg(long = "send", value_name = "JSON")]
    send: Vec<String>,
    /// Seconds between "stats" events.
    #[arg(long, value_parser = secs, default_value = "1")]
    stats_interval: Duration,
    /// Test hook (feature `test-hooks` only): make the engine panic this many
    /// seconds after start, as a bug would.
    #[cfg(feature = "test-hooks")]
    #[arg(long, value_parser = secs, hide = true)]
    crash_after: Option<Duration>,
    /// Seed of the backoff jitter (reproducible runs).
    #[arg(long)]
    seed: Option<u64>,
}

impl Watch {
    fn heartbeat_mode(&self) -> Result<Heartbeat> {
        // Flags that would be ignored are refused: the user meant something by them.
        if self.heartbeat != HeartbeatMode::Custom {
            for (given, flag) in [
                (self.ping_text.is_some(), "--ping-text"),
                (self.pong_type.is_some(), "--pong-type"),
                (self.pong_field.is_some(), "--pong-field"),
            ] {
                if given {
                    anyhow::bail!("{flag} applies only with --heartbeat custom");
                }
            }
        }
        if self.heartbeat == HeartbeatMode::None && self.idle_timeout.is_some() {
            anyhow::bail!(
                "--idle-timeout does not apply with --heartbeat none: there, silence for \
                 --heartbeat-interval + --pong-timeout means dead"
            );
        }
        Ok(match self.heartbeat {
            HeartbeatMode::Json => Heartbeat::Json,
            HeartbeatMode::Websocket => Heartbeat::WebSocket,
            HeartbeatMode::None => Heartbeat::None,
            HeartbeatMode::Custom => {
                let ping = self
                    .ping_text
                    .clone()
                    .context("--heartbeat custom needs --ping-text")?;
                let pong = match (&self.pong_type, &self.pong_field) {
                    (Some(t), _) => PongMatch::Type(t.clone()),
                    (None, Some((name, value))) => PongMatch::Field {
                        name: name.clone(),
                        value: value.clone(),
                    },
                    (None, None) => {
                        anyhow::bail!("--heartbeat custom needs --pong-type or --pong-field")
                    }
                };
                Heartbeat::Custom { ping, pong }
            }
        })
    }

    fn config(&self) -> Result<ClientConfig> {
        let mut c = ClientConfig::new(self.url.clone());
        c.backups = self.backups.clone();
        c.core = uplink_engine::core::Config {
            heartbeat_interval: self.heartbeat_interval,
            pong_timeout: self.pong_timeout,
            idle_timeout: self.idle_timeout.unwrap_or(self.heartbeat_interval * 2),
            connect_timeout: self.connect_timeout,
            reconnect_base_delay: self.reconnect_base_delay,
            reconnect_max_delay: self.reconnect_max_delay,
            max_reconnect_attempts: self.max_reconnect_attempts,
            jitter: self.jitter,
            min_uptime: self.min_uptime,
            queue_size: self.queue_size,
            flush_interval: self.flush_interval,
            stale_after: self.stale_after,
            alert_after: self.alert_after,
            ack_timeout: self.ack_timeout,
            order_ttl: self.order_ttl,
            unacked_orders: match self.unacked_orders {
                Unacked::Resend => UnackedOrders::Resend,
                Unacked::Hold => UnackedOrders::Hold,
            },
            rate_limit: self.rate_limit.0,
            heartbeat: self.heartbeat_mode()?,
            failback_after: self.failback_after,
            ..uplink_engine::core::Config::default()
        };
        c.token = self.token.clone();
        c.token_placement = match self.token_placement {
            Placement::Query => TokenPlacement::Query,
            Placement::Header => TokenPlacement::Header,
            Placement::Both => TokenPlacement::Both,
        };
        c.headers = self
            .headers
            .iter()
            .enumerate()
            .map(|(i, h)| header(i + 1, h))
            .collect::<Result<_>>()?;
        c.proxy = match self.proxy.as_deref().map(str::trim) {
            None => ProxySetting::FromEnvironment,
            Some("direct" | "none") => ProxySetting::Direct,
            Some(u) => ProxySetting::Url(u.to_owned()),
        };
        c.extra_ca_file = self.ca_file.clone();
        c.max_message_size = self.max_message_size;
        c.max_frame_size = self.max_frame_size;
        c.stats_interval = self.stats_interval;
        c.seed = self.seed;
        Ok(c)
    }
}

async fn watch(w: Watch) -> Result<ExitCode> {
    let config = w.config()?;
    // The feed's own words in an `error` message are printed as the engine prints its
    // errors: a server that echoes the token back does not put it on stdout.
    let redactor = config.redactor();
    let (handle, mut events) = Engine::start(config)?;
    if !w.subscribe.is_empty() {
        handle.subscribe(w.subscribe.clone())?;
    }
    let messages = w
        .send
        .iter()
        .enumerate()
        .map(|(i, m)| Outbound::json(m.clone()).with_context(|| format!("--send #{}", i + 1)))
        .collect::<Result<Vec<_>>>()?;
    for m in messages {
        handle.send(m)?;
    }
    handle.connect()?;
    #[cfg(feature = "test-hooks")]
    if let Some(after) = w.crash_after {
        let h = handle.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            let _ = h.crash();
        });
    }
    // The published status, printed as a `stats` line every stats interval.
    let status = handle.status();
    let mut stats_tick = tokio::time::interval(w.stats_interval);
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    stats_tick.tick().await;

    let mut stop = StopSignal::new()?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut engine_died = false;
    loop {
        tokio::select! {
            // Signals first: a flood of events must never keep SIGTERM waiting.
            biased;
            _ = stop.recv() => break,
            ev = events.recv() => {
                let Some(ev) = ev else {
                    // Nobody asked it to stop: the engine ended on its own (a panic).
                    engine_died = true;
                    break;
                };
                if print(&mut out, &scrub(ev, &redactor)).is_err() {
                    break; // stdout closed (e.g. piped into head)
                }
                // Batch what is already there (a bounded amount), then flush once.
                let mut ok = true;
                for _ in 0..DRAIN_BATCH {
                    let Some(ev) = events.try_recv() else { break };
                    ok &= print(&mut out, &scrub(ev, &redactor)).is_ok();
                }
                if !ok || out.flush().is_err() {
                    break;
                }
            }
            _ = stats_tick.tick() => {
                let line = StatsLine {
                    event: "stats",
                    client_lag: events.lag(),
                    status: &status.borrow(),
                };
                if print(&mut out, &line).and_then(|()| out.flush()).is_err() {
                    break;
                }
            }
        }
    }
    if engine_died {
        let _ = out.flush();
        eprintln!("error: the connection engine stopped unexpectedly");
        return Ok(ExitCode::FAILURE);
    }
    tracing::info!("shutting down");
    handle.shutdown().await;
    // Print what the shutdown produced (the final state), if stdout is still there.
    while let Some(ev) = events.try_recv() {
        let _ = print(&mut out, &ev);
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C, and SIGTERM where there is one (Unix; Windows has Ctrl-C and Ctrl-Break).
struct StopSignal {
    /// SIGTERM, registered once at start so none is missed.
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl StopSignal {
    fn new() -> std::io::Result<StopSignal> {
        Ok(StopSignal {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?,
        })
    }

    /// Resolves when asked to stop. A SIGTERM that arrives between two calls is kept
    /// for the next one (the handler stays registered).
    async fn recv(&mut self) {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = self.term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// The periodic `stats` line: the engine's published status, tagged like an event.
#[derive(serde::Serialize)]
struct StatsLine<'a> {
    /// Always "stats".
    event: &'static str,
    /// This process's own lag: frame read to event handled here, ms.
    client_lag: uplink_engine::core::LatencySummary,
    /// The snapshot.
    #[serde(flatten)]
    status: &'a Status,
}

/// `ev` with the text of a feed's `error` message cleaned of this configuration's
/// secrets (and escaped, and cut), as the engine's own errors are: every string and
/// key of it, in the protocol's shape or another. Everything else is the feed's data,
/// printed as it came.
fn scrub(mut ev: EngineEvent, redactor: &uplink_engine::Redactor) -> EngineEvent {
    use serde_json::{Map, Value};
    // Every string and every key.
    fn clean(v: &mut Value, redactor: &uplink_engine::Redactor) {
        match v {
            Value::String(s) => *s = redactor.clean(s),
            Value::Array(a) => a.iter_mut().for_each(|v| clean(v, redactor)),
            Value::Object(m) => clean_map(m, redactor),
            _ => {}
        }
    }
    fn clean_map(m: &mut Map<String, Value>, redactor: &uplink_engine::Redactor) {
        *m = std::mem::take(m)
            .into_iter()
            .map(|(k, mut v)| {
                clean(&mut v, redactor);
                (redactor.clean(&k), v)
            })
            .collect();
    }
    if let EngineEvent::Message { message } = &mut ev {
        match &mut message.payload {
            uplink_engine::proto::Payload::Error(e) => {
                e.code = redactor.clean(&e.code);
                e.message = redactor.clean(&e.message);
                clean(&mut e.details, redactor);
            }
            uplink_engine::proto::Payload::Other(m)
                if m.get("type").and_then(Value::as_str) == Some("error") =>
            {
                clean_map(m, redactor);
            }
            _ => {}
        }
    }
    ev
}

fn print(out: &mut impl Write, ev: &impl serde::Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, ev)?;
    out.write_all(b"\n")
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Cmd::Watch(w) => watch(*w).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
