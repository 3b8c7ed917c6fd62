//! Label selectors that cannot be turned into a selector.
//!
//! Cilium converts every selector of these kinds with the Kubernetes rules: label keys are
//! qualified names (`[prefix/]name`), `In` and `NotIn` need at least one value, `Exists` and
//! `DoesNotExist` take none, and values are label values. A selector that breaks a rule makes
//! the conversion fail: an L2 policy gets the condition `io.cilium/bad-node-selector` or
//! `io.cilium/bad-service-selector` and is ignored, and the BGP and LB-IPAM controllers skip
//! the object. Fix: correct the key, operator or values the message names.

use std::sync::OnceLock;

use regex::Regex;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumLabelSelector;
use crate::model::meta::SelectorOperator;
use crate::path::Path;

code!(BAD_LABEL_SELECTOR, "PLC5901", "bad-label-selector", Error, "a label selector breaks the Kubernetes selector rules",
"A label selector is converted with the Kubernetes rules before it selects anything:
- keys are qualified names: an optional DNS subdomain prefix and `/`, then a name of at most 63 letters, digits, `-`, `_` and `.`;
- `In` and `NotIn` need at least one value; `Exists` and `DoesNotExist` take no values;
- values are label values (at most 63 characters).

Cilium cannot use a selector that breaks them: an L2 announcement policy gets the status condition `io.cilium/bad-node-selector` or `io.cilium/bad-service-selector` and announces nothing; the BGP and LB-IPAM controllers skip the object.

Example:
  matchExpressions:
  - {key: color, operator: In}        # In needs values

Fix: add or remove values to fit the operator, or correct the key.");

fn name_regex() -> &'static Regex {
    static NAME: OnceLock<Regex> = OnceLock::new();
    NAME.get_or_init(|| Regex::new(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$").expect("valid regex"))
}

fn prefix_regex() -> &'static Regex {
    static PREFIX: OnceLock<Regex> = OnceLock::new();
    PREFIX.get_or_init(|| Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$").expect("valid regex"))
}

/// Why `key` is not a qualified name, if it is not.
pub fn label_key_problem(key: &str) -> Option<String> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || prefix.len() > 253 || !prefix_regex().is_match(prefix))
    {
        return Some(format!("the prefix `{prefix}` is not a lower-case DNS subdomain"));
    }
    if name.is_empty() {
        return Some("the name part is empty".to_owned());
    }
    if name.len() > 63 {
        return Some(format!("the name part has {} characters, at most 63 allowed", name.len()));
    }
    if !name_regex().is_match(name) {
        return Some(format!("the name `{name}` must consist of letters, digits, `-`, `_` and `.`, and begin and end with a letter or digit"));
    }
    None
}

/// Why `value` is not a label value, if it is not.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.len() > 63 {
        return Some(format!("it has {} characters, at most 63 allowed", value.len()));
    }
    if !value.is_empty() && !name_regex().is_match(value) {
        return Some("a label value consists of letters, digits, `-`, `_` and `.`, and begins and ends with a letter or digit".to_owned());
    }
    None
}

/// Checks the selector at `path` (a path such as `spec.nodeSelector`), when there is one.
pub fn check_optional(selector: Option<&CiliumLabelSelector>, path: &str, cx: &mut CheckCx<'_>) {
    if let Some(selector) = selector {
        check(selector, &Path::parse(path), cx);
    }
}

/// Reports every broken key, operator and value of `selector`.
pub fn check(selector: &CiliumLabelSelector, path: &Path, cx: &mut CheckCx<'_>) {
    for key in selector.match_labels.keys() {
        if let Some(problem) = label_key_problem(key) {
            cx.report_key(&BAD_LABEL_SELECTOR, &path.key("matchLabels").key(key.clone()), format!("`{key}` is not a valid label key: {problem}")).help =
                Some("a label key is `name` or `prefix/name`, such as `app` or `app.kubernetes.io/name`".to_owned());
        }
    }
    for (index, requirement) in selector.match_expressions.iter().enumerate() {
        let item = path.key("matchExpressions").index(index);
        if let Some(problem) = label_key_problem(&requirement.key) {
            cx.report(&BAD_LABEL_SELECTOR, &item.key("key"), format!("`{}` is not a valid label key: {problem}", requirement.key)).help =
                Some("a label key is `name` or `prefix/name`, such as `app` or `app.kubernetes.io/name`".to_owned());
        }
        let operator = match requirement.operator {
            SelectorOperator::In => "In",
            SelectorOperator::NotIn => "NotIn",
            SelectorOperator::Exists => "Exists",
            SelectorOperator::DoesNotExist => "DoesNotExist",
        };
        match requirement.operator {
            SelectorOperator::In | SelectorOperator::NotIn if requirement.values.is_empty() => {
                cx.report(&BAD_LABEL_SELECTOR, &item.key("operator"), format!("operator `{operator}` needs at least one value")).help = Some(format!(
                    "add `values: [...]`, or use `{}` to test only whether the label is set",
                    if operator == "In" { "Exists" } else { "DoesNotExist" }
                ));
            }
            SelectorOperator::Exists | SelectorOperator::DoesNotExist if !requirement.values.is_empty() => {
                cx.report(&BAD_LABEL_SELECTOR, &item.key("values"), format!("operator `{operator}` takes no values")).help =
                    Some(format!("remove `values`, or use `{}` to compare the label with the values", if operator == "Exists" { "In" } else { "NotIn" }));
            }
            _ => {
                for (value_index, value) in requirement.values.iter().enumerate() {
                    if let Some(problem) = label_value_problem(value) {
                        cx.report(&BAD_LABEL_SELECTOR, &item.key("values").index(value_index), format!("`{value}` is not a valid label value: {problem}"));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{label_key_problem, label_value_problem};
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    #[test]
    fn keys_and_values() {
        for key in ["app", "app.kubernetes.io/name", "node-role.kubernetes.io/control-plane", "io.kubernetes.service.namespace", "a_b.c-d"] {
            assert_eq!(label_key_problem(key), None, "{key}");
        }
        for key in ["", "-app", "App.Example.COM/name", "/name", "a/", &"x".repeat(64)] {
            assert!(label_key_problem(key).is_some(), "{key}");
        }
        assert_eq!(label_value_problem(""), None);
        assert_eq!(label_value_problem("never-used-value"), None);
        assert!(label_value_problem("a b").is_some());
    }

    fn lint(selector: &str) -> Vec<(&'static str, u32)> {
        let text = format!(
            "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: pool\nspec:\n  blocks:\n  - cidr: 10.0.0.0/24\n  serviceSelector:\n{selector}"
        );
        let mut sources = SourceMap::default();
        sources.add("pool.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn valid_selectors_are_clean() {
        assert!(lint("    matchLabels:\n      color: blue\n    matchExpressions:\n    - {key: tier, operator: In, values: [web, api]}\n    - {key: legacy, operator: DoesNotExist}\n").is_empty());
    }

    #[test]
    fn broken_selectors_are_errors() {
        let found = lint(
            "    matchLabels:\n      bad key: x\n    matchExpressions:\n    - {key: tier, operator: In}\n    - {key: legacy, operator: Exists, values: [yes-really]}\n    - {key: tier, operator: NotIn, values: [\"a b\"]}\n",
        );
        assert_eq!(found, vec![("PLC5901", 10), ("PLC5901", 12), ("PLC5901", 13), ("PLC5901", 14)]);
    }
}
