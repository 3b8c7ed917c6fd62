//! Every example under `policies/examples/cilium-policy/` and `policies/examples/network-policy/`
//! lints with no error and no warning, alone and together with the sample cluster inventory.

use std::path::{Path, PathBuf};

use polc_compiler::frontend::{Options, parse};
use polc_compiler::kinds::Resource;
use polc_compiler::source::SourceMap;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples")
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml"))
        .collect();
    paths.sort();
    paths
}

fn policy_examples() -> Vec<PathBuf> {
    let mut paths = yaml_files(&examples_dir().join("cilium-policy"));
    paths.extend(yaml_files(&examples_dir().join("network-policy")));
    paths
}

fn sources_of(paths: &[PathBuf]) -> SourceMap {
    let mut sources = SourceMap::default();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        sources.add(path.display().to_string(), text);
    }
    sources
}

#[test]
fn each_example_is_clean_on_its_own() {
    let paths = policy_examples();
    assert!(paths.len() >= 30, "expected the policy examples, found {}", paths.len());
    for path in &paths {
        let parsed = parse(&sources_of(std::slice::from_ref(path)), &Options::default());
        let findings: Vec<String> = parsed.diagnostics.iter().map(|d| format!("{} {}", d.code.id, d.message)).collect();
        assert!(findings.is_empty(), "{}: {findings:#?}", path.display());
        assert!(!parsed.objects.is_empty(), "{}: no object decoded", path.display());
    }
}

#[test]
fn examples_with_the_inventory_are_clean() {
    let mut paths = policy_examples();
    paths.extend(yaml_files(&examples_dir().join("inventory")));
    let parsed = parse(&sources_of(&paths), &Options::default());
    let findings: Vec<String> = parsed.diagnostics.iter().map(|d| format!("{:?} {} {}", d.location, d.code.id, d.message)).collect();
    assert!(findings.is_empty(), "{findings:#?}");
    let count = |kind: &str| parsed.objects.iter().filter(|object| object.kind() == kind).count();
    assert!(count("CiliumNetworkPolicy") >= 20, "{}", count("CiliumNetworkPolicy"));
    assert!(count("CiliumClusterwideNetworkPolicy") >= 4, "{}", count("CiliumClusterwideNetworkPolicy"));
    assert!(count("NetworkPolicy") >= 8, "{}", count("NetworkPolicy"));
}

/// The examples cover every feature of the models: each feature named here appears in at least
/// one decoded example.
#[test]
fn examples_cover_every_feature() {
    let parsed = parse(&sources_of(&policy_examples()), &Options::default());
    let mut features = std::collections::BTreeSet::new();
    for object in &parsed.objects {
        let rules: Vec<&polc_compiler::model::cilium_policy::Rule> = match &object.resource {
            Resource::CiliumNetworkPolicy(policy) => policy.rules().collect(),
            Resource::CiliumClusterwideNetworkPolicy(policy) => policy.rules().collect(),
            Resource::NetworkPolicy(policy) => {
                let spec = &policy.spec;
                if spec.policy_types.is_some() {
                    features.insert("np:policyTypes");
                }
                for rule in spec.ingress() {
                    if rule.from.is_none() {
                        features.insert("np:allow-all-ingress");
                    }
                }
                for rule in spec.egress() {
                    for peer in rule.to.iter().flatten() {
                        if peer.ip_block.as_ref().is_some_and(|block| block.except.is_some()) {
                            features.insert("np:ipBlock-except");
                        }
                        if peer.namespace_selector.is_some() && peer.pod_selector.is_some() {
                            features.insert("np:namespace-and-pod-selector");
                        }
                    }
                    for port in rule.ports.iter().flatten() {
                        if port.end_port.is_some() {
                            features.insert("np:endPort");
                        }
                    }
                }
                for rule in spec.ingress() {
                    for port in rule.ports.iter().flatten() {
                        if matches!(port.port, Some(polc_compiler::model::k8s_policy::IntOrString::String(_))) {
                            features.insert("np:named-port");
                        }
                    }
                }
                Vec::new()
            }
            _ => Vec::new(),
        };
        if matches!(object.resource, Resource::CiliumClusterwideNetworkPolicy(_)) {
            features.insert("ccnp");
        }
        for rule in rules {
            if rule.node_selector.is_some() {
                features.insert("nodeSelector");
            }
            if rule.enable_default_deny.is_some() {
                features.insert("enableDefaultDeny");
            }
            if rule.log.is_some() {
                features.insert("log");
            }
            if rule.labels.is_some() {
                features.insert("labels");
            }
            if !rule.ingress_deny().is_empty() {
                features.insert("ingressDeny");
            }
            if !rule.egress_deny().is_empty() {
                features.insert("egressDeny");
            }
            for ingress in rule.ingress() {
                if ingress.from_entities.is_some() {
                    features.insert("fromEntities");
                }
                if ingress.from_cidr.is_some() {
                    features.insert("fromCIDR");
                }
                if ingress.authentication.is_some() {
                    features.insert("authentication");
                }
                if ingress.icmps.is_some() {
                    features.insert("icmps");
                }
                for port_rule in ingress.to_ports.iter().flatten() {
                    if port_rule.rules.as_ref().is_some_and(|rules| rules.http.is_some()) {
                        features.insert("http");
                    }
                }
            }
            for egress in rule.egress() {
                if egress.to_cidr_set.iter().flatten().any(|set| set.except.is_some()) {
                    features.insert("toCIDRSet-except");
                }
                if egress.to_services.is_some() {
                    features.insert("toServices");
                }
                if egress.to_fqdns.is_some() {
                    features.insert("toFQDNs");
                }
                if egress.to_entities.is_some() {
                    features.insert("toEntities");
                }
                for port_rule in egress.to_ports.iter().flatten() {
                    if port_rule.rules.as_ref().is_some_and(|rules| rules.dns.is_some()) {
                        features.insert("dns");
                    }
                    if port_rule.ports().iter().any(|port| port.end_port.is_some()) {
                        features.insert("endPort");
                    }
                }
            }
        }
    }
    for feature in [
        "ccnp",
        "nodeSelector",
        "enableDefaultDeny",
        "log",
        "labels",
        "ingressDeny",
        "egressDeny",
        "fromEntities",
        "fromCIDR",
        "authentication",
        "icmps",
        "http",
        "toCIDRSet-except",
        "toServices",
        "toFQDNs",
        "toEntities",
        "dns",
        "endPort",
        "np:policyTypes",
        "np:allow-all-ingress",
        "np:ipBlock-except",
        "np:namespace-and-pod-selector",
        "np:endPort",
        "np:named-port",
    ] {
        assert!(features.contains(feature), "no example uses {feature}");
    }
}
