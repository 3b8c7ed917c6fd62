//! CiliumBGPNodeConfigOverrides that override nothing among the inputs.
//!
//! An override applies to the node with its name, and to the BGP instances and peers of the
//! same names in the CiliumBGPClusterConfigs that select that node. Names that match nothing
//! are accepted and silently have no effect. polc reports an instance (or peer) name that no
//! CiliumBGPClusterConfig among the inputs defines, when the inputs contain cluster configs.
//! (The node name is not checked against the inventory: examples and CI inputs are usually
//! linted with another cluster's inventory, or none.) Fix: correct the names.

use std::collections::{BTreeMap, BTreeSet};

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::kinds::Resource;
use crate::path::Path;
use crate::schema_check::did_you_mean;

code!(OVERRIDE_TARGET_NOT_FOUND, "PLC5309", "bgp-override-target-not-found", Warning, "a BGP node override names an instance or peer that no CiliumBGPClusterConfig defines",
"`spec.bgpInstances[].name` of a CiliumBGPNodeConfigOverride must be the name of an instance in a CiliumBGPClusterConfig, and `peers[].name` the name of a peer of that instance; otherwise the override applies to nothing.

polc reports this when the inputs contain CiliumBGPClusterConfigs but none defines the name.

Fix: use the instance and peer names of the cluster config.");

/// Reports override names that match no instance or peer among the inputs.
pub fn check(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let mut instances: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut cluster_configs = 0;
    for object in objects {
        if let Resource::CiliumBGPClusterConfig(config) = &object.resource {
            cluster_configs += 1;
            for instance in &config.spec.bgp_instances {
                instances.entry(instance.name.as_str()).or_default().extend(instance.peers.iter().map(|peer| peer.name.as_str()));
            }
        }
    }
    for object in objects {
        let Resource::CiliumBGPNodeConfigOverride(config) = &object.resource else { continue };
        if cluster_configs == 0 {
            continue;
        }
        for (instance_index, instance) in config.spec.bgp_instances.iter().enumerate() {
            let instance_path = Path::root().key("spec").key("bgpInstances").index(instance_index);
            let Some(peers) = instances.get(instance.name.as_str()) else {
                let help = match did_you_mean(&instance.name, instances.keys().copied()) {
                    Some(guess) => format!("did you mean `{guess}`?"),
                    None => format!("instances defined: {}", instances.keys().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")),
                };
                let message = format!("no CiliumBGPClusterConfig among the inputs has an instance named `{}`: this override applies to nothing", instance.name);
                diagnostics.push(object.diagnostic(&OVERRIDE_TARGET_NOT_FOUND, &instance_path.key("name"), message).with_help(help));
                continue;
            };
            for (peer_index, peer) in instance.peers.iter().enumerate() {
                if peers.contains(peer.name.as_str()) {
                    continue;
                }
                let help = match did_you_mean(&peer.name, peers.iter().copied()) {
                    Some(guess) => format!("did you mean `{guess}`?"),
                    None if peers.is_empty() => format!("instance `{}` has no peers", instance.name),
                    None => format!("peers of instance `{}`: {}", instance.name, peers.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")),
                };
                let message = format!("instance `{}` has no peer named `{}`: this peer override applies to nothing", instance.name, peer.name);
                diagnostics
                    .push(object.diagnostic(&OVERRIDE_TARGET_NOT_FOUND, &instance_path.key("peers").index(peer_index).key("name"), message).with_help(help));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    const CLUSTER: &str = "apiVersion: cilium.io/v2\nkind: CiliumBGPClusterConfig\nmetadata:\n  name: c\nspec:\n  bgpInstances:\n  - name: instance-65000\n    localASN: 65000\n    peers:\n    - name: tor1\n      peerAddress: 10.0.0.1\n";

    fn override_for(node: &str, instance: &str, peer: &str) -> String {
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumBGPNodeConfigOverride\nmetadata:\n  name: {node}\nspec:\n  bgpInstances:\n  - name: {instance}\n    localASN: 65010\n    peers:\n    - name: {peer}\n      localAddress: 10.0.0.2\n"
        )
    }

    fn lint(documents: &[String]) -> Vec<(&'static str, u32)> {
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", documents.join("---\n"));
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn matching_overrides_are_clean() {
        assert!(lint(&[CLUSTER.to_owned(), override_for("worker-1", "instance-65000", "tor1")]).is_empty());
        assert!(lint(&[override_for("worker-1", "anything", "tor9")]).is_empty());
    }

    #[test]
    fn unknown_instances_and_peers_warn() {
        assert_eq!(lint(&[CLUSTER.to_owned(), override_for("worker-1", "instance-65001", "tor1")]), vec![("PLC5309", 19)]);
        assert_eq!(lint(&[CLUSTER.to_owned(), override_for("worker-1", "instance-65000", "tor2")]), vec![("PLC5309", 22)]);
    }
}
