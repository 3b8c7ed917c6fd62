//! `toFQDNs` only learns addresses from DNS lookups that Cilium's DNS proxy sees, and the proxy
//! only sees lookups that an egress DNS rule (`rules.dns`) sends to it. A policy set with
//! `toFQDNs` but no DNS rule for those pods allows nothing by name.
//!
//! Fix: add an egress rule to the cluster DNS with `rules: {dns: [{matchPattern: "*"}]}` for the
//! same pods (in this policy, or in another one of the same namespace or a clusterwide one).

use std::collections::BTreeSet;

use super::rules_with_paths;
use crate::checks::location_in;
use crate::codes::code;
use crate::diag::Diagnostic;
use crate::diag::{Code, Severity};
use crate::frontend::Object;
use crate::kinds::Resource;
use crate::model::cilium_policy::Rule;
use crate::path::Path;

code!(
    TO_FQDNS_WITHOUT_DNS_RULE,
    "PLC3071",
    "to-fqdns-without-dns-rule",
    Warning,
    "`toFQDNs` is used, but no policy has a DNS rule that lets Cilium see the lookups",
    "Cilium learns which addresses a name stands for by watching the DNS answers that pass through its DNS proxy. Lookups only go through the proxy when an egress rule of the same pods has DNS rules (`rules: {dns: [...]}`) on port 53. Without one, `toFQDNs` never learns an address and allows nothing, and with default-deny egress the lookups themselves are dropped.

Example:
  egress:
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]

Fix: add an egress rule to the cluster DNS with DNS rules:
  - toEndpoints:
    - matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s:k8s-app: kube-dns}
    toPorts:
    - ports: [{port: \"53\", protocol: ANY}]
      rules: {dns: [{matchPattern: \"*\"}]}

polc looks for DNS rules in every CiliumNetworkPolicy of the same namespace and every CiliumClusterwideNetworkPolicy among its inputs."
);

fn rules_of(resource: &Resource) -> Option<(Option<&Rule>, Option<&[Rule]>)> {
    match resource {
        Resource::CiliumNetworkPolicy(policy) => Some((policy.spec.as_ref(), policy.specs.as_deref())),
        Resource::CiliumClusterwideNetworkPolicy(policy) => Some((policy.spec.as_ref(), policy.specs.as_deref())),
        _ => None,
    }
}

fn has_dns_rule(spec: Option<&Rule>, specs: Option<&[Rule]>) -> bool {
    rules_with_paths(spec, specs).iter().any(|(_, rule)| {
        rule.egress().iter().any(|egress| {
            egress.to_ports.iter().flatten().any(|port_rule| port_rule.rules.as_ref().and_then(|rules| rules.dns.as_ref()).is_some_and(|dns| !dns.is_empty()))
        })
    })
}

/// The path of the first non-empty `toFQDNs` of a policy.
fn first_to_fqdns(spec: Option<&Rule>, specs: Option<&[Rule]>) -> Option<Path> {
    for (at, rule) in rules_with_paths(spec, specs) {
        for (index, egress) in rule.egress().iter().enumerate() {
            if egress.to_fqdns.as_ref().is_some_and(|list| !list.is_empty()) {
                return Some(at.key("egress").index(index).key("toFQDNs"));
            }
        }
    }
    None
}

pub(super) fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let mut clusterwide_dns = false;
    // A CiliumNetworkPolicy without a namespace lands in `default` (kubectl's default context).
    let namespace_of = |object: &'_ Object| object.namespace().unwrap_or("default").to_owned();
    let mut namespaces_with_dns: BTreeSet<String> = BTreeSet::new();
    for object in objects {
        let Some((spec, specs)) = rules_of(&object.resource) else { continue };
        if has_dns_rule(spec, specs) {
            match object.resource {
                Resource::CiliumClusterwideNetworkPolicy(_) => clusterwide_dns = true,
                _ => {
                    namespaces_with_dns.insert(namespace_of(object));
                }
            }
        }
    }
    for object in objects {
        let Some((spec, specs)) = rules_of(&object.resource) else { continue };
        let Some(path) = first_to_fqdns(spec, specs) else { continue };
        let covered = match object.resource {
            Resource::CiliumClusterwideNetworkPolicy(_) => clusterwide_dns || !namespaces_with_dns.is_empty(),
            _ => clusterwide_dns || namespaces_with_dns.contains(&namespace_of(object)),
        };
        if covered {
            continue;
        }
        let location = location_in(object.source, object.document, &object.base, &object.node, &path, true);
        diagnostics.push(
            Diagnostic::new(
                &TO_FQDNS_WITHOUT_DNS_RULE,
                format!("`{}` uses `toFQDNs`, but no policy has a DNS rule, so Cilium never learns the addresses", object.name()),
            )
            .at(location)
            .with_help("add an egress rule to the cluster DNS on port 53 with `rules: {dns: [{matchPattern: \"*\"}]}` for the same pods"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn to_fqdns_without_dns_rule_is_a_warning() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toFQDNs: [{matchName: example.com}]\n");
        assert_eq!(codes(&text), vec![("PLC3071", 9)]);
    }

    #[test]
    fn dns_rule_in_another_policy_of_the_namespace_is_enough() {
        let fqdn = cnp("  endpointSelector: {}\n  egress:\n  - toFQDNs: [{matchName: example.com}]\n");
        let dns = cnp(
            "  endpointSelector: {}\n  egress:\n  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system}}]\n    toPorts: [{ports: [{port: \"53\", protocol: ANY}], rules: {dns: [{matchPattern: \"*\"}]}}]\n",
        );
        let text = format!("{fqdn}---\n{}", dns.replace("name: test", "name: dns"));
        assert_eq!(codes(&text), vec![]);
    }
}
