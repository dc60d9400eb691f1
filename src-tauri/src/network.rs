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
//!   Windows, the routing socket on macOS): the network is back when an interface
//!   that had no address a feed could be reached through gets one (see
//!   [`interface_came_up`]).
//!
//! Without either, this stays off and says so once in the log: the heartbeat and the
//! backoff still bring the link back, only later. Resume from sleep is detected by the
//! engine itself.

use futures_util::StreamExt;
use std::net::IpAddr;
use std::sync::Arc;

use uplink_engine::core::network::{came_up, nm_came_back};

use crate::service::Service;

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
        if nm_came_back(prev, state) {
            network_is_back(service, "NetworkManager is connected");
        }
        prev = Some(state);
    }
    Ok(())
}

/// Follows the network interfaces' addresses for as long as the app runs. An error
/// when the operating system's notices cannot be had.
async fn interfaces(service: &Service) -> Result<(), netwatcher::Error> {
    let mut watch = netwatcher::watch_interfaces_async::<netwatcher::async_adapter::Tokio>()?;
    tracing::info!("watching the network interfaces for the network coming back");
    loop {
        let update = watch.changed().await;
        if let Some(ip) = interface_came_up(&update) {
            network_is_back(service, &format!("new address {ip}"));
        }
    }
}

/// An address of an interface that came up in `update` ([`came_up`]: it had no address
/// a feed could be reached through, and now has one). None for the first snapshot,
/// which is what was there when the watch began.
pub fn interface_came_up(update: &netwatcher::Update) -> Option<IpAddr> {
    if update.is_initial {
        return None;
    }
    let ips = |records: &[netwatcher::IpRecord]| -> Vec<IpAddr> {
        records.iter().map(|r| r.ip).collect()
    };
    let appeared = update
        .diff
        .added
        .values()
        .find_map(|i| came_up(&[], &ips(&i.ips)));
    appeared.or_else(|| {
        update.diff.modified.iter().find_map(|(index, diff)| {
            let now = ips(&update.interfaces.get(index)?.ips);
            // Before: what it has now, less what it gained, plus what it lost.
            let mut before: Vec<IpAddr> = now
                .iter()
                .copied()
                .filter(|ip| !diff.addrs_added.iter().any(|r| r.ip == *ip))
                .collect();
            before.extend(ips(&diff.addrs_removed));
            came_up(&before, &now)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netwatcher::{Interface, InterfaceDiff, IpRecord, Update, UpdateDiff};
    use std::collections::HashMap;

    fn records(list: &[&str]) -> Vec<IpRecord> {
        list.iter()
            .map(|ip| IpRecord {
                ip: ip.parse().unwrap(),
                prefix_len: 24,
            })
            .collect()
    }

    fn interface(index: u32, ips: &[&str]) -> Interface {
        Interface {
            index,
            name: format!("if{index}"),
            hw_addr: String::new(),
            ips: records(ips),
        }
    }

    /// Interface 1 went from `before` to `after`, as netwatcher reports it.
    fn change(before: &[&str], after: &[&str]) -> Update {
        let gained = after.iter().filter(|a| !before.contains(a)).copied();
        let lost = before.iter().filter(|b| !after.contains(b)).copied();
        let diff = InterfaceDiff {
            addrs_added: records(&gained.collect::<Vec<_>>()),
            addrs_removed: records(&lost.collect::<Vec<_>>()),
            ..Default::default()
        };
        Update {
            is_initial: false,
            interfaces: HashMap::from([(1, interface(1, after))]),
            diff: UpdateDiff {
                modified: HashMap::from([(1, diff)]),
                ..Default::default()
            },
        }
    }

    #[test]
    fn the_network_is_back_when_an_interface_gets_its_first_usable_address() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // What was there when the watch began is not news.
        let mut first = change(&[], &["192.168.1.20"]);
        first.is_initial = true;
        assert_eq!(interface_came_up(&first), None);

        assert_eq!(
            interface_came_up(&change(&["fe80::2"], &["fe80::2", "10.9.0.1"])),
            ip("10.9.0.1")
        );
        assert_eq!(
            interface_came_up(&change(&["fe80::2"], &["fe80::2", "169.254.7.7"])),
            None,
            "link-local"
        );
        assert_eq!(
            interface_came_up(&change(&["10.9.0.1"], &["10.9.0.1", "2001:db8::7"])),
            None,
            "it was up already"
        );
        assert_eq!(
            interface_came_up(&change(&["10.9.0.1"], &[])),
            None,
            "going down"
        );

        // A new interface (a VPN's tunnel) with an address.
        let mut tunnel = change(&["10.9.0.1"], &["10.9.0.1"]);
        tunnel.diff.modified.clear();
        tunnel
            .diff
            .added
            .insert(5, interface(5, &["fe80::5", "10.8.0.2"]));
        assert_eq!(interface_came_up(&tunnel), ip("10.8.0.2"));
    }
}
