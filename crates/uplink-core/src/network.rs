//! When the operating system's notices mean "the network is back" (then the app calls
//! [`crate::Connection::handle_network_up`]). Only the rules live here; the app hears
//! the notices (NetworkManager over D-Bus, or the interfaces' addresses).

use std::net::IpAddr;

/// `NM_STATE_CONNECTED_GLOBAL`: NetworkManager's full connectivity.
pub const NM_CONNECTED_GLOBAL: u32 = 70;

/// Whether NetworkManager's state going from `prev` to `state` means the network just
/// came back: full connectivity, from anything less. A first reading is not a change.
pub fn nm_came_back(prev: Option<u32>, state: u32) -> bool {
    state == NM_CONNECTED_GLOBAL && prev.is_some_and(|p| p != NM_CONNECTED_GLOBAL)
}

/// Whether a feed could be reached through `ip`: not loopback, link-local or
/// unspecified.
///
/// Link-local addresses do not count: every interface gets an IPv6 one (`fe80::/10`)
/// as soon as it is up, and IPv4 `169.254/16` is what a machine takes when it found
/// no network.
pub fn usable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_loopback() || a.is_link_local() || a.is_unspecified()),
        IpAddr::V6(a) => !(a.is_loopback() || a.is_unicast_link_local() || a.is_unspecified()),
    }
}

/// Whether an interface whose addresses went from `before` to `after` came up: it had
/// no [`usable`] address and now has one, which is returned.
///
/// An interface that already had one is not news when it gains another (an IPv6
/// privacy address rotated in, a second address): the link a feed uses did not change.
/// An interface that appears is one whose `before` is empty (a VPN's tunnel, a USB
/// modem).
pub fn came_up(before: &[IpAddr], after: &[IpAddr]) -> Option<IpAddr> {
    if before.iter().any(|ip| usable(*ip)) {
        return None;
    }
    after.iter().copied().find(|ip| usable(*ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ips(list: &[&str]) -> Vec<IpAddr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn only_a_change_to_full_connectivity_counts() {
        assert!(nm_came_back(Some(20), 70), "disconnected → connected");
        assert!(nm_came_back(Some(60), 70), "site-only → global");
        assert!(!nm_came_back(Some(70), 70), "no change");
        assert!(!nm_came_back(None, 70), "nothing known before");
        assert!(!nm_came_back(Some(70), 20), "going down");
    }

    #[test]
    fn loopback_link_local_and_unspecified_addresses_reach_no_feed() {
        for ip in [
            "127.0.0.1",
            "::1",
            "169.254.3.4",
            "fe80::1",
            "0.0.0.0",
            "::",
        ] {
            assert!(!usable(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "10.9.0.1",
            "192.168.1.20",
            "8.8.8.8",
            "2001:db8::7",
            "fd00::1",
        ] {
            assert!(usable(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn an_interface_comes_up_when_it_gets_its_first_usable_address() {
        let up = |b: &[&str], a: &[&str]| came_up(&ips(b), &ips(a));
        assert_eq!(up(&[], &["10.9.0.1"]), Some("10.9.0.1".parse().unwrap()));
        assert_eq!(
            up(
                &["fe80::2", "169.254.7.7"],
                &["fe80::2", "169.254.7.7", "2001:db8::7"]
            ),
            Some("2001:db8::7".parse().unwrap()),
            "link-local only before: it was not up"
        );
        assert_eq!(up(&[], &["fe80::2"]), None, "link-local only after");
        assert_eq!(
            up(&["192.168.1.20"], &["192.168.1.20", "2001:db8::8"]),
            None,
            "a second address on a link that was up"
        );
        assert_eq!(up(&["192.168.1.20"], &[]), None, "going down");
    }
}
