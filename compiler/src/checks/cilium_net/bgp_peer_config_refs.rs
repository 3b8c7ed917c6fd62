//! BGP v2 peers whose `peerConfigRef` names no CiliumBGPPeerConfig among the inputs.
//!
//! Cilium's operator sets the condition `cilium.io/MissingPeerConfigs` on a
//! CiliumBGPClusterConfig whose peers refer to peer configs that do not exist, and those peers
//! run with default settings (no advertisements at all). polc only knows the objects it is
//! given, so it reports a missing reference when the inputs contain at least one
//! CiliumBGPPeerConfig (the inputs then look like the whole BGP configuration) but none of that
//! name. Fix: correct the name, or add the CiliumBGPPeerConfig.

use std::collections::BTreeSet;

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::kinds::Resource;
use crate::path::Path;
use crate::schema_check::did_you_mean;

code!(PEER_CONFIG_NOT_FOUND, "PLC5301", "bgp-peer-config-not-found", Warning, "a BGP peer refers to a CiliumBGPPeerConfig that is not among the inputs",
"A CiliumBGPClusterConfig peer takes its timers, families and advertisements from the CiliumBGPPeerConfig named in `peerConfigRef.name`. When no such object exists, Cilium sets the condition `cilium.io/MissingPeerConfigs` on the cluster config, and the peer gets no advertisements.

polc reports this when the inputs contain CiliumBGPPeerConfigs but none with the name; with no CiliumBGPPeerConfig at all in the inputs it assumes they are applied separately.

Fix: correct `peerConfigRef.name`, or add the CiliumBGPPeerConfig to the inputs.");

/// Reports peer config references that match no CiliumBGPPeerConfig.
pub fn check(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let names: BTreeSet<&str> =
        objects.iter().filter(|object| matches!(object.resource, Resource::CiliumBGPPeerConfig(_))).map(|object| object.name()).collect();
    if names.is_empty() {
        return;
    }
    for object in objects {
        let Resource::CiliumBGPClusterConfig(config) = &object.resource else { continue };
        for (instance_index, instance) in config.spec.bgp_instances.iter().enumerate() {
            for (peer_index, peer) in instance.peers.iter().enumerate() {
                let Some(reference) = &peer.peer_config_ref else { continue };
                // A v2alpha1 reference may point at another kind: only CiliumBGPPeerConfig is known.
                let other_kind = reference.kind.as_deref().is_some_and(|kind| kind != "CiliumBGPPeerConfig")
                    || reference.group.as_deref().is_some_and(|group| group != "cilium.io");
                if other_kind || names.contains(reference.name.as_str()) {
                    continue;
                }
                let path = Path::root().key("spec").key("bgpInstances").index(instance_index).key("peers").index(peer_index).key("peerConfigRef").key("name");
                let message = format!(
                    "peer `{}` refers to CiliumBGPPeerConfig `{}`, which is not among the inputs (Cilium reports `cilium.io/MissingPeerConfigs`)",
                    peer.name, reference.name
                );
                let help = match did_you_mean(&reference.name, names.iter().copied()) {
                    Some(guess) => format!("did you mean `{guess}`?"),
                    None => format!("peer configs in the inputs: {}", names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")),
                };
                diagnostics.push(object.diagnostic(&PEER_CONFIG_NOT_FOUND, &path, message).with_help(help));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    const CLUSTER: &str = "apiVersion: cilium.io/v2\nkind: CiliumBGPClusterConfig\nmetadata:\n  name: c\nspec:\n  bgpInstances:\n  - name: i\n    localASN: 65001\n    peers:\n    - name: tor\n      peerAddress: 10.0.0.1\n      peerConfigRef:\n        name: cilium-peer\n";

    fn peer_config(name: &str) -> String {
        format!("apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: {name}\nspec: {{}}\n")
    }

    fn lint(documents: &[String]) -> Vec<(&'static str, u32, Option<String>)> {
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", documents.join("---\n"));
        parse(&sources, &Options::default())
            .diagnostics
            .iter()
            .map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line), d.help.clone()))
            .collect()
    }

    #[test]
    fn existing_or_absent_peer_configs_are_clean() {
        assert!(lint(&[CLUSTER.to_owned(), peer_config("cilium-peer")]).is_empty());
        assert!(lint(&[CLUSTER.to_owned()]).is_empty());
    }

    #[test]
    fn a_missing_peer_config_warns() {
        assert_eq!(lint(&[CLUSTER.to_owned(), peer_config("cilium-peers")]), vec![("PLC5301", 13, Some("did you mean `cilium-peers`?".to_owned()))]);
    }
}
