//! Label selectors of a Cilium rule must be valid: keys are label keys with an optional source
//! (`k8s:app`), values are label values, `In`/`NotIn` need values and `Exists`/`DoesNotExist`
//! take none. Cilium's sanitizer refuses the whole policy otherwise.
//!
//! Fix: correct the key or value the message names.

use super::elements_of;
use crate::checks::CheckCx;
use crate::checks::k8s_policy::syntax::selector_problems;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::Rule;
use crate::path::Path;

code!(
    INVALID_LABEL_SELECTOR,
    "PLC3009",
    "invalid-label-selector",
    Error,
    "a label selector of a Cilium policy is not valid",
    "Cilium validates every selector of a rule (subject and peers) like Kubernetes does, with one addition: a key may start with a label source and `:` (`k8s:app`, `reserved:host`, `any:team`). Label values are at most 63 characters of letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit. `In` and `NotIn` need at least one value; `Exists` and `DoesNotExist` take none. One invalid selector makes Cilium refuse the whole policy.

Example:
  endpointSelector:
    matchExpressions:
    - {key: app, operator: In}        # no values

Fix: correct the selector as the message says."
);

pub(super) fn check(rule: &Rule, at: &Path, cx: &mut CheckCx<'_>) {
    let mut selectors = Vec::new();
    if let Some(selector) = &rule.endpoint_selector {
        selectors.push((at.key("endpointSelector"), selector));
    }
    if let Some(selector) = &rule.node_selector {
        selectors.push((at.key("nodeSelector"), selector));
    }
    for element in elements_of(rule, at) {
        selectors.extend(element.selectors());
    }
    for (path, selector) in selectors {
        for problem in selector_problems(selector, true) {
            let diagnostic = cx.report(&INVALID_LABEL_SELECTOR, &path.join(&problem.path), problem.message);
            diagnostic.help = problem.help;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn invalid_selectors_are_errors() {
        let text = cnp(
            "  endpointSelector:\n    matchExpressions:\n    - {key: app, operator: In}\n  ingress:\n  - fromEndpoints:\n    - matchLabels:\n        app: -bad\n",
        );
        assert_eq!(codes(&text), vec![("PLC3009", 9), ("PLC3009", 13)]);
    }

    #[test]
    fn selectors_with_sources_are_fine() {
        let text = cnp(
            "  endpointSelector:\n    matchLabels:\n      k8s:app: web\n  ingress:\n  - fromEndpoints:\n    - matchExpressions:\n      - {key: reserved:host, operator: Exists}\n",
        );
        assert_eq!(codes(&text), vec![]);
    }
}
