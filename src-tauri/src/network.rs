//! "The network is back", turned into [`uplink_engine::Handle::network_up`]. In `error`
//! that re-arms the connection; while waiting for a retry it dials at once; while
//! connected it probes the link with a ping.
//!
//! Two sources; the first that works is used:
//! * NetworkManager's `StateChanged` on the system bus (most Linux desktops): the
//!   network is back when NetworkManager reaches full connectivity.
//!   `UPLINK_NETWORK_BUS=session` watches the session bus instead (for tests).
//! * Otherwise, and on Windows and macOS, the operating system's own notice of address
//!   changes, through `netwatcher` (netlink on Linux, `NotifyIpInterfaceChange` on
//!   Windows, the routing socket on macOS): the network is back when an address a feed
//!   could be reached through appears (see [`usable_address_added`]).
//!
//! Without either, this stays off and says so once in the log: the heartbeat and the
//! backoff still bring the link back, only later. Resume from sleep is detected by the
//! engine itself.

use futures_util::StreamExt;
use std::net::IpAddr;
use std::sync::Arc;

use crate::service::Service;

/// `NM_STATE_CONNECTED_GLOBAL`: full connectivity.
const CONNECTED_GLOBAL: u32 = 70;

/// Whether a change from `prev` to `state` means the network just came back.
pub fn came_back(prev: Option<u32>, state: u32) -> bool {
    state == CONNECTED_GLOBAL && prev.is_some_and(|p| p != CONNECTED_GLOBAL)
}

/// Watches NetworkManager while it is there, then the network interfaces, until the app
/// quits.
pub async fn watch(service: Arc<Service>) {
    match network_manager(&service).await {
        Ok(()) => tracing::info!("NetworkManager went away"),
        Err(e) => tracing::info!("no NetworkManager ({e})"),
    }
    if let Err(e) = interfaces(&service).await {
        tracing::info!("network-up detection off: {e}");
    }
}

/// Tells the engine in use now (it may be a replacement for one that died).
fn network_is_back(service: &Service, why: &str) {
    tracing::info!("network is back ({why}): reconnecting now");
    if let Err(e) = service.engine().network_up() {
        tracing::warn!("network is back, but the engine did not take it: {e}");
    }
}

/// Follows NetworkManager's state until the bus goes away. An error when it cannot be
/// reached or is not running.
async fn network_manager(service: &Service) -> zbus::Result<()> {
    let conn = match std::env::var("UPLINK_NETWORK_BUS").as_deref() {
        Ok("session") => zbus::Connection::session().await?,
        _ => zbus::Connection::system().await?,
    };
    let proxy = zbus::Proxy::new(
        &conn,
        "org.freedesktop.NetworkManager",
        "/org/freedesktop/NetworkManager",
        "org.freedesktop.NetworkManager",
    )
    .await?;
    let mut changes = proxy.receive_signal("StateChanged").await?;
    // Also tells whether NetworkManager runs at all: a bus without it answers with an
    // error. A first "connected" is not a change.
    let mut prev = Some(proxy.get_property::<u32>("State").await?);
    tracing::info!("watching NetworkManager for the network coming back");
    while let Some(msg) = changes.next().await {
        let Ok(state) = msg.body().deserialize::<u32>() else {
            continue;
        };
        if came_back(prev, state) {
            network_is_back(service, "NetworkManager is connected");
        }
        prev = Some(state);
    }
    Ok(())
}

/// Follows the network interfaces' addresses for as long as the app runs. An error
/// when the operating system's notices cannot be had.
pub async fn interfaces(service: &Service) -> Result<(), netwatcher::Error> {
    let mut watch = netwatcher::watch_interfaces_async::<netwatcher::async_adapter::Tokio>()?;
    tracing::info!("watching the network interfaces for the network coming back");
    loop {
        let update = watch.changed().await;
        if let Some(ip) = usable_address_added(&update) {
            network_is_back(service, &format!("new address {ip}"));
        }
    }
}

/// The first address in `update` that was not there before and that a feed could be
/// reached through: not loopback, link-local or unspecified. None for the first
/// snapshot, which is what was there when the watch began.
///
/// Link-local addresses are left out because every interface gets one as soon as it is
/// up (IPv6 `fe80::/10`), and IPv4 `169.254/16` is what a machine takes when it found
/// no network: neither means a feed is reachable.
pub fn usable_address_added(update: &netwatcher::Update) -> Option<IpAddr> {
    if update.is_initial {
        return None;
    }
    update
        .addrs_added()
        .map(|(_, record)| record.ip)
        .find(|ip| match ip {
            IpAddr::V4(a) => !(a.is_loopback() || a.is_link_local() || a.is_unspecified()),
            IpAddr::V6(a) => !(a.is_loopback() || a.is_unicast_link_local() || a.is_unspecified()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwatcher::{Interface, InterfaceDiff, IpRecord, Update, UpdateDiff};
    use std::collections::HashMap;

    fn record(ip: &str, prefix_len: u8) -> IpRecord {
        IpRecord {
            ip: ip.parse().unwrap(),
            prefix_len,
        }
    }

    fn interface(index: u32, ips: Vec<IpRecord>) -> Interface {
        Interface {
            index,
            name: format!("if{index}"),
            hw_addr: String::new(),
            ips,
        }
    }

    /// An update in which interface 2 appears with `new_if` and interface 1 gains
    /// `gained`.
    fn update(is_initial: bool, new_if: Vec<IpRecord>, gained: Vec<IpRecord>) -> Update {
        let mut diff = UpdateDiff::default();
        if !new_if.is_empty() {
            diff.added.insert(2, interface(2, new_if));
        }
        if !gained.is_empty() {
            diff.modified.insert(
                1,
                InterfaceDiff {
                    addrs_added: gained,
                    ..Default::default()
                },
            );
        }
        Update {
            is_initial,
            interfaces: HashMap::new(),
            diff,
        }
    }

    #[test]
    fn only_a_new_address_a_feed_could_be_reached_through_means_the_network_is_back() {
        // What was there when the watch began is not news.
        let first = update(true, vec![record("192.168.1.20", 24)], vec![]);
        assert_eq!(usable_address_added(&first), None);
        // Loopback, link-local and unspecified addresses are not a network.
        for ip in [
            "127.0.0.1",
            "::1",
            "169.254.3.4",
            "fe80::1",
            "0.0.0.0",
            "::",
        ] {
            let u = update(false, vec![record(ip, 16)], vec![record(ip, 16)]);
            assert_eq!(usable_address_added(&u), None, "{ip}");
        }
        // A private or global address, IPv4 or IPv6, on a new or an existing interface.
        for ip in ["10.9.0.1", "192.168.1.20", "2001:db8::7", "fd00::1"] {
            let on_new = update(false, vec![record("fe80::2", 64), record(ip, 24)], vec![]);
            assert_eq!(usable_address_added(&on_new), Some(ip.parse().unwrap()));
            let on_old = update(false, vec![], vec![record(ip, 24)]);
            assert_eq!(usable_address_added(&on_old), Some(ip.parse().unwrap()));
        }
        // An address going away is not the network coming back.
        let mut gone = update(false, vec![], vec![]);
        gone.diff
            .removed
            .insert(3, interface(3, vec![record("10.0.0.5", 8)]));
        assert_eq!(usable_address_added(&gone), None);
    }
}
