//! Label selectors of a NetworkPolicy (`podSelector`, and `podSelector`/`namespaceSelector` of
//! each peer) must be valid Kubernetes selectors.
//!
//! Fix: correct the key or value the message names.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::k8s_policy::NetworkPolicySpec;
use crate::model::meta::LabelSelector;
use crate::path::Path;

use super::syntax::selector_problems;

code!(
    INVALID_LABEL_SELECTOR,
    "PLC3502",
    "network-policy-invalid-label-selector",
    Error,
    "a label selector of a NetworkPolicy is not valid",
    "The API server validates every selector of a NetworkPolicy: keys are label keys (`[prefix/]name`), values are at most 63 characters of letters, digits, `-`, `_` and `.` starting and ending with a letter or digit, `In` and `NotIn` need values and `Exists`/`DoesNotExist` take none.

Example:
  podSelector:
    matchExpressions:
    - {key: app, operator: Exists, values: [web]}

Fix: correct the selector as the message says."
);

fn add_peers<'s>(
    selectors: &mut Vec<(Path, &'s LabelSelector)>,
    rule_path: Path,
    field: &str,
    peers: Option<&'s [crate::model::k8s_policy::NetworkPolicyPeer]>,
) {
    for (peer_index, peer) in peers.unwrap_or_default().iter().enumerate() {
        let peer_path = rule_path.key(field).index(peer_index);
        if let Some(selector) = &peer.pod_selector {
            selectors.push((peer_path.key("podSelector"), selector));
        }
        if let Some(selector) = &peer.namespace_selector {
            selectors.push((peer_path.key("namespaceSelector"), selector));
        }
    }
}

pub(super) fn check(spec: &NetworkPolicySpec, cx: &mut CheckCx<'_>) {
    let at = Path::root().key("spec");
    let mut selectors: Vec<(Path, &LabelSelector)> = Vec::new();
    if let Some(selector) = &spec.pod_selector {
        selectors.push((at.key("podSelector"), selector));
    }
    for (index, rule) in spec.ingress().iter().enumerate() {
        add_peers(&mut selectors, at.key("ingress").index(index), "from", rule.from.as_deref());
    }
    for (index, rule) in spec.egress().iter().enumerate() {
        add_peers(&mut selectors, at.key("egress").index(index), "to", rule.to.as_deref());
    }
    for (path, selector) in selectors {
        for problem in selector_problems(selector, false) {
            cx.report(&INVALID_LABEL_SELECTOR, &path.join(&problem.path), problem.message).help = problem.help;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{codes, netpol};

    #[test]
    fn invalid_selectors_are_errors() {
        let text = netpol(
            "  podSelector:\n    matchExpressions:\n    - {key: app, operator: Exists, values: [web]}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          k8s:team: a\n",
        );
        assert_eq!(codes(&text), vec![("PLC3502", 9), ("PLC3502", 14)]);
    }

    #[test]
    fn valid_selectors_are_fine() {
        let text = netpol(
            "  podSelector:\n    matchLabels: {app: web}\n  ingress:\n  - from:\n    - namespaceSelector:\n        matchLabels:\n          kubernetes.io/metadata.name: prod\n",
        );
        assert_eq!(codes(&text), vec![]);
    }
}
