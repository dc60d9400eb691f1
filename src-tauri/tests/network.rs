//! The app's network watch (`network::watch`) where there is no NetworkManager, as on
//! machines without it and on Windows and macOS: it falls back to the interface
//! watcher, tested here against the real kernel. The test runs in a network namespace
//! of its own, where it makes a network interface and gives it addresses with
//! iproute2's `ip`, as a network coming up would. The feed is the simulator on that
//! namespace's loopback.
//!
//! Needs root (CI runs as root) for the namespace, and `ip` (`scripts/install-deps.sh
//! --test` installs iproute2).
#![cfg(target_os = "linux")]

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use uplink_app::service::Service;
use uplink_app::settings::{Settings, SettingsStore};
use uplink_engine::StateKind;
use uplink_sim::{DropMode, SimConfig, Simulator};

/// Runs `ip` with `args` in the test's namespace (a child inherits its thread's).
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("iproute2's ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits up to `within` for the app's status to be `want`.
async fn state_is(service: &Service, want: StateKind, within: Duration) {
    let mut status = service.status();
    let reached = tokio::time::timeout(within, status.wait_for(|s| s.state == want)).await;
    assert!(
        reached.is_ok(),
        "state {want:?} within {within:?}; it is {:?}",
        service.status().borrow().state
    );
}

#[test]
fn an_address_appearing_rearms_a_connection_that_gave_up() {
    // A thread of its own: a network namespace belongs to the thread that made it,
    // and everything below (sockets, the netlink watch, `ip`) is made on this thread.
    std::thread::spawn(|| {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
            .expect("a network namespace of the test's own (needs root)");
        ip(&["link", "set", "lo", "up"]);
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(scenario());
    })
    .join()
    .expect("the scenario passed");
}

async fn scenario() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    SettingsStore::new(dir.path())
        .save(&Settings {
            feed_urls: vec![sim.url()],
            watchlist: vec!["AAPL".into()],
            heartbeat_interval_secs: 1.0,
            pong_timeout_secs: 1.0,
            reconnect_base_delay_secs: 0.2,
            reconnect_max_delay_secs: 0.5,
            max_reconnect_attempts: 2,
            ..Default::default()
        })
        .unwrap();
    let (service, mut events) = Service::start_on(dir.path(), tokio::runtime::Handle::current())
        .await
        .unwrap();
    let service = Arc::new(service);
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    // No NetworkManager: the session bus it is told to use does not exist.
    std::env::set_var("UPLINK_NETWORK_BUS", "session");
    std::env::set_var(
        "DBUS_SESSION_BUS_ADDRESS",
        "unix:path=/nonexistent/uplink-test-bus",
    );
    let watcher = tokio::spawn(uplink_app::network::watch(Arc::clone(&service)));
    state_is(&service, StateKind::Connected, Duration::from_secs(10)).await;

    // The network goes away: the feed is unreachable and the app gives up.
    sim.refuse(None);
    sim.drop_all(DropMode::Reset);
    state_is(&service, StateKind::Error, Duration::from_secs(10)).await;
    sim.accept();

    // An interface comes up with link-local addresses only (the IPv4 one a machine
    // takes when it found no network): not a network yet.
    ip(&["link", "add", "up0", "type", "veth", "peer", "name", "up1"]);
    ip(&["link", "set", "up0", "up"]);
    ip(&["link", "set", "up1", "up"]);
    ip(&["addr", "add", "169.254.7.7/16", "dev", "up0"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        service.status().borrow().state,
        StateKind::Error,
        "link-local addresses do not re-arm"
    );

    // It gets an address a feed could be reached through: no click needed.
    ip(&["addr", "add", "10.9.0.1/24", "dev", "up0"]);
    state_is(&service, StateKind::Connected, Duration::from_secs(10)).await;
    assert!(!watcher.is_finished(), "the watch goes on");
    service.shutdown(Duration::from_secs(2)).await;
}
