//! BGP v2 fields used at an `apiVersion` whose schema does not have them.
//!
//! polc's models of the BGP v2 kinds accept the fields of both served versions. The API server
//! validates against the version in `apiVersion`, where a field of the other version is
//! unknown (rejected by `kubectl apply`'s strict field validation, pruned otherwise). Found:
//! - only in `cilium.io/v2`: `peers[].autoDiscovery` and `peers[].peerInterface` of
//!   CiliumBGPClusterConfig, `transport.sourceInterface` of CiliumBGPPeerConfig,
//!   `advertisementType: Interface` and `interface` of CiliumBGPAdvertisement, and
//!   `peers[].peerInterface` of CiliumBGPNodeConfigOverride;
//! - only in `cilium.io/v2alpha1`: `peerConfigRef.group` and `peerConfigRef.kind` of
//!   CiliumBGPClusterConfig, and `transport.localPort` of CiliumBGPPeerConfig.
//!
//! Fix: change `apiVersion`, or remove the field.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::{AdvertisementType, CiliumBGPAdvertisement, CiliumBGPClusterConfig, CiliumBGPNodeConfigOverride, CiliumBGPPeerConfig};
use crate::path::Path;

use super::is_v2alpha1;

code!(FIELD_NOT_IN_API_VERSION, "PLC5306", "field-not-in-api-version", Error, "a field or value exists only in another apiVersion of this kind",
"The BGP v2 kinds are served at `cilium.io/v2` and at the deprecated `cilium.io/v2alpha1`, and the two schemas differ:
- only `cilium.io/v2` has `autoDiscovery` and `peerInterface` on CiliumBGPClusterConfig peers, `transport.sourceInterface` on CiliumBGPPeerConfig, `advertisementType: Interface` with its `interface` field on CiliumBGPAdvertisement, and `peerInterface` on CiliumBGPNodeConfigOverride peers;
- only `cilium.io/v2alpha1` has `peerConfigRef.group` and `peerConfigRef.kind`, and `transport.localPort`.
The API server checks an object against the version named in its `apiVersion`: there the other version's fields are unknown, and are rejected or dropped.

Fix: use the `apiVersion` that has the field (`cilium.io/v2` for the new ones, if the cluster serves it), or remove the field.");

fn only_in_v2(field: &str, path: &Path, cx: &mut CheckCx<'_>) {
    cx.report_key(&FIELD_NOT_IN_API_VERSION, path, format!("`{field}` is not part of `cilium.io/v2alpha1`: it exists only in `cilium.io/v2`")).help =
        Some("use `apiVersion: cilium.io/v2` (Cilium 1.18 and later), or remove the field".to_owned());
}

fn only_in_v2alpha1(field: &str, help: &str, path: &Path, cx: &mut CheckCx<'_>) {
    cx.report_key(&FIELD_NOT_IN_API_VERSION, path, format!("`{field}` is not part of `cilium.io/v2`: it exists only in `cilium.io/v2alpha1`")).help =
        Some(help.to_owned());
}

pub fn check_cluster_config(config: &CiliumBGPClusterConfig, cx: &mut CheckCx<'_>) {
    let alpha = is_v2alpha1(cx.api_version);
    for (instance_index, instance) in config.spec.bgp_instances.iter().enumerate() {
        for (peer_index, peer) in instance.peers.iter().enumerate() {
            let path = Path::root().key("spec").key("bgpInstances").index(instance_index).key("peers").index(peer_index);
            if alpha {
                if peer.auto_discovery.is_some() {
                    only_in_v2("autoDiscovery", &path.key("autoDiscovery"), cx);
                }
                if peer.peer_interface.is_some() {
                    only_in_v2("peerInterface", &path.key("peerInterface"), cx);
                }
            } else if let Some(reference) = &peer.peer_config_ref {
                for (field, given) in [("group", &reference.group), ("kind", &reference.kind)] {
                    if given.is_some() {
                        only_in_v2alpha1(
                            &format!("peerConfigRef.{field}"),
                            "remove it: in `cilium.io/v2`, `peerConfigRef` has only `name` and always refers to a CiliumBGPPeerConfig",
                            &path.key("peerConfigRef").key(field),
                            cx,
                        );
                    }
                }
            }
        }
    }
}

pub fn check_peer_config(config: &CiliumBGPPeerConfig, cx: &mut CheckCx<'_>) {
    let Some(transport) = &config.spec.transport else { return };
    let path = Path::root().key("spec").key("transport");
    if is_v2alpha1(cx.api_version) {
        if transport.source_interface.is_some() {
            only_in_v2("transport.sourceInterface", &path.key("sourceInterface"), cx);
        }
    } else if transport.local_port.is_some() {
        only_in_v2alpha1(
            "transport.localPort",
            "remove it: the local port of a session is chosen by the system (the field was deprecated in `cilium.io/v2alpha1`)",
            &path.key("localPort"),
            cx,
        );
    }
}

pub fn check_advertisement(advertisement: &CiliumBGPAdvertisement, cx: &mut CheckCx<'_>) {
    if !is_v2alpha1(cx.api_version) {
        return;
    }
    for (index, item) in advertisement.spec.advertisements.iter().enumerate() {
        let path = Path::root().key("spec").key("advertisements").index(index);
        if item.advertisement_type == AdvertisementType::Interface {
            cx.report(
                &FIELD_NOT_IN_API_VERSION,
                &path.key("advertisementType"),
                "`advertisementType: Interface` is not part of `cilium.io/v2alpha1`: it exists only in `cilium.io/v2`",
            )
            .help = Some(
                "use `apiVersion: cilium.io/v2` (Cilium 1.18 and later); `cilium.io/v2alpha1` allows `PodCIDR`, `CiliumPodIPPool` and `Service`".to_owned(),
            );
        }
        if item.interface.is_some() {
            only_in_v2("interface", &path.key("interface"), cx);
        }
    }
}

pub fn check_node_config_override(config: &CiliumBGPNodeConfigOverride, cx: &mut CheckCx<'_>) {
    if !is_v2alpha1(cx.api_version) {
        return;
    }
    for (instance_index, instance) in config.spec.bgp_instances.iter().enumerate() {
        for (peer_index, peer) in instance.peers.iter().enumerate() {
            if peer.peer_interface.is_some() {
                let path = Path::root().key("spec").key("bgpInstances").index(instance_index).key("peers").index(peer_index).key("peerInterface");
                only_in_v2("peerInterface", &path, cx);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(text: &str) -> Vec<(&'static str, u32)> {
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text.to_owned());
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    fn cluster_config(version: &str, peer: &str) -> String {
        format!(
            "apiVersion: cilium.io/{version}\nkind: CiliumBGPClusterConfig\nmetadata:\n  name: c\nspec:\n  bgpInstances:\n  - name: i\n    localASN: 65001\n    peers:\n    - name: p\n{peer}"
        )
    }

    #[test]
    fn peer_config_ref_group_is_v2alpha1_only() {
        let peer = "      peerAddress: 10.0.0.1\n      peerConfigRef:\n        name: x\n        group: cilium.io\n";
        assert!(lint(&cluster_config("v2alpha1", peer)).is_empty());
        assert_eq!(lint(&cluster_config("v2", peer)), vec![("PLC5306", 14)]);
    }

    #[test]
    fn auto_discovery_is_v2_only() {
        let peer = "      autoDiscovery:\n        mode: DefaultGateway\n        defaultGateway: {addressFamily: ipv4}\n";
        assert!(lint(&cluster_config("v2", peer)).is_empty());
        assert!(lint(&cluster_config("v2alpha1", peer)).contains(&("PLC5306", 11)));
    }

    #[test]
    fn transport_fields_per_version() {
        let config = |version: &str, field: &str| {
            format!("apiVersion: cilium.io/{version}\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: p\nspec:\n  transport:\n    {field}\n")
        };
        assert!(lint(&config("v2alpha1", "localPort: 1790")).is_empty());
        assert_eq!(lint(&config("v2", "localPort: 1790")), vec![("PLC5306", 7)]);
        assert!(lint(&config("v2", "sourceInterface: lo")).is_empty());
        assert_eq!(lint(&config("v2alpha1", "sourceInterface: lo")), vec![("PLC5306", 7)]);
    }

    #[test]
    fn interface_advertisements_are_v2_only() {
        let advertisement = |version: &str| {
            format!(
                "apiVersion: cilium.io/{version}\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: Interface\n    interface:\n      name: lo\n"
            )
        };
        assert!(lint(&advertisement("v2")).is_empty());
        assert_eq!(lint(&advertisement("v2alpha1")), vec![("PLC5306", 7), ("PLC5306", 8)]);
    }

    #[test]
    fn override_peer_interface_is_v2_only() {
        let config = |version: &str| {
            format!(
                "apiVersion: cilium.io/{version}\nkind: CiliumBGPNodeConfigOverride\nmetadata:\n  name: node-1\nspec:\n  bgpInstances:\n  - name: i\n    peers:\n    - name: p\n      peerInterface: eth1\n"
            )
        };
        assert!(lint(&config("v2")).is_empty());
        assert_eq!(lint(&config("v2alpha1")), vec![("PLC5306", 10)]);
    }
}
