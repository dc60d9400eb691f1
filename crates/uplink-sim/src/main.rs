//! `uplink-sim`: the feed simulator as a program.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use uplink_sim::{SimConfig, Simulator};

/// A trading-feed WebSocket server with fault injection.
///
/// Prints one JSON line with the feed URL and the control URL once listening.
#[derive(Debug, Parser)]
#[command(name = "uplink-sim", version)]
struct Args {
    /// Address of the feed.
    #[arg(long, default_value = "127.0.0.1:9000")]
    addr: SocketAddr,
    /// Address of the HTTP control endpoint.
    #[arg(long, default_value = "127.0.0.1:9001")]
    control_addr: SocketAddr,
    /// Require this token (query `?token=` or `Authorization: Bearer`).
    #[arg(long, env = "UPLINK_SIM_TOKEN")]
    token: Option<String>,
    /// Serve wss with a self-signed certificate; its PEM is written to --cert-out.
    #[arg(long)]
    tls: bool,
    /// Where to write the self-signed certificate (with --tls).
    #[arg(long, requires = "tls")]
    cert_out: Option<std::path::PathBuf>,
    /// Seed of the price random walk.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Updates per second per connection; 0 = as fast as possible.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Milliseconds between an order's lifecycle steps.
    #[arg(long, default_value_t = 300)]
    order_step_ms: u64,
    /// Start silent (half-open).
    #[arg(long)]
    silent: bool,
    /// Refuse connections for this many seconds at start.
    #[arg(long)]
    refuse_secs: Option<f64>,
    /// Delay every pong by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pong_delay_ms: u64,
    /// Delay every message by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Flap: UP:DOWN seconds.
    #[arg(long, value_name = "UP:DOWN")]
    flap: Option<String>,
    /// Run the simulator's clock this many milliseconds ahead (negative: behind) in
    /// the timestamps it writes.
    #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
    clock_offset_ms: i64,
    /// Send no price updates (pings and orders are still answered).
    #[arg(long)]
    stall: bool,
}

fn positive_secs(s: &str, what: &str) -> Result<Duration> {
    let v: f64 = s
        .parse()
        .with_context(|| format!("{what}: not a number: {s:?}"))?;
    if !(v.is_finite() && v > 0.0) {
        bail!("{what} must be a positive number of seconds");
    }
    Ok(Duration::from_secs_f64(v))
}

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let a = Args::parse();
    if !(a.rate.is_finite() && a.rate >= 0.0) {
        bail!("--rate must be a non-negative number");
    }
    let flap = match &a.flap {
        Some(f) => {
            let (up, down) = f
                .split_once(':')
                .context("--flap takes UP:DOWN, e.g. 5:2")?;
            Some((
                positive_secs(up, "--flap up")?,
                positive_secs(down, "--flap down")?,
            ))
        }
        None => None,
    };
    let sim = Simulator::start(SimConfig {
        addr: a.addr,
        control_addr: Some(a.control_addr),
        token: a.token,
        tls: a.tls,
        seed: a.seed,
        rate: a.rate,
        order_step: Duration::from_millis(a.order_step_ms),
        ..SimConfig::default()
    })
    .await?;
    if let (Some(path), Some(pem)) = (&a.cert_out, sim.ca_pem()) {
        std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))?;
    }
    sim.set_silent(a.silent);
    sim.set_clock_offset(a.clock_offset_ms);
    if a.stall {
        sim.stall(true, &[]);
    }
    sim.set_delays(
        Duration::from_millis(a.pong_delay_ms),
        Duration::from_millis(a.delay_ms),
    );
    if let Some(s) = a.refuse_secs {
        sim.refuse(Some(positive_secs(&s.to_string(), "--refuse-secs")?));
    }
    if let Some((up, down)) = flap {
        sim.flap(up, down);
    }
    println!(
        "{}",
        serde_json::json!({"url": sim.url(), "control": sim.control_url()})
    );
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    // Windows: Ctrl-C and Ctrl-Break (there is no SIGTERM).
    #[cfg(not(unix))]
    tokio::signal::ctrl_c().await?;
    sim.shutdown().await;
    Ok(())
}
