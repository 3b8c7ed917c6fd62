//! Checks of CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy beyond the schema: what the
//! CRD says with CEL, `oneOf` and `anyOf`, and the rules of Cilium's policy sanitizer (which
//! rejects a policy the API server accepted, so that it silently never takes effect).
//!
//! Codes PLC3000–PLC3499. Each module below is one check; this module walks a policy's rules
//! and their elements and hands them to the checks.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::cilium_policy::{
    CidrRule, CiliumClusterwideNetworkPolicy, CiliumNetworkPolicy, EgressDenyRule, EgressRule, IcmpRule, IngressDenyRule, IngressRule, PortProtocol, PortRule,
    Rule,
};
use crate::model::meta::{LabelSelector, ObjectMeta};
use crate::path::Path;

mod cidr_rules;
mod fqdn_selectors;
mod fqdn_without_dns;
mod icmp_rules;
mod l7_rules;
mod label_selectors;
mod listener;
mod metadata;
mod peer_kinds;
mod ports;
mod requires_removed;
mod rule_sections;
mod rule_subject;
mod spec_presence;
mod subject_namespace;

pub static CODES: &[&Code] = &[
    &spec_presence::SPEC_MISSING,
    &spec_presence::SPECS_EMPTY,
    &metadata::NAME_MISSING,
    &metadata::CLUSTERWIDE_NAMESPACE_IGNORED,
    &rule_subject::SUBJECT_NOT_EXACTLY_ONE,
    &rule_subject::NODE_SELECTOR_IN_NAMESPACED_POLICY,
    &rule_sections::RULE_WITHOUT_SECTIONS,
    &subject_namespace::SUBJECT_NAMESPACE_OVERRIDDEN,
    &label_selectors::INVALID_LABEL_SELECTOR,
    &peer_kinds::PEER_KINDS_COMBINED,
    &peer_kinds::EMPTY_PEER_LIST,
    &requires_removed::REQUIRES_REMOVED,
    &cidr_rules::CIDR_SET_SOURCE,
    &cidr_rules::CIDR_EXCEPT_OUTSIDE,
    &cidr_rules::CIDR_HOST_BITS,
    &cidr_rules::CIDR_EXCEPT_WITH_GROUP,
    &ports::INVALID_PORT,
    &ports::PORT_LEADING_ZERO,
    &ports::PORT_NAME_UPPER_CASE,
    &ports::PORT_MISSING,
    &ports::PORT_WITH_PORTLESS_PROTOCOL,
    &ports::PORT_RANGE_REVERSED,
    &ports::PORT_RANGE_WITH_NAMED_PORT,
    &ports::PORT_RULE_WITHOUT_PORTS,
    &l7_rules::L7_NOT_TCP,
    &l7_rules::L7_ON_WILDCARD_PORT,
    &l7_rules::L7_WRONG_DIRECTION,
    &l7_rules::L7_KIND_NOT_EXACTLY_ONE,
    &l7_rules::DNS_RULE_WITHOUT_PORT,
    &l7_rules::DNS_RULE_PORT_RANGE,
    &l7_rules::HTTP_RULE_INVALID_REGEX,
    &l7_rules::L7_REMOVED_KIND,
    &l7_rules::L7_WITHOUT_L7PROTO,
    &listener::LISTENER_ON_INGRESS,
    &listener::LISTENER_WITH_L7_RULES,
    &listener::SERVER_NAMES_WITH_L7_RULES,
    &icmp_rules::ICMP_WITH_TO_PORTS,
    &icmp_rules::ICMP_TYPE_UNKNOWN,
    &fqdn_selectors::FQDN_SELECTOR_NOT_EXACTLY_ONE,
    &fqdn_without_dns::TO_FQDNS_WITHOUT_DNS_RULE,
];

/// Cross-object checks: a `toFQDNs` rule needs a DNS rule somewhere.
pub fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    fqdn_without_dns::check_set(objects, diagnostics);
}

pub fn check_cnp(object: &CiliumNetworkPolicy, cx: &mut CheckCx<'_>) {
    let scope = PolicyScope { kind: "CiliumNetworkPolicy", clusterwide: false, namespace: object.metadata.namespace.as_deref() };
    check_policy(&scope, &object.metadata, object.spec.as_ref(), object.specs.as_deref(), cx);
}

pub fn check_ccnp(object: &CiliumClusterwideNetworkPolicy, cx: &mut CheckCx<'_>) {
    let scope = PolicyScope { kind: "CiliumClusterwideNetworkPolicy", clusterwide: true, namespace: None };
    check_policy(&scope, &object.metadata, object.spec.as_ref(), object.specs.as_deref(), cx);
}

fn check_policy(scope: &PolicyScope<'_>, metadata: &ObjectMeta, spec: Option<&Rule>, specs: Option<&[Rule]>, cx: &mut CheckCx<'_>) {
    metadata::check(scope, metadata, cx);
    spec_presence::check(scope, spec, specs, cx);
    for (at, rule) in rules_with_paths(spec, specs) {
        rule_subject::check(scope, rule, &at, cx);
        rule_sections::check(rule, &at, cx);
        subject_namespace::check(scope, rule, &at, cx);
        label_selectors::check(rule, &at, cx);
        let elements = elements_of(rule, &at);
        for element in &elements {
            peer_kinds::check(element, cx);
            requires_removed::check(element, cx);
            cidr_rules::check(element, cx);
            ports::check(element, cx);
            l7_rules::check(rule, element, cx);
            listener::check(element, cx);
            icmp_rules::check(element, cx);
            fqdn_selectors::check(element, cx);
        }
    }
}

/// Which policy kind is being checked, and where it lives.
pub(crate) struct PolicyScope<'a> {
    pub kind: &'static str,
    pub clusterwide: bool,
    pub namespace: Option<&'a str>,
}

/// The rules of a policy with their paths (`spec`, `specs[i]`), in document order.
pub(crate) fn rules_with_paths<'r>(spec: Option<&'r Rule>, specs: Option<&'r [Rule]>) -> Vec<(Path, &'r Rule)> {
    let mut out = Vec::new();
    if let Some(rule) = spec {
        out.push((Path::root().key("spec"), rule));
    }
    for (index, rule) in specs.unwrap_or_default().iter().enumerate() {
        out.push((Path::root().key("specs").index(index), rule));
    }
    out
}

/// One item of `ingress`, `ingressDeny`, `egress` or `egressDeny`.
#[derive(Clone, Copy)]
pub(crate) enum ElementKind<'r> {
    Ingress(&'r IngressRule),
    IngressDeny(&'r IngressDenyRule),
    Egress(&'r EgressRule),
    EgressDeny(&'r EgressDenyRule),
}

/// A rule element with its path (`spec.ingress[0]`).
pub(crate) struct Element<'r> {
    pub kind: ElementKind<'r>,
    pub path: Path,
}

/// A peer field of a rule element: its name and how many items it has (`None`: absent).
pub(crate) struct PeerField {
    pub name: &'static str,
    pub count: Option<usize>,
}

pub(crate) fn elements_of<'r>(rule: &'r Rule, at: &Path) -> Vec<Element<'r>> {
    let mut out = Vec::new();
    for (index, item) in rule.ingress().iter().enumerate() {
        out.push(Element { kind: ElementKind::Ingress(item), path: at.key("ingress").index(index) });
    }
    for (index, item) in rule.ingress_deny().iter().enumerate() {
        out.push(Element { kind: ElementKind::IngressDeny(item), path: at.key("ingressDeny").index(index) });
    }
    for (index, item) in rule.egress().iter().enumerate() {
        out.push(Element { kind: ElementKind::Egress(item), path: at.key("egress").index(index) });
    }
    for (index, item) in rule.egress_deny().iter().enumerate() {
        out.push(Element { kind: ElementKind::EgressDeny(item), path: at.key("egressDeny").index(index) });
    }
    out
}

fn count<T>(list: &Option<Vec<T>>) -> Option<usize> {
    list.as_ref().map(Vec::len)
}

impl<'r> Element<'r> {
    pub fn is_ingress(&self) -> bool {
        matches!(self.kind, ElementKind::Ingress(_) | ElementKind::IngressDeny(_))
    }

    pub fn is_deny(&self) -> bool {
        matches!(self.kind, ElementKind::IngressDeny(_) | ElementKind::EgressDeny(_))
    }

    /// `ingress`, `ingressDeny`, `egress` or `egressDeny`.
    pub fn section(&self) -> &'static str {
        match self.kind {
            ElementKind::Ingress(_) => "ingress",
            ElementKind::IngressDeny(_) => "ingressDeny",
            ElementKind::Egress(_) => "egress",
            ElementKind::EgressDeny(_) => "egressDeny",
        }
    }

    /// The L3 peer fields, in the order Cilium lists them. `fromRequires`/`toRequires` are
    /// not peers of their own (they only narrowed other peers, and are removed).
    pub fn peer_fields(&self) -> Vec<PeerField> {
        let field = |name, count| PeerField { name, count };
        match self.kind {
            ElementKind::Ingress(r) => vec![
                field("fromEndpoints", count(&r.from_endpoints)),
                field("fromCIDR", count(&r.from_cidr)),
                field("fromCIDRSet", count(&r.from_cidr_set)),
                field("fromEntities", count(&r.from_entities)),
                field("fromNodes", count(&r.from_nodes)),
                field("fromGroups", count(&r.from_groups)),
            ],
            ElementKind::IngressDeny(r) => vec![
                field("fromEndpoints", count(&r.from_endpoints)),
                field("fromCIDR", count(&r.from_cidr)),
                field("fromCIDRSet", count(&r.from_cidr_set)),
                field("fromEntities", count(&r.from_entities)),
                field("fromNodes", count(&r.from_nodes)),
                field("fromGroups", count(&r.from_groups)),
            ],
            ElementKind::Egress(r) => vec![
                field("toEndpoints", count(&r.to_endpoints)),
                field("toCIDR", count(&r.to_cidr)),
                field("toCIDRSet", count(&r.to_cidr_set)),
                field("toEntities", count(&r.to_entities)),
                field("toServices", count(&r.to_services)),
                field("toGroups", count(&r.to_groups)),
                field("toNodes", count(&r.to_nodes)),
                field("toFQDNs", count(&r.to_fqdns)),
            ],
            ElementKind::EgressDeny(r) => vec![
                field("toEndpoints", count(&r.to_endpoints)),
                field("toCIDR", count(&r.to_cidr)),
                field("toCIDRSet", count(&r.to_cidr_set)),
                field("toEntities", count(&r.to_entities)),
                field("toServices", count(&r.to_services)),
                field("toGroups", count(&r.to_groups)),
                field("toNodes", count(&r.to_nodes)),
            ],
        }
    }

    /// `fromRequires`/`toRequires`, when given.
    pub fn requires(&self) -> Option<(&'static str, &'r [serde_json::Value])> {
        match self.kind {
            ElementKind::Ingress(r) => r.from_requires.as_deref().map(|list| ("fromRequires", list)),
            ElementKind::IngressDeny(r) => r.from_requires.as_deref().map(|list| ("fromRequires", list)),
            ElementKind::Egress(r) => r.to_requires.as_deref().map(|list| ("toRequires", list)),
            ElementKind::EgressDeny(r) => r.to_requires.as_deref().map(|list| ("toRequires", list)),
        }
    }

    /// Every label selector of the peers, with its path.
    pub fn selectors(&self) -> Vec<(Path, &'r LabelSelector)> {
        let mut out = Vec::new();
        let mut add = |name: &str, list: &'r Option<Vec<LabelSelector>>| {
            for (index, selector) in list.iter().flatten().enumerate() {
                out.push((self.path.key(name).index(index), selector));
            }
        };
        match self.kind {
            ElementKind::Ingress(r) => {
                add("fromEndpoints", &r.from_endpoints);
                add("fromNodes", &r.from_nodes);
            }
            ElementKind::IngressDeny(r) => {
                add("fromEndpoints", &r.from_endpoints);
                add("fromNodes", &r.from_nodes);
            }
            ElementKind::Egress(r) => {
                add("toEndpoints", &r.to_endpoints);
                add("toNodes", &r.to_nodes);
            }
            ElementKind::EgressDeny(r) => {
                add("toEndpoints", &r.to_endpoints);
                add("toNodes", &r.to_nodes);
            }
        }
        for (path, cidr_rule) in self.cidr_sets() {
            if let Some(selector) = &cidr_rule.cidr_group_selector {
                out.push((path.key("cidrGroupSelector"), selector));
            }
        }
        let services = match self.kind {
            ElementKind::Egress(r) => r.to_services.as_deref(),
            ElementKind::EgressDeny(r) => r.to_services.as_deref(),
            _ => None,
        };
        for (index, service) in services.unwrap_or_default().iter().enumerate() {
            if let Some(by_label) = &service.k8s_service_selector {
                out.push((self.path.key("toServices").index(index).key("k8sServiceSelector").key("selector"), &by_label.selector));
            }
        }
        out
    }

    /// `fromCIDR`/`toCIDR` items with their paths.
    pub fn cidrs(&self) -> Vec<(Path, &'r str)> {
        let (name, list) = match self.kind {
            ElementKind::Ingress(r) => ("fromCIDR", &r.from_cidr),
            ElementKind::IngressDeny(r) => ("fromCIDR", &r.from_cidr),
            ElementKind::Egress(r) => ("toCIDR", &r.to_cidr),
            ElementKind::EgressDeny(r) => ("toCIDR", &r.to_cidr),
        };
        list.iter().flatten().enumerate().map(|(index, cidr)| (self.path.key(name).index(index), cidr.as_str())).collect()
    }

    /// `fromCIDRSet`/`toCIDRSet` items with their paths.
    pub fn cidr_sets(&self) -> Vec<(Path, &'r CidrRule)> {
        let (name, list) = match self.kind {
            ElementKind::Ingress(r) => ("fromCIDRSet", &r.from_cidr_set),
            ElementKind::IngressDeny(r) => ("fromCIDRSet", &r.from_cidr_set),
            ElementKind::Egress(r) => ("toCIDRSet", &r.to_cidr_set),
            ElementKind::EgressDeny(r) => ("toCIDRSet", &r.to_cidr_set),
        };
        list.iter().flatten().enumerate().map(|(index, rule)| (self.path.key(name).index(index), rule)).collect()
    }

    /// The allow port rules (`toPorts` of `ingress`/`egress`), with their paths.
    pub fn port_rules(&self) -> Vec<(Path, &'r PortRule)> {
        let list = match self.kind {
            ElementKind::Ingress(r) => r.to_ports.as_deref(),
            ElementKind::Egress(r) => r.to_ports.as_deref(),
            _ => None,
        };
        list.unwrap_or_default().iter().enumerate().map(|(index, rule)| (self.path.key("toPorts").index(index), rule)).collect()
    }

    /// Whether `toPorts` is given (allow or deny), and how many items it has.
    pub fn to_ports_count(&self) -> Option<usize> {
        match self.kind {
            ElementKind::Ingress(r) => count(&r.to_ports),
            ElementKind::IngressDeny(r) => count(&r.to_ports),
            ElementKind::Egress(r) => count(&r.to_ports),
            ElementKind::EgressDeny(r) => count(&r.to_ports),
        }
    }

    /// Every `toPorts[].ports` list (allow or deny), with the path of its port rule.
    pub fn port_lists(&self) -> Vec<(Path, Option<&'r [PortProtocol]>)> {
        match self.kind {
            ElementKind::Ingress(_) | ElementKind::Egress(_) => self.port_rules().into_iter().map(|(path, rule)| (path, rule.ports.as_deref())).collect(),
            ElementKind::IngressDeny(r) => deny_port_lists(&self.path, r.to_ports.as_deref()),
            ElementKind::EgressDeny(r) => deny_port_lists(&self.path, r.to_ports.as_deref()),
        }
    }

    /// `icmps` with its path, when given.
    pub fn icmps(&self) -> Option<(Path, &'r [IcmpRule])> {
        let list = match self.kind {
            ElementKind::Ingress(r) => r.icmps.as_deref(),
            ElementKind::IngressDeny(r) => r.icmps.as_deref(),
            ElementKind::Egress(r) => r.icmps.as_deref(),
            ElementKind::EgressDeny(r) => r.icmps.as_deref(),
        };
        list.map(|list| (self.path.key("icmps"), list))
    }
}

fn deny_port_lists<'r>(at: &Path, rules: Option<&'r [crate::model::cilium_policy::PortDenyRule]>) -> Vec<(Path, Option<&'r [PortProtocol]>)> {
    rules.unwrap_or_default().iter().enumerate().map(|(index, rule)| (at.key("toPorts").index(index), rule.ports.as_deref())).collect()
}

/// Words joined as `a`, `a and b`, `a, b and c`, each in backticks.
pub(crate) fn backticked_list(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|word| format!("`{word}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted[0].clone(),
        _ => format!("{} and {}", quoted[..quoted.len() - 1].join(", "), quoted[quoted.len() - 1]),
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers for the unit tests of the checks: parse one YAML text, list its findings.

    use crate::diag::Diagnostic;
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    /// Every finding for `text`.
    pub fn lint(text: &str) -> Vec<Diagnostic> {
        let mut sources = SourceMap::new();
        sources.add("test.yaml", text);
        parse(&sources, &Options::default()).diagnostics
    }

    /// `(code, line)` of every finding for `text`.
    pub fn codes(text: &str) -> Vec<(&'static str, u32)> {
        lint(text).iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    /// The findings of `text` that have the code `code`.
    pub fn with_code(text: &str, code: &str) -> Vec<Diagnostic> {
        lint(text).into_iter().filter(|d| d.code.id == code).collect()
    }

    /// A CiliumNetworkPolicy in namespace `prod` with `body` as its `spec` (indented by the caller
    /// at two spaces).
    pub fn cnp(body: &str) -> String {
        format!("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: test\n  namespace: prod\nspec:\n{body}")
    }
}
