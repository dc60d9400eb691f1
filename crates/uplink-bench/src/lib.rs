//! The soak: many forced reconnect cycles with traffic and queued orders, counting what
//! was lost or duplicated. `cargo run --release -p uplink-bench -- soak --cycles 1000`
//! prints the figures; the test suite runs a short version (`tests/soak.rs`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use uplink_engine::core::Config;
use uplink_engine::proto::{OrderRequest, Payload, Side};
use uplink_engine::{ClientConfig, Engine, EngineEvent, Outbound, StateKind};
use uplink_sim::{DropMode, SimConfig, Simulator};

/// What a soak run saw.
#[derive(Debug, Clone, PartialEq)]
pub struct SoakReport {
    /// Reconnect cycles forced.
    pub cycles: u32,
    /// Reconnections the engine counted.
    pub reconnections: u64,
    /// Orders sent.
    pub orders: u64,
    /// Orders the feed never executed.
    pub lost: u64,
    /// Orders the feed executed more than once.
    pub duplicated: u64,
    /// Orders re-sent after a reconnect (deduplicated by the feed).
    pub resent: u64,
    /// Price updates received.
    pub updates: u64,
    /// Messages dropped from a full queue (the queue holds every order here: 0).
    pub queue_dropped: u64,
    /// Resident memory at the start and the end, MiB.
    pub rss_start_mib: f64,
    /// See `rss_start_mib`.
    pub rss_end_mib: f64,
    /// How long it took.
    pub elapsed: Duration,
}

/// This process's resident memory, MiB.
pub fn rss_now_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?.to_owned();
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Forces `cycles` reconnects (alternately a TCP reset and a close frame) while
/// prices flow and `orders_per_cycle` orders are sent each cycle, some while the link
/// is down; then waits for every order to be acknowledged and checks the feed executed
/// each exactly once.
pub async fn soak(cycles: u32, orders_per_cycle: u32) -> Result<SoakReport> {
    let sim = Simulator::start(SimConfig {
        rate: 500.0,
        order_step: Duration::from_millis(5),
        ..SimConfig::default()
    })
    .await?;
    let mut c = ClientConfig::new(sim.url());
    c.core = Config {
        reconnect_base_delay: Duration::from_millis(2),
        reconnect_max_delay: Duration::from_millis(10),
        max_reconnect_attempts: 1000,
        min_uptime: Duration::from_millis(1),
        flush_interval: Duration::from_millis(1),
        jitter: 0.0,
        rate_limit: None,
        queue_size: 100_000,
        ..Config::default()
    };
    let rss_start_mib = rss_now_mib();
    let start = Instant::now();
    let (h, mut ev) = Engine::start(c)?;
    h.subscribe(vec!["AAPL".into()])?;
    h.connect()?;
    let mut updates = 0u64;
    let mut resent = 0u64;
    // Orders acknowledged by the feed (the feed's own count of executions says whether
    // anything ran twice).
    let mut acked: BTreeSet<u64> = BTreeSet::new();
    let mut n = 0u64;
    for cycle in 0..cycles {
        // Connected: send half the orders, then drop the link mid-traffic.
        wait_for_state(
            &mut ev,
            StateKind::Connected,
            &mut updates,
            &mut resent,
            &mut acked,
        )
        .await?;
        for _ in 0..orders_per_cycle / 2 {
            n += 1;
            send(&h, n)?;
        }
        let mode = if cycle % 2 == 0 {
            DropMode::Reset
        } else {
            DropMode::Close { code: 1001 }
        };
        sim.drop_all(mode);
        // Down (or coming back): the other half is queued, or goes out on arrival.
        for _ in orders_per_cycle / 2..orders_per_cycle {
            n += 1;
            send(&h, n)?;
        }
    }
    // Every order acknowledged, each client order id exactly once.
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.len() < n as usize {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(e)) = tokio::time::timeout(left, ev.recv()).await else {
            bail!("{} of {n} orders acknowledged within 60 s", acked.len());
        };
        match e {
            EngineEvent::Message { message } if matches!(message.payload, Payload::Update(_)) => {
                updates += 1
            }
            EngineEvent::Acked { id, .. } => {
                acked.insert(id.0);
            }
            EngineEvent::Resent { .. } => resent += 1,
            _ => {}
        }
    }
    let st = h.status().borrow().clone();
    h.shutdown().await;
    let stats = sim.stats();
    let executed = stats.orders_executed;
    Ok(SoakReport {
        cycles,
        reconnections: st.stats.reconnections,
        orders: n,
        lost: n.saturating_sub(executed),
        duplicated: executed.saturating_sub(n),
        resent,
        updates,
        queue_dropped: st.stats.queue_dropped,
        rss_start_mib,
        rss_end_mib: rss_now_mib(),
        elapsed: start.elapsed(),
    })
}

fn send(h: &uplink_engine::Handle, n: u64) -> Result<uplink_engine::MessageId> {
    Ok(h.send(Outbound::order(OrderRequest {
        symbol: "AAPL".into(),
        side: Side::Buy,
        qty: 1.0,
        client_order_id: Some(format!("soak-{n}")),
    })?)?)
}

async fn wait_for_state(
    ev: &mut uplink_engine::EventStream,
    want: StateKind,
    updates: &mut u64,
    resent: &mut u64,
    acked: &mut BTreeSet<u64>,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some(e)) = tokio::time::timeout(left, ev.recv()).await else {
            bail!("no {want:?} within 10 s");
        };
        match e {
            EngineEvent::State(st) if st.state == want => return Ok(()),
            EngineEvent::Message { message } if matches!(message.payload, Payload::Update(_)) => {
                *updates += 1
            }
            EngineEvent::Resent { .. } => *resent += 1,
            EngineEvent::Acked { id, .. } => {
                acked.insert(id.0);
            }
            _ => {}
        }
    }
}
