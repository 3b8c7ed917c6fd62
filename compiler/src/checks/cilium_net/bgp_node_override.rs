//! CiliumBGPNodeConfigOverride peers that set both `peerInterface` and `localAddress`.
//!
//! At `cilium.io/v2`, a CEL rule forbids the pair (`localAddress must not be set when
//! peerInterface is set`): with `peerInterface` the session runs over that interface's
//! link-local address. Fix: keep one of them.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumBGPNodeConfigOverride;
use crate::path::Path;

code!(CONFLICTING_FIELDS, "PLC5311", "bgp-override-conflicting-fields", Error, "a BGP node override peer sets both `peerInterface` and `localAddress`",
"The CiliumBGPNodeConfigOverride CRD rejects a peer override with both `peerInterface` and `localAddress` (`localAddress must not be set when peerInterface is set`): a peer reached through an interface uses that interface's link-local address as the source.

Fix: remove `localAddress` (to peer over the interface) or `peerInterface` (to use a fixed source address).");

/// Reports peer overrides with both `peerInterface` and `localAddress`.
pub fn check(config: &CiliumBGPNodeConfigOverride, cx: &mut CheckCx<'_>) {
    for (instance_index, instance) in config.spec.bgp_instances.iter().enumerate() {
        for (peer_index, peer) in instance.peers.iter().enumerate() {
            if peer.peer_interface.is_some() && peer.local_address.is_some() {
                let path = Path::root().key("spec").key("bgpInstances").index(instance_index).key("peers").index(peer_index).key("localAddress");
                cx.report_key(&CONFLICTING_FIELDS, &path, format!("peer `{}` sets both `peerInterface` and `localAddress`", peer.name)).help =
                    Some("remove `localAddress` to peer over the interface, or `peerInterface` to use this source address".to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(peer: &str) -> Vec<(&'static str, u32)> {
        let text = format!(
            "apiVersion: cilium.io/v2\nkind: CiliumBGPNodeConfigOverride\nmetadata:\n  name: node-1\nspec:\n  bgpInstances:\n  - name: i\n    peers:\n    - name: p\n{peer}"
        );
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn one_of_them_is_clean() {
        assert!(lint("      localAddress: 10.0.0.2\n").is_empty());
        assert!(lint("      peerInterface: eth1\n").is_empty());
    }

    #[test]
    fn both_are_an_error() {
        assert_eq!(lint("      peerInterface: eth1\n      localAddress: 10.0.0.2\n"), vec![("PLC5311", 11)]);
    }
}
