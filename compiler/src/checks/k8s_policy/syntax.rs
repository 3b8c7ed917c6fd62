//! Kubernetes syntax rules shared by the policy checks: label keys and values, label
//! selectors, port names (IANA service names) and CIDR prefixes.
//!
//! Each function returns what is wrong in plain words, or nothing; the calling check decides
//! the code and the location.

use std::net::IpAddr;

use crate::model::meta::{LabelSelector, SelectorOperator};
use crate::path::Path;

/// Why `name` is not a DNS-1123 subdomain (a label-key prefix), if it is not one.
fn dns_subdomain_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the prefix before `/` is empty".to_owned());
    }
    if name.len() > 253 {
        return Some(format!("the prefix before `/` is {} characters long, at most 253 allowed", name.len()));
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if !name.split('.').all(label_ok) {
        return Some(format!("the prefix `{name}` must be a DNS subdomain: lower-case letters, digits, `-` and `.`"));
    }
    None
}

/// Why `name` is not the name part of a qualified name, if it is not one.
fn qualified_name_part_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("the name is empty".to_owned());
    }
    if name.len() > 63 {
        return Some(format!("the name `{name}` is {} characters long, at most 63 allowed", name.len()));
    }
    let bytes = name.as_bytes();
    let alphanumeric = |b: u8| b.is_ascii_alphanumeric();
    if !alphanumeric(bytes[0]) || !alphanumeric(bytes[bytes.len() - 1]) || !bytes.iter().all(|&b| alphanumeric(b) || matches!(b, b'-' | b'_' | b'.')) {
        return Some(format!("the name `{name}` must consist of letters, digits, `-`, `_` and `.`, and start and end with a letter or digit"));
    }
    None
}

/// Why `key` is not a valid Kubernetes label key (`[prefix/]name`), if it is not one.
pub fn label_key_problem(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('/').collect();
    match parts.as_slice() {
        [name] => qualified_name_part_problem(name),
        [prefix, name] => dns_subdomain_problem(prefix).or_else(|| qualified_name_part_problem(name)),
        _ => Some("a label key has at most one `/`".to_owned()),
    }
}

/// Why `key` is not a valid Cilium label key (`[source:][prefix/]name`), if it is not one.
pub fn cilium_label_key_problem(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split(':').collect();
    match parts.as_slice() {
        [key] => label_key_problem(key),
        [source, key] => {
            if source.is_empty() || !source.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Some(format!("the label source `{source}` before `:` must be letters and digits (`k8s`, `reserved`, `any`...)"))
            } else {
                label_key_problem(key)
            }
        }
        _ => Some("a label key has at most one `:`, after the source (`k8s:app`)".to_owned()),
    }
}

/// Why `value` is not a valid label value, if it is not one.
pub fn label_value_problem(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    if value.len() > 63 {
        return Some(format!("the value is {} characters long, at most 63 allowed", value.len()));
    }
    let bytes = value.as_bytes();
    let alphanumeric = |b: u8| b.is_ascii_alphanumeric();
    if !alphanumeric(bytes[0]) || !alphanumeric(bytes[bytes.len() - 1]) || !bytes.iter().all(|&b| alphanumeric(b) || matches!(b, b'-' | b'_' | b'.')) {
        return Some("a label value consists of letters, digits, `-`, `_` and `.`, and starts and ends with a letter or digit".to_owned());
    }
    None
}

/// The template hint for a value that holds `{{`.
fn template_help(value: &str) -> Option<String> {
    value.contains("{{").then(|| crate::schema_check::TEMPLATE_HELP.to_owned())
}

/// One problem found in a label selector: where (relative to the selector) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorProblem {
    pub path: Path,
    pub message: String,
    pub help: Option<String>,
}

/// Every problem of `selector`. With `cilium`, keys may carry a label source (`k8s:app`).
pub fn selector_problems(selector: &LabelSelector, cilium: bool) -> Vec<SelectorProblem> {
    let mut problems = Vec::new();
    let key_problem = |key: &str| if cilium { cilium_label_key_problem(key) } else { label_key_problem(key) };
    for (key, value) in &selector.match_labels {
        let at = Path::root().key("matchLabels").key(key.clone());
        if let Some(problem) = key_problem(key) {
            problems.push(SelectorProblem { path: at.clone(), message: format!("`{key}` is not a valid label key: {problem}"), help: None });
        }
        if let Some(problem) = label_value_problem(value) {
            problems.push(SelectorProblem {
                path: at,
                message: format!("`{value}` is not a valid label value for `{key}`: {problem}"),
                help: template_help(value),
            });
        }
    }
    for (index, requirement) in selector.match_expressions.iter().enumerate() {
        let at = Path::root().key("matchExpressions").index(index);
        if let Some(problem) = key_problem(&requirement.key) {
            problems.push(SelectorProblem { path: at.key("key"), message: format!("`{}` is not a valid label key: {problem}", requirement.key), help: None });
        }
        match requirement.operator {
            SelectorOperator::In | SelectorOperator::NotIn if requirement.values.is_empty() => {
                let operator = if requirement.operator == SelectorOperator::In { "In" } else { "NotIn" };
                problems.push(SelectorProblem {
                    path: at.key("operator"),
                    message: format!("operator `{operator}` needs at least one value in `values`"),
                    help: Some(format!("list the values of `{}` to match, or use `Exists`/`DoesNotExist`", requirement.key)),
                });
            }
            SelectorOperator::Exists | SelectorOperator::DoesNotExist if !requirement.values.is_empty() => {
                let operator = if requirement.operator == SelectorOperator::Exists { "Exists" } else { "DoesNotExist" };
                problems.push(SelectorProblem {
                    path: at.key("values"),
                    message: format!("operator `{operator}` takes no `values`"),
                    help: Some("remove `values`, or use `In`/`NotIn` to match values".to_owned()),
                });
            }
            _ => {}
        }
        for (value_index, value) in requirement.values.iter().enumerate() {
            if let Some(problem) = label_value_problem(value) {
                problems.push(SelectorProblem {
                    path: at.key("values").index(value_index),
                    message: format!("`{value}` is not a valid label value for `{}`: {problem}", requirement.key),
                    help: template_help(value),
                });
            }
        }
    }
    problems
}

/// Why `name` is not a valid port name (an IANA service name), if it is not one. With
/// `allow_upper_case`, capital letters are accepted (Cilium lower-cases port names).
pub fn port_name_problem(name: &str, allow_upper_case: bool) -> Option<String> {
    if name.is_empty() {
        return Some("a port name cannot be empty".to_owned());
    }
    if name.len() > 15 {
        return Some(format!("a port name has at most 15 characters, `{name}` has {}", name.len()));
    }
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (allow_upper_case && b.is_ascii_uppercase());
    if let Some(bad) = name.bytes().find(|&b| !allowed(b)) {
        let shown = bad as char;
        return Some(if shown.is_ascii_uppercase() {
            format!("a port name is lower-case; `{name}` has `{shown}`")
        } else {
            format!("a port name consists of letters, digits and `-`; `{name}` has `{shown}`")
        });
    }
    if !name.bytes().any(|b| b.is_ascii_alphabetic()) {
        return Some("a port name needs at least one letter".to_owned());
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("a port name cannot start or end with `-`".to_owned());
    }
    if name.contains("--") {
        return Some("a port name cannot contain `--`".to_owned());
    }
    None
}

/// A parsed CIDR prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix {
    pub address: IpAddr,
    pub length: u8,
}

impl Prefix {
    /// Parses `a.b.c.d/n` or `x::y/n`.
    pub fn parse(text: &str) -> Option<Prefix> {
        crate::schema_check::parse_cidr(text).map(|(address, length)| Prefix { address, length })
    }

    fn bits(&self) -> u128 {
        match self.address {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        }
    }

    fn width(&self) -> u8 {
        if self.address.is_ipv4() { 32 } else { 128 }
    }

    fn mask(&self) -> u128 {
        let width = u32::from(self.width());
        let host_bits = width - u32::from(self.length);
        let all: u128 = if width == 128 { u128::MAX } else { (1u128 << width) - 1 };
        if host_bits >= 128 { 0 } else { all & !((1u128 << host_bits).wrapping_sub(1)) }
    }

    pub fn same_family(&self, other: &Prefix) -> bool {
        self.address.is_ipv4() == other.address.is_ipv4()
    }

    /// Whether `other` lies inside this prefix (same family, at least as long, same network bits).
    pub fn contains(&self, other: &Prefix) -> bool {
        self.same_family(other) && other.length >= self.length && (other.bits() & self.mask()) == (self.bits() & self.mask())
    }

    /// The prefix with its host bits cleared, when any were set.
    pub fn canonical_if_different(&self) -> Option<String> {
        let network = self.bits() & self.mask();
        if network == self.bits() {
            return None;
        }
        let address = match self.address {
            IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(network as u32)),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(network)),
        };
        Some(format!("{address}/{}", self.length))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys() {
        assert_eq!(label_key_problem("app"), None);
        assert_eq!(label_key_problem("app.kubernetes.io/name"), None);
        assert_eq!(label_key_problem("io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"), None);
        assert!(label_key_problem("-app").is_some());
        assert!(label_key_problem("a/b/c").is_some());
        assert!(label_key_problem("Example.com/app").is_some());
        assert_eq!(cilium_label_key_problem("k8s:io.kubernetes.pod.namespace"), None);
        assert_eq!(cilium_label_key_problem("reserved:host"), None);
        assert_eq!(cilium_label_key_problem("cidr:10.0.0.0/8"), None);
        assert!(cilium_label_key_problem("k-8s:app").is_some());
        assert!(cilium_label_key_problem("a:b:c").is_some());
    }

    #[test]
    fn label_values() {
        assert_eq!(label_value_problem(""), None);
        assert_eq!(label_value_problem("front-end_1.0"), None);
        assert!(label_value_problem("-x").is_some());
        assert!(label_value_problem("a b").is_some());
        assert!(label_value_problem(&"x".repeat(64)).is_some());
    }

    #[test]
    fn port_names() {
        assert_eq!(port_name_problem("http", false), None);
        assert_eq!(port_name_problem("dns-tcp", false), None);
        assert!(port_name_problem("80", false).is_some());
        assert!(port_name_problem("http--alt", false).is_some());
        assert!(port_name_problem("-http", false).is_some());
        assert!(port_name_problem("http-", false).is_some());
        assert!(port_name_problem("a-very-long-port-name", false).is_some());
        assert!(port_name_problem("HTTP", false).is_some());
        assert_eq!(port_name_problem("HTTP", true), None);
        assert!(port_name_problem("http_alt", true).is_some());
    }

    #[test]
    fn prefixes() {
        let outer = Prefix::parse("10.0.0.0/8").unwrap();
        assert!(outer.contains(&Prefix::parse("10.1.0.0/16").unwrap()));
        assert!(outer.contains(&outer));
        assert!(!outer.contains(&Prefix::parse("11.0.0.0/16").unwrap()));
        assert!(!outer.contains(&Prefix::parse("0.0.0.0/0").unwrap()));
        assert!(!outer.contains(&Prefix::parse("::/0").unwrap()));
        let everything = Prefix::parse("0.0.0.0/0").unwrap();
        assert!(everything.contains(&Prefix::parse("192.168.0.0/16").unwrap()));
        let v6 = Prefix::parse("2001:db8::/32").unwrap();
        assert!(v6.contains(&Prefix::parse("2001:db8:1::/48").unwrap()));
        assert!(!v6.contains(&Prefix::parse("2001:db9::/48").unwrap()));
        assert_eq!(Prefix::parse("10.1.2.3/8").unwrap().canonical_if_different().as_deref(), Some("10.0.0.0/8"));
        assert_eq!(Prefix::parse("10.0.0.0/8").unwrap().canonical_if_different(), None);
        assert_eq!(Prefix::parse("::/0").unwrap().canonical_if_different(), None);
        assert_eq!(Prefix::parse("10.0.0.1/32").unwrap().canonical_if_different(), None);
    }
}
