//! In a CiliumNetworkPolicy, `endpointSelector` always selects pods of the policy's own
//! namespace: Cilium replaces a namespace match naming another namespace (with a warning in
//! its log), so the rule applies somewhere else than the YAML says.
//!
//! Fix: create the policy in the namespace it is meant for, or use a
//! CiliumClusterwideNetworkPolicy to select pods of other namespaces.

use super::PolicyScope;
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::Rule;
use crate::model::meta::SelectorOperator;
use crate::path::Path;

code!(
    SUBJECT_NAMESPACE_OVERRIDDEN,
    "PLC3008",
    "subject-namespace-overridden",
    Warning,
    "a CiliumNetworkPolicy's `endpointSelector` names another namespace than the policy's own",
    "A CiliumNetworkPolicy only ever applies to pods in its own namespace. Cilium always adds `k8s:io.kubernetes.pod.namespace=<policy namespace>` to `endpointSelector` and drops a namespace match that names another namespace, so the policy does not select the pods the YAML names.

Example:
  metadata: {name: db, namespace: default}
  spec:
    endpointSelector:
      matchLabels: {app: db, io.kubernetes.pod.namespace: prod}   # selects app=db in `default`

Fix: create the policy in namespace `prod` (`metadata.namespace: prod`) and drop the namespace label, or use a CiliumClusterwideNetworkPolicy."
);

const NAMESPACE_KEYS: &[&str] = &["io.kubernetes.pod.namespace", "k8s:io.kubernetes.pod.namespace", "any:io.kubernetes.pod.namespace"];

pub(super) fn check(scope: &PolicyScope<'_>, rule: &Rule, at: &Path, cx: &mut CheckCx<'_>) {
    let (false, Some(namespace), Some(selector)) = (scope.clusterwide, scope.namespace, &rule.endpoint_selector) else { return };
    let selector_path = at.key("endpointSelector");
    let mut named: Vec<(Path, Vec<String>)> = Vec::new();
    for (key, value) in &selector.match_labels {
        if NAMESPACE_KEYS.contains(&key.as_str()) && value != namespace {
            named.push((selector_path.key("matchLabels").key(key.clone()), vec![value.clone()]));
        }
    }
    for (index, requirement) in selector.match_expressions.iter().enumerate() {
        if NAMESPACE_KEYS.contains(&requirement.key.as_str()) && requirement.operator == SelectorOperator::In && requirement.values != [namespace] {
            named.push((selector_path.key("matchExpressions").index(index), requirement.values.clone()));
        }
    }
    for (path, values) in named {
        let shown = values.iter().map(|value| format!("`{value}`")).collect::<Vec<_>>().join(", ");
        cx.report(
            &SUBJECT_NAMESPACE_OVERRIDDEN,
            &path,
            format!("this policy lives in namespace `{namespace}`, so it only selects pods there; the namespace match {shown} is replaced by Cilium"),
        )
        .help = Some(format!(
            "create the policy in the namespace it is meant for and drop this match, or use a CiliumClusterwideNetworkPolicy; as written it selects matching pods in `{namespace}`"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn other_namespace_in_subject_is_a_warning() {
        let text = cnp("  endpointSelector:\n    matchLabels:\n      app: db\n      k8s:io.kubernetes.pod.namespace: default\n  ingress: [{}]\n");
        assert_eq!(codes(&text), vec![("PLC3008", 10)]);
        let text = cnp(
            "  endpointSelector:\n    matchExpressions:\n    - {key: io.kubernetes.pod.namespace, operator: In, values: [prod, default]}\n  ingress: [{}]\n",
        );
        assert_eq!(codes(&text), vec![("PLC3008", 9)]);
    }

    #[test]
    fn own_namespace_in_subject_is_fine() {
        let text = cnp("  endpointSelector:\n    matchLabels:\n      io.kubernetes.pod.namespace: prod\n  ingress: [{}]\n");
        assert_eq!(codes(&text), vec![]);
    }
}
