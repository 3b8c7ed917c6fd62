//! BGP v2 peers without a usable address, and the CEL rules of `autoDiscovery` and
//! `peerInterface`.
//!
//! A CiliumBGPClusterConfig peer needs `peerAddress` or `autoDiscovery` (`cilium.io/v2` CEL
//! rule; at `cilium.io/v2alpha1`, which has no `autoDiscovery`, a peer without `peerAddress` is
//! accepted and then skipped by the agent). `autoDiscovery` with mode `DefaultGateway` needs
//! `defaultGateway`; with mode `Unnumbered` it needs exactly one of `unnumbered` and
//! `defaultGateway`. With `peerInterface`, `peerAddress` must be an IPv6 link-local address
//! (the CEL rule checks that it starts with `fe80:`). Fix: add the missing field the message
//! names.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::{AutoDiscoveryMode, CiliumBGPClusterConfig};
use crate::path::Path;

use super::is_v2alpha1;

code!(PEER_ADDRESS_MISSING, "PLC5302", "bgp-peer-address-missing", Error, "a BGP peer has neither `peerAddress` nor `autoDiscovery`",
"At `cilium.io/v2`, every peer of a CiliumBGPClusterConfig instance must say how to reach it: `peerAddress`, or `autoDiscovery` to find the address on each node. The CRD rejects a peer with neither (`one of peerAddress or autoDiscovery must be set`).

Fix: add `peerAddress: <the router's address>`, or `autoDiscovery: {mode: DefaultGateway, defaultGateway: {addressFamily: ipv4}}`.");

code!(PEER_WITHOUT_ADDRESS, "PLC5303", "bgp-peer-without-address", Warning, "a BGP peer has no `peerAddress`, so Cilium skips it",
"`cilium.io/v2alpha1` accepts a CiliumBGPClusterConfig peer without `peerAddress`, but the Cilium agent cannot open a session without an address and skips the peer.

Fix: add `peerAddress`, or move to `cilium.io/v2` and use `autoDiscovery`.");

code!(AUTO_DISCOVERY_INCOMPLETE, "PLC5304", "bgp-auto-discovery-incomplete", Error, "a BGP peer's `autoDiscovery` lacks the settings its mode needs",
"The CRD's CEL rules on `autoDiscovery`:
- `mode: DefaultGateway` needs `defaultGateway: {addressFamily: ipv4|ipv6}` (`defaultGateway must be set when mode is DefaultGateway`);
- `mode: Unnumbered` needs exactly one of `unnumbered: {interface: ...}` and `defaultGateway` (`exactly one of unnumbered or defaultGateway must be set when mode is Unnumbered`).

Fix: add the missing block, or remove the extra one.");

code!(PEER_INTERFACE_NOT_LINK_LOCAL, "PLC5305", "bgp-peer-interface-not-link-local", Error, "a BGP peer with `peerInterface` has a `peerAddress` that is not IPv6 link-local",
"`peerInterface` names the interface through which an IPv6 link-local peer (`fe80::/10`) is reached; the CRD rejects any other `peerAddress` with it (`peerAddress must be an IPv6 link-local address (fe80::/10) when peerInterface is set`, checked as a `fe80:` prefix).

Fix: remove `peerInterface` for a routable peer address, or use the peer's `fe80:` address.");

/// Reports peers without an address and broken `autoDiscovery`/`peerInterface` settings.
pub fn check(config: &CiliumBGPClusterConfig, cx: &mut CheckCx<'_>) {
    let alpha = is_v2alpha1(cx.api_version);
    for (instance_index, instance) in config.spec.bgp_instances.iter().enumerate() {
        for (peer_index, peer) in instance.peers.iter().enumerate() {
            let path = Path::root().key("spec").key("bgpInstances").index(instance_index).key("peers").index(peer_index);
            if alpha {
                // `autoDiscovery` and `peerInterface` are reported by `api_version_fields`.
                if peer.peer_address.is_none() {
                    cx.report(&PEER_WITHOUT_ADDRESS, &path, format!("peer `{}` has no `peerAddress`: Cilium skips it", peer.name)).help =
                        Some("add `peerAddress: <the router's address>`".to_owned());
                }
                continue;
            }
            if peer.peer_address.is_none() && peer.auto_discovery.is_none() {
                cx.report(&PEER_ADDRESS_MISSING, &path, format!("peer `{}` has neither `peerAddress` nor `autoDiscovery`", peer.name)).help = Some(
                    "add `peerAddress: <the router's address>`, or `autoDiscovery: {mode: DefaultGateway, defaultGateway: {addressFamily: ipv4}}`".to_owned(),
                );
            }
            if let Some(discovery) = &peer.auto_discovery {
                let discovery_path = path.key("autoDiscovery");
                match discovery.mode {
                    AutoDiscoveryMode::DefaultGateway if discovery.default_gateway.is_none() => {
                        cx.report(&AUTO_DISCOVERY_INCOMPLETE, &discovery_path.key("mode"), "`mode: DefaultGateway` needs `defaultGateway`").help =
                            Some("add `defaultGateway: {addressFamily: ipv4}` (or `ipv6`) next to `mode`".to_owned());
                    }
                    AutoDiscoveryMode::Unnumbered if discovery.unnumbered.is_some() == discovery.default_gateway.is_some() => {
                        let message = if discovery.unnumbered.is_some() {
                            "`mode: Unnumbered` takes one of `unnumbered` and `defaultGateway`, not both"
                        } else {
                            "`mode: Unnumbered` needs `unnumbered` or `defaultGateway`"
                        };
                        cx.report(&AUTO_DISCOVERY_INCOMPLETE, &discovery_path.key("mode"), message).help = Some(
                            "name the interface with `unnumbered: {interface: eth1}`, or follow a default route with `defaultGateway: {addressFamily: ipv6}`"
                                .to_owned(),
                        );
                    }
                    _ => {}
                }
            }
            if let (Some(_), Some(address)) = (&peer.peer_interface, &peer.peer_address)
                && !(address.starts_with("fe80:") || address.starts_with("FE80:"))
            {
                cx.report(
                    &PEER_INTERFACE_NOT_LINK_LOCAL,
                    &path.key("peerAddress"),
                    format!("`{address}` is not an IPv6 link-local (`fe80:`) address, which `peerInterface` requires"),
                )
                .help = Some("remove `peerInterface` for a routable address, or write the peer's link-local address (`fe80::...`)".to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(version: &str, peer: &str) -> Vec<(&'static str, u32)> {
        let text = format!(
            "apiVersion: cilium.io/{version}\nkind: CiliumBGPClusterConfig\nmetadata:\n  name: c\nspec:\n  bgpInstances:\n  - name: i\n    localASN: 65001\n    peers:\n    - name: p\n{peer}"
        );
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn peers_with_an_address_are_clean() {
        assert!(lint("v2", "      peerAddress: 10.0.0.1\n").is_empty());
        assert!(lint("v2alpha1", "      peerAddress: fd00:10::1\n").is_empty());
        assert!(lint("v2", "      peerAddress: fe80::1\n      peerInterface: eth1\n").is_empty());
        assert!(lint("v2", "      autoDiscovery:\n        mode: Unnumbered\n        unnumbered: {interface: eth1}\n").is_empty());
    }

    #[test]
    fn peers_without_an_address() {
        assert_eq!(lint("v2", "      peerASN: 65000\n"), vec![("PLC5302", 10)]);
        assert_eq!(lint("v2alpha1", "      peerASN: 65000\n"), vec![("PLC5303", 10)]);
    }

    #[test]
    fn incomplete_auto_discovery() {
        assert_eq!(lint("v2", "      autoDiscovery:\n        mode: DefaultGateway\n"), vec![("PLC5304", 12)]);
        assert_eq!(lint("v2", "      autoDiscovery:\n        mode: Unnumbered\n"), vec![("PLC5304", 12)]);
        let both = "      autoDiscovery:\n        mode: Unnumbered\n        unnumbered: {interface: eth1}\n        defaultGateway: {addressFamily: ipv6}\n";
        assert_eq!(lint("v2", both), vec![("PLC5304", 12)]);
    }

    #[test]
    fn peer_interface_needs_link_local() {
        assert_eq!(lint("v2", "      peerAddress: fd00::1\n      peerInterface: eth1\n"), vec![("PLC5305", 11)]);
    }
}
