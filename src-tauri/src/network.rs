//! "The network is back": NetworkManager's `StateChanged` signal, turned into
//! [`uplink_engine::Handle::network_up`]. In `error` that re-arms the connection; while waiting for
//! a retry it dials at once; while connected it probes the link with a ping.
//!
//! NetworkManager lives on the system bus; `UPLINK_NETWORK_BUS=session` watches the
//! session bus instead (for tests). Without NetworkManager this simply stays off:
//! resume from sleep is detected by the engine itself.

use futures_util::StreamExt;
use std::sync::Arc;

use crate::service::Service;

/// `NM_STATE_CONNECTED_GLOBAL`: full connectivity.
const CONNECTED_GLOBAL: u32 = 70;

/// Whether a change from `prev` to `state` means the network just came back.
pub fn came_back(prev: Option<u32>, state: u32) -> bool {
    state == CONNECTED_GLOBAL && prev.is_some_and(|p| p != CONNECTED_GLOBAL)
}

/// Watches NetworkManager until the bus goes away.
pub async fn watch(service: Arc<Service>) {
    if let Err(e) = run(service).await {
        tracing::info!("network-up detection off: {e}");
    }
}

async fn run(service: Arc<Service>) -> zbus::Result<()> {
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
    tracing::info!("watching NetworkManager for the network coming back");
    // Unknown until the first signal; a first "connected" is not a change.
    let mut prev: Option<u32> = proxy.get_property::<u32>("State").await.ok();
    while let Some(msg) = changes.next().await {
        let Ok(state) = msg.body().deserialize::<u32>() else {
            continue;
        };
        if came_back(prev, state) {
            tracing::info!("network is back: reconnecting now");
            // The engine in use now: it may be a replacement for one that died.
            if let Err(e) = service.engine().network_up() {
                tracing::warn!("network is back, but the engine did not take it: {e}");
            }
        }
        prev = Some(state);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_to_full_connectivity_counts() {
        assert!(came_back(Some(20), 70), "disconnected → connected");
        assert!(came_back(Some(60), 70), "site-only → global");
        assert!(!came_back(Some(70), 70), "no change");
        assert!(!came_back(None, 70), "nothing known before");
        assert!(!came_back(Some(70), 20), "going down");
    }
}
