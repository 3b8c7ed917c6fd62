//! The unresolved form every policy kind lowers to first: one [`RuleEntry`] per rule element
//! (an `ingress`, `egress`, `ingressDeny` or `egressDeny` item, or a NetworkPolicy rule),
//! with its subject, peers and ports still written as selectors and names.
//!
//! Resolution against the inventory and the identities happens in `resolve`.

use std::collections::BTreeSet;

use polc_ir::{AuthMode, Direction, HeaderMatch, HttpRule, IpPrefix, L7Rules, MismatchAction, NumericIdentity, PortRange, Protocol, RuleOrigin, RuleVerdict};

use crate::identity::Selector;
use crate::inventory::ObjectIndex;
use crate::model::cilium_policy;
use crate::path::Path;

/// Whose policy a rule element is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Pods whose identity labels the selector selects.
    Endpoints(Selector),
    /// Nodes (host endpoints) whose labels the selector selects.
    Nodes(Selector),
}

/// One kind of peer of a rule element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// Every identity (identity 0).
    Any,
    /// Identities whose labels the selector selects.
    Selector(Selector),
    /// Fixed identities.
    Identities(BTreeSet<NumericIdentity>),
    /// An entity (`world`, `cluster`, `host`...), resolved once identities are known.
    Entity(cilium_policy::Entity),
    /// A CIDR with excepted sub-prefixes.
    Cidr { prefix: IpPrefix, except: Vec<IpPrefix> },
    /// A `toFQDNs` name or pattern (selects nothing offline).
    Fqdn(String),
    /// `fromNodes`/`toNodes`: remote nodes with these labels.
    Nodes(Selector),
    /// A peer polc cannot resolve (CIDR groups, cloud groups): selects nothing.
    Unresolvable,
}

/// The peers of a rule element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerSpec {
    /// No peer field and some L4: every identity.
    Wildcard,
    /// No peer field and no L4 (`ingress: [{}]`): the subject is selected (and so enforced)
    /// but nothing is allowed or denied.
    Nothing,
    /// The listed peers (an empty list selects nothing).
    Peers(Vec<Peer>),
}

/// The port of a [`PortItem`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortValue {
    Range(PortRange),
    /// A container port name, resolved per endpoint (ingress) or per peer (egress).
    Named(String),
}

/// One L4 match of a rule element, with the L7 rules of its port rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortItem {
    pub protocols: Vec<Protocol>,
    pub port: PortValue,
    pub l7: Option<L7Rules>,
    /// Where the item is in the object (`spec.ingress[0].toPorts[1].ports[0]`).
    pub path: Path,
}

/// The L4 part of a rule element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PortSpec {
    /// No `toPorts`/`icmps`/`ports`: every protocol and port.
    All,
    /// These items only (none: the element matches no traffic).
    Items(Vec<PortItem>),
}

/// One rule element before resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleEntry {
    pub origin: RuleOrigin,
    pub object: ObjectIndex,
    /// The element's path inside its object.
    pub path: Path,
    pub subject: Subject,
    pub direction: Direction,
    pub verdict: RuleVerdict,
    pub peers: PeerSpec,
    pub ports: PortSpec,
    pub default_deny: bool,
    pub auth: Option<AuthMode>,
}

/// Parses a Cilium port string the way Cilium does (Go `ParseUint(s, 0, 16)`: a leading `0`
/// means octal). `None`: not a number.
pub fn parse_port_number(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parsed = if text.len() > 1 && text.starts_with('0') { u32::from_str_radix(&text[1..], 8).ok() } else { text.parse::<u32>().ok() };
    parsed.and_then(|number| u16::try_from(number).ok())
}

/// The protocols a Cilium `protocol` stands for: `ANY` (or none) is TCP, UDP and SCTP.
pub fn cilium_protocols(protocol: Option<cilium_policy::L4Proto>) -> Vec<Protocol> {
    use cilium_policy::L4Proto;
    match protocol {
        None | Some(L4Proto::Any) => vec![Protocol::TCP, Protocol::UDP, Protocol::SCTP],
        Some(L4Proto::Tcp) => vec![Protocol::TCP],
        Some(L4Proto::Udp) => vec![Protocol::UDP],
        Some(L4Proto::Sctp) => vec![Protocol::SCTP],
        Some(L4Proto::Vrrp) => vec![Protocol::VRRP],
        Some(L4Proto::Igmp) => vec![Protocol::IGMP],
        Some(L4Proto::Gre) => vec![Protocol::GRE],
        Some(L4Proto::Ipip) => vec![Protocol::IPIP],
        Some(L4Proto::Ipv6) => vec![Protocol::IPV6],
        Some(L4Proto::Esp) => vec![Protocol::ESP],
        Some(L4Proto::Ah) => vec![Protocol::AH],
    }
}

/// The port value of a Cilium `ports[]` item: `port` (number or name) and `endPort`.
pub fn cilium_port_value(port: &cilium_policy::PortProtocol) -> Option<PortValue> {
    match port.port.as_deref().map(str::trim) {
        None | Some("") => Some(PortValue::Range(PortRange::ALL)),
        Some(text) => match parse_port_number(text) {
            Some(0) => Some(PortValue::Range(PortRange::ALL)),
            Some(first) => {
                let last = port.end_port.and_then(|end| u16::try_from(end).ok()).filter(|end| *end > first).unwrap_or(first);
                Some(PortValue::Range(PortRange::new(first, last)))
            }
            None if text.bytes().all(|b| b.is_ascii_digit()) => None,
            None => Some(PortValue::Named(text.to_ascii_lowercase())),
        },
    }
}

/// The L7 rules of a Cilium port rule; `None` when it has none polc evaluates.
pub fn cilium_l7(rules: Option<&cilium_policy::L7Rules>) -> Option<L7Rules> {
    let rules = rules?;
    if let Some(http) = rules.http.as_ref().filter(|http| !http.is_empty()) {
        return Some(L7Rules::Http(http.iter().map(http_rule).collect()));
    }
    if let Some(dns) = rules.dns.as_ref().filter(|dns| !dns.is_empty()) {
        let converted: Vec<polc_ir::DnsRule> = dns
            .iter()
            .filter_map(|selector| match (&selector.match_name, &selector.match_pattern) {
                (Some(name), _) => Some(polc_ir::DnsRule::MatchName(name.clone())),
                (None, Some(pattern)) => Some(polc_ir::DnsRule::MatchPattern(pattern.clone())),
                (None, None) => None,
            })
            .collect();
        return Some(L7Rules::Dns(converted));
    }
    None
}

fn http_rule(rule: &cilium_policy::PortRuleHttp) -> HttpRule {
    let mut headers = Vec::new();
    for header in rule.headers.iter().flatten() {
        // Cilium splits `Name: value` at the first space and trims the `:`; a lone name only
        // requires the header to be present.
        let header = header.trim();
        match header.split_once(' ') {
            Some((name, value)) => headers.push(HeaderMatch {
                name: name.trim_end_matches(':').to_owned(),
                value: Some(value.trim_start().to_owned()),
                value_from_secret: false,
                mismatch: None,
            }),
            None => headers.push(HeaderMatch { name: header.trim_end_matches(':').to_owned(), value: None, value_from_secret: false, mismatch: None }),
        }
    }
    for header in rule.header_matches.iter().flatten() {
        let mismatch = header.mismatch.map(|action| match action {
            cilium_policy::MismatchAction::Log => MismatchAction::Log,
            cilium_policy::MismatchAction::Add => MismatchAction::Add,
            cilium_policy::MismatchAction::Delete => MismatchAction::Delete,
            cilium_policy::MismatchAction::Replace => MismatchAction::Replace,
        });
        headers.push(HeaderMatch { name: header.name.clone(), value: header.value.clone(), value_from_secret: header.secret.is_some(), mismatch });
    }
    HttpRule { method: rule.method.clone(), path: rule.path.clone(), host: rule.host.clone(), headers }
}

/// The authentication mode of a Cilium rule element.
pub fn cilium_auth(authentication: Option<&cilium_policy::Authentication>) -> Option<AuthMode> {
    authentication.map(|authentication| match authentication.mode {
        cilium_policy::AuthenticationMode::Disabled => AuthMode::Disabled,
        cilium_policy::AuthenticationMode::Required => AuthMode::Required,
        cilium_policy::AuthenticationMode::TestAlwaysFail => AuthMode::TestAlwaysFail,
    })
}

/// The ICMP items of a rule element's `icmps`.
pub fn icmp_items(icmps: &[cilium_policy::IcmpRule], base: &Path) -> Vec<PortItem> {
    let mut items = Vec::new();
    for (rule_index, rule) in icmps.iter().enumerate() {
        for (field_index, field) in rule.fields.iter().flatten().enumerate() {
            let family = field.family();
            let protocol = match family {
                cilium_policy::IcmpFamily::IPv4 => Protocol::ICMP,
                cilium_policy::IcmpFamily::IPv6 => Protocol::ICMPV6,
            };
            let Some(icmp_type) = field.icmp_type.number(family) else { continue };
            // Type 0 becomes port 0, which Cilium's map reads as every type.
            let ports = if icmp_type == 0 { PortRange::ALL } else { PortRange::single(u16::from(icmp_type)) };
            let path = base.key("icmps").index(rule_index).key("fields").index(field_index);
            items.push(PortItem { protocols: vec![protocol], port: PortValue::Range(ports), l7: None, path });
        }
    }
    items
}
