//! `cargo run --release -p uplink-bench` prints, in one run:
//!
//! 1. the update rate the simulator sustains to one client that only counts frames;
//! 2. inbound throughput of a bare tokio-tungstenite read + serde-decode loop, and of
//!    the Uplink engine (decode, stats, heartbeat, event delivery to a subscriber) on
//!    the same feed, and their ratio (target: at least 0.8);
//! 3. the heartbeat round trip through the engine on loopback, p50 and p99;
//! 4. the time from the server coming back to the engine reporting `connected`.
//!
//! Each throughput figure is the median of several interleaved runs, so a noisy
//! neighbour hurts both sides alike. Nothing here asserts: it prints figures.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use uplink_engine::core::Config;
use uplink_engine::{ClientConfig, Engine, EngineEvent, StateKind};
use uplink_proto::{Envelope, Payload};
use uplink_sim::{DropMode, SimConfig, Simulator};

const SUBSCRIBE: &str = r#"{"type":"subscribe","data":{"symbols":["AAPL","MSFT","NVDA","TSLA"]}}"#;

/// Seconds per throughput run.
const RUN: Duration = Duration::from_secs(2);
/// Warm-up before counting.
const WARMUP: Duration = Duration::from_millis(300);
/// Interleaved repetitions of each throughput run.
const ROUNDS: usize = 3;

/// Runs the simulator on its own thread and runtime, as a separate server process would.
fn start_sim(config: SimConfig) -> Result<Simulator> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("sim".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let sim = Simulator::start(config).await;
                let _ = tx.send(sim);
                std::future::pending::<()>().await;
            });
        })?;
    Ok(rx.recv()??)
}

/// The client side: one thread, one current-thread runtime, like the server.
fn client_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare client, subscribed and past the warm-up.
async fn warm_client(url: &str) -> Result<Ws> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    ws.send(Message::text(SUBSCRIBE)).await?;
    let warm = Instant::now() + WARMUP;
    while Instant::now() < warm {
        ws.next().await.context("closed")??;
    }
    Ok(ws)
}

/// Frames per second a client that only counts them receives.
async fn raw_count(url: &str) -> Result<f64> {
    let mut ws = warm_client(url).await?;
    let (start, mut n) = (Instant::now(), 0u64);
    while start.elapsed() < RUN {
        ws.next().await.context("closed")??;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// The baseline: bare tokio-tungstenite, each frame decoded with serde into the protocol types.
async fn bare_decode(url: &str) -> Result<f64> {
    let mut ws = warm_client(url).await?;
    let (start, mut n, mut sum) = (Instant::now(), 0u64, 0.0f64);
    while start.elapsed() < RUN {
        if let Message::Text(t) = ws.next().await.context("closed")?? {
            if let Payload::Update(u) = Envelope::decode(t.as_str())?.payload {
                sum += u.price;
                n += 1;
            }
        }
    }
    std::hint::black_box(sum);
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn engine_config(url: &str) -> ClientConfig {
    let mut c = ClientConfig::new(url);
    c.seed = Some(1);
    c
}

/// The engine: a subscriber receives every update as an event.
async fn engine_throughput(url: &str) -> Result<f64> {
    let (h, mut ev) = Engine::start(engine_config(url))?;
    h.subscribe(["AAPL", "MSFT", "NVDA", "TSLA"].map(String::from).to_vec())?;
    h.connect()?;
    let warm = Instant::now() + WARMUP;
    while Instant::now() < warm {
        ev.recv().await.context("engine stopped")?;
    }
    let (start, mut n, mut sum) = (Instant::now(), 0u64, 0.0f64);
    while start.elapsed() < RUN {
        if let EngineEvent::Message { message } = ev.recv().await.context("engine stopped")? {
            if let Payload::Update(u) = message.payload {
                sum += u.price;
                n += 1;
            }
        }
    }
    std::hint::black_box(sum);
    let rate = n as f64 / start.elapsed().as_secs_f64();
    drop(ev);
    h.disconnect()?;
    Ok(rate)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn ping_rtt(url: &str, samples: usize) -> Result<Vec<f64>> {
    let mut c = engine_config(url);
    c.core = Config::default().with_heartbeat(Duration::from_millis(5), Duration::from_secs(1));
    let (h, mut ev) = Engine::start(c)?;
    h.connect()?;
    let mut rtts = Vec::with_capacity(samples);
    while rtts.len() < samples {
        if let EngineEvent::Latency(l) = ev.recv().await.context("engine stopped")? {
            rtts.push(l.ms);
        }
    }
    h.shutdown().await;
    rtts.sort_by(|a, b| a.total_cmp(b));
    Ok(rtts)
}

/// Waits up to 10 s for the engine to report state `s`.
async fn wait(ev: &mut uplink_engine::EventStream, s: StateKind) -> Result<()> {
    let fut = async {
        loop {
            match ev.recv().await {
                Some(EngineEvent::State(st)) if st.state == s => return Ok(()),
                Some(_) => {}
                None => anyhow::bail!("engine stopped"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), fut).await?
}

/// Refuse and drop, then accept again and time until the engine says `connected`.
async fn reconnect_times(sim: &Simulator, rounds: usize) -> Result<Vec<f64>> {
    let mut c = engine_config(&sim.url());
    c.core.reconnect_base_delay = Duration::from_millis(10);
    c.core.reconnect_max_delay = Duration::from_millis(50);
    c.core.max_reconnect_attempts = 1000;
    c.core.min_uptime = Duration::from_millis(1);
    let (h, mut ev) = Engine::start(c)?;
    h.connect()?;
    wait(&mut ev, StateKind::Connected).await?;
    let mut times = Vec::new();
    for _ in 0..rounds {
        sim.refuse(None);
        sim.drop_all(DropMode::Close { code: 1012 });
        wait(&mut ev, StateKind::Reconnecting).await?;
        // Let the backoff reach its cap so each round measures the same thing.
        tokio::time::sleep(Duration::from_millis(120)).await;
        let back = Instant::now();
        sim.accept();
        wait(&mut ev, StateKind::Connected).await?;
        times.push(back.elapsed().as_secs_f64() * 1000.0);
    }
    h.shutdown().await;
    times.sort_by(|a, b| a.total_cmp(b));
    Ok(times)
}

fn rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("soak") {
        let cycles = match args.iter().position(|a| a == "--cycles") {
            Some(i) => args
                .get(i + 1)
                .and_then(|v| v.parse().ok())
                .context("--cycles takes a whole number")?,
            None => 1000,
        };
        let r = client_rt().block_on(uplink_bench::soak(cycles, 4))?;
        println!("uplink soak: {} forced reconnect cycles (TCP resets and close frames, alternately), prices at 500/s, {} orders", r.cycles, r.orders);
        println!("reconnections:            {:>10}", r.reconnections);
        println!("orders lost:              {:>10}   (must be 0)", r.lost);
        println!(
            "orders executed twice:    {:>10}   (must be 0)",
            r.duplicated
        );
        println!("orders re-sent (deduplicated by the feed): {}", r.resent);
        println!("queue drops:              {:>10}", r.queue_dropped);
        println!("price updates received:   {:>10}", r.updates);
        println!(
            "resident memory:          {:.1} MiB at start, {:.1} MiB at end",
            r.rss_start_mib, r.rss_end_mib
        );
        println!("took {:.1} s", r.elapsed.as_secs_f64());
        if r.lost > 0 || r.duplicated > 0 {
            anyhow::bail!("lost or duplicated orders");
        }
        return Ok(());
    }
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .init();
    }
    let firehose = start_sim(SimConfig {
        rate: 0.0,
        ..SimConfig::default()
    })?;
    let url = firehose.url();
    let rt = client_rt();
    println!(
        "uplink benchmark: feed simulator at {url} (unlimited rate), {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("each throughput figure: median of {ROUNDS} runs of {RUN:?}\n");

    let (mut raw, mut bare, mut engine) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        raw.push(rt.block_on(raw_count(&url))?);
        bare.push(rt.block_on(bare_decode(&url))?);
        engine.push(rt.block_on(engine_throughput(&url))?);
    }
    let (raw, bare, engine) = (median(raw), median(bare), median(engine));
    println!(
        "simulator max rate to one client (count only): {:>12.0} msg/s",
        raw
    );
    println!(
        "bare tokio-tungstenite read + serde decode:     {:>12.0} msg/s",
        bare
    );
    println!(
        "uplink engine (decode, stats, events):          {:>12.0} msg/s",
        engine
    );
    println!(
        "ratio engine / bare:                            {:>12.2}   (target >= 0.80)",
        engine / bare
    );
    println!(
        "simulator headroom over the bare loop:          {:>12.2}x\n",
        raw / bare
    );

    let hundred_k = start_sim(SimConfig {
        rate: 100_000.0,
        ..SimConfig::default()
    })?;
    let achieved = rt.block_on(raw_count(&hundred_k.url()))?;
    println!("simulator paced at 100,000 msg/s, achieved:     {achieved:>12.0} msg/s ({:.2} of the target)\n", achieved / 100_000.0);

    let paced = start_sim(SimConfig::default())?;
    let rtts = rt.block_on(ping_rtt(&paced.url(), 1000))?;
    println!(
        "heartbeat round trip over loopback ({} samples): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        rtts.len(),
        percentile(&rtts, 50.0),
        percentile(&rtts, 99.0),
        rtts[rtts.len() - 1]
    );
    let times = rt.block_on(reconnect_times(&paced, 20))?;
    println!(
        "server back -> connected ({} rounds, backoff capped at 50 ms): p50 {:.1} ms, max {:.1} ms",
        times.len(),
        percentile(&times, 50.0),
        times[times.len() - 1]
    );
    if let Some(m) = rss_mib() {
        println!("peak resident memory of this process (simulator + clients): {m:.1} MiB");
    }
    Ok(())
}
