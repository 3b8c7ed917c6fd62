//! The reference evaluator: given the IR and a flow, the verdict and the rules that decided it.
//!
//! It is the oracle every other engine (the eBPF maps, the iptables rendering, the kernel) is
//! tested against, so it follows the semantics literally and does nothing clever:
//!
//! 1. A flow between two endpoints needs the source's egress policy AND the destination's
//!    ingress policy to allow it. An end that is not an endpoint (an outside address) has no
//!    policy of its own.
//! 2. The remote identity is looked up as the endpoint's node sees it: a node is `host` to
//!    itself and `remote-node` to others; an outside address has its CIDR identity or `world`.
//! 3. In one direction: not enforced → allowed. Otherwise the entries matching the remote
//!    identity and the L4 of the flow are collected. Any deny → denied, whatever the allows.
//!    Allows → allowed; when all of them carry L7 rules the request must match one rule (an
//!    allow without L7 lets every request through). No match → denied when the direction is
//!    default-deny, else allowed by the agent's lowest-tier allow-all.
//! 4. Authentication: the mode of the policy-map key that decides the flow, as Cilium settles it
//!    ([`effective_auth`]): `test-always-fail` drops the flow; `required` allows it once mutual
//!    authentication succeeds (noted in the verdict).

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::identity::NumericIdentity;
use crate::l4::{L4Match, Protocol};
use crate::l7::{L7Request, L7Rules};
use crate::policy::{AuthMode, Direction, DirectionPolicy, Endpoint, EndpointId, PolicyEntry, PolicyIr, RuleOrigin, RuleVerdict};

/// One end of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowEnd {
    Endpoint(EndpointId),
    /// An address; when it belongs to an endpoint, the flow is that endpoint's.
    Address(IpAddr),
}

/// A new connection (or packet) from `source` to `destination`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Flow {
    pub source: FlowEnd,
    pub destination: FlowEnd,
    pub protocol: Protocol,
    /// The destination port, or the ICMP type for ICMP and ICMPv6.
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l7: Option<L7Request>,
}

/// How one direction decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// No policy selects the endpoint in this direction.
    NotEnforced,
    /// An allow entry without L7 rules matches.
    Allowed,
    /// Only allow entries with L7 rules match, and the flow carries no request: the L7 proxy
    /// decides each request.
    AllowedToProxy,
    /// An L7 rule permits the flow's request.
    AllowedByL7,
    /// Enforced but not default-deny (`enableDefaultDeny: false`), and no entry matches.
    AllowedByDefault,
    /// A deny entry matches.
    Denied,
    /// Only allow entries with L7 rules match, and none of their rules permits the request.
    DeniedByL7,
    /// Default-deny, and no entry allows the flow.
    DefaultDenied,
    /// The deciding allow requires `test-always-fail` authentication.
    AuthenticationFails,
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        matches!(self, Decision::NotEnforced | Decision::Allowed | Decision::AllowedToProxy | Decision::AllowedByL7 | Decision::AllowedByDefault)
    }

    /// A short lower-case phrase for one-line summaries.
    pub fn short(self) -> &'static str {
        match self {
            Decision::NotEnforced => "not enforced",
            Decision::Allowed => "allowed by a rule",
            Decision::AllowedToProxy => "allowed to the L7 proxy",
            Decision::AllowedByL7 => "allowed by an L7 rule",
            Decision::AllowedByDefault => "allowed, no default deny",
            Decision::Denied => "denied by a deny rule",
            Decision::DeniedByL7 => "denied by the L7 rules",
            Decision::DefaultDenied => "no rule allows it (default deny)",
            Decision::AuthenticationFails => "authentication always fails",
        }
    }

    /// A lower-case phrase for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Decision::NotEnforced => "no policy selects the endpoint in this direction, so everything is allowed",
            Decision::Allowed => "allowed by a rule",
            Decision::AllowedToProxy => "allowed to the L7 proxy, which decides each request",
            Decision::AllowedByL7 => "the request is allowed by an L7 rule",
            Decision::AllowedByDefault => "no rule matches, and the policies set `enableDefaultDeny: false`, so it is allowed",
            Decision::Denied => "denied by a deny rule, which wins over every allow",
            Decision::DeniedByL7 => "the request matches none of the L7 rules of the rules that allow the port",
            Decision::DefaultDenied => "no rule allows it, and the endpoint is default-deny in this direction",
            Decision::AuthenticationFails => "the allowing rule requires authentication mode `test-always-fail`",
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// A rule that took part in a decision.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DecidingRule {
    pub origin: RuleOrigin,
    pub verdict: RuleVerdict,
    pub l4: L4Match,
    /// For an L7 decision: the L7 rule that permitted the request, or the rules none of which did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l7: Option<String>,
}

/// The decision of one endpoint's policy in one direction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectionVerdict {
    pub direction: Direction,
    pub endpoint: EndpointId,
    /// `namespace/pod` or `node:NAME`.
    pub endpoint_name: String,
    /// The identity of the other end, as this endpoint's node sees it.
    pub remote_identity: NumericIdentity,
    pub allowed: bool,
    pub decision: Decision,
    /// The rules that decided, sorted. Empty for decisions that no rule made.
    pub deciding: Vec<DecidingRule>,
    /// The rules that make this direction enforced (for a default-deny decision).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enforced_by: Vec<RuleOrigin>,
    /// Whether the flow is redirected to the L7 proxy.
    pub proxy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMode>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// The verdict on a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub allowed: bool,
    /// One line saying why.
    pub reason: String,
    /// The source endpoint's egress decision (`None` when the source is no endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<DirectionVerdict>,
    /// The destination endpoint's ingress decision (`None` when the destination is no endpoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<DirectionVerdict>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A resolved end of a flow.
enum End<'a> {
    Endpoint(&'a Endpoint),
    External(IpAddr),
    Missing(EndpointId),
}

fn resolve(ir: &PolicyIr, end: FlowEnd) -> End<'_> {
    match end {
        FlowEnd::Endpoint(id) => ir.endpoint(id).map(End::Endpoint).unwrap_or(End::Missing(id)),
        FlowEnd::Address(address) => ir.endpoint_by_address(address).map(End::Endpoint).unwrap_or(End::External(address)),
    }
}

fn identity_as_seen(ir: &PolicyIr, end: &End<'_>, observer_node: Option<&str>) -> NumericIdentity {
    match end {
        End::Endpoint(endpoint) => ir.identity_of_endpoint(endpoint, observer_node),
        End::External(address) => ir.identity_of_external_address(*address),
        End::Missing(_) => NumericIdentity::WORLD,
    }
}

/// Evaluates `flow` against `ir`.
pub fn evaluate(ir: &PolicyIr, flow: &Flow) -> Verdict {
    let source = resolve(ir, flow.source);
    let destination = resolve(ir, flow.destination);
    for end in [&source, &destination] {
        if let End::Missing(id) = end {
            return Verdict { allowed: false, reason: format!("endpoint {id} is not in the IR"), egress: None, ingress: None, notes: Vec::new() };
        }
    }
    if let (End::Endpoint(from), End::Endpoint(to)) = (&source, &destination)
        && from.id == to.id
        && !from.is_host()
    {
        return Verdict {
            allowed: true,
            reason: "a pod's traffic to itself stays inside the pod; no policy applies".to_owned(),
            egress: None,
            ingress: None,
            notes: Vec::new(),
        };
    }
    let egress = match &source {
        End::Endpoint(endpoint) => {
            let remote = identity_as_seen(ir, &destination, endpoint.node.as_deref());
            Some(evaluate_direction(endpoint, Direction::Egress, remote, flow))
        }
        _ => None,
    };
    let ingress = match &destination {
        End::Endpoint(endpoint) => {
            let remote = identity_as_seen(ir, &source, endpoint.node.as_deref());
            Some(evaluate_direction(endpoint, Direction::Ingress, remote, flow))
        }
        _ => None,
    };
    let allowed = egress.as_ref().is_none_or(|verdict| verdict.allowed) && ingress.as_ref().is_none_or(|verdict| verdict.allowed);
    let reason = summarize(allowed, egress.as_ref(), ingress.as_ref());
    let mut notes = Vec::new();
    if egress.is_none() && ingress.is_none() {
        notes.push("neither end is an endpoint of the inventory".to_owned());
    }
    Verdict { allowed, reason, egress, ingress, notes }
}

fn summarize(allowed: bool, egress: Option<&DirectionVerdict>, ingress: Option<&DirectionVerdict>) -> String {
    if egress.is_none() && ingress.is_none() {
        return "allowed: neither end is an endpoint, so no policy applies".to_owned();
    }
    let part = |verdict: &DirectionVerdict| format!("{} of `{}`: {}", verdict.direction, verdict.endpoint_name, verdict.decision.short());
    if allowed {
        let parts: Vec<String> = [egress, ingress].into_iter().flatten().map(part).collect();
        format!("allowed ({})", parts.join("; "))
    } else {
        let parts: Vec<String> = [egress, ingress].into_iter().flatten().filter(|verdict| !verdict.allowed).map(part).collect();
        format!("denied ({})", parts.join("; "))
    }
}

fn deciding(entry: &PolicyEntry, l7: Option<String>) -> DecidingRule {
    DecidingRule { origin: entry.origin.clone(), verdict: entry.verdict, l4: entry.l4, l7 }
}

fn finish(mut rules: Vec<DecidingRule>) -> Vec<DecidingRule> {
    rules.sort();
    rules.dedup();
    rules
}

/// Cilium's listener priority of an L7 parser (lower is preferred): HTTP 101, DNS 121.
fn listener_priority(rules: &L7Rules) -> u8 {
    match rules {
        L7Rules::Http(_) => 101,
        L7Rules::Dns(_) => 121,
    }
}

/// Where a matching allow sits among Cilium's policy-map keys for this flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct MapKey {
    /// Identity 0 (`Peers::Any`, found by the L4-only lookup) or the remote identity (the L3 lookup).
    wildcard: bool,
    /// How many of the key's protocol and port bits are fixed: 0 for an L3-only entry, 8 for a
    /// whole protocol, 8 + the port block's prefix length for ports.
    length: u8,
}

/// The value Cilium's map holds at one key, as far as authentication goes.
#[derive(Clone, Copy, Debug)]
struct KeyValue {
    /// The precedence tier at priority 0: 1 for a plain allow, 255 − listener priority for a redirect.
    tier: u8,
    /// The key's own explicit mode (merged over the entries of the winning tier).
    explicit: Option<AuthMode>,
}

fn map_key(entry: &PolicyEntry, port: u16) -> MapKey {
    let length = match entry.l4 {
        L4Match::Any => 0,
        L4Match::Protocol { ports, .. } => 8 + ports.key_prefix_len(port).unwrap_or(16),
    };
    MapKey { wildcard: matches!(entry.peers, crate::policy::Peers::Any), length }
}

fn tier(entry: &PolicyEntry) -> u8 {
    entry.l7.as_ref().map_or(1, |rules| 255 - listener_priority(rules))
}

/// The authentication mode that decides a flow the `allows` (every allow entry matching it, no
/// deny matching) let through, per policy-map key as Cilium's agent and datapath settle it
/// (`cilium-semantics.md` §3.2, §4):
///
/// 1. Entries that fall on the same key merge: the highest precedence tier wins (an L7 redirect
///    over a plain allow, HTTP over DNS), and among the winners an explicit mode beats none and
///    the higher auth type beats the lower.
/// 2. A key without an explicit mode inherits the mode of the most specific covering key of the
///    same identity that has one.
/// 3. The datapath looks up the remote identity and identity 0, each giving its most specific
///    key, and takes identity 0's key when only it matched, when its tier is higher, or when the
///    tiers are equal and it is more specific.
/// 4. The chosen key's mode decides, except that a chosen key without an explicit mode of its own
///    takes the other lookup's auth type when that key has the same tier and a higher type.
fn effective_auth(allows: &[&PolicyEntry], port: u16) -> Option<AuthMode> {
    let mut keys: std::collections::BTreeMap<MapKey, KeyValue> = std::collections::BTreeMap::new();
    for entry in allows {
        let key = map_key(entry, port);
        let value = KeyValue { tier: tier(entry), explicit: entry.auth };
        keys.entry(key)
            .and_modify(|merged| {
                if value.tier > merged.tier {
                    *merged = value;
                } else if value.tier == merged.tier {
                    let rank = |mode: Option<AuthMode>| (mode.is_some(), mode.map_or(0, AuthMode::auth_type));
                    if rank(value.explicit) > rank(merged.explicit) {
                        merged.explicit = value.explicit;
                    }
                }
            })
            .or_insert(value);
    }
    // The most specific key of each lookup, with its mode after inheritance.
    let lookup = |wildcard: bool| -> Option<(MapKey, KeyValue, Option<AuthMode>)> {
        let mut side = keys.iter().filter(|(key, _)| key.wildcard == wildcard).rev();
        let (key, value) = side.next()?;
        let mode = value.explicit.or_else(|| side.find_map(|(_, cover)| cover.explicit));
        Some((*key, *value, mode))
    };
    let (chosen, other) = match (lookup(false), lookup(true)) {
        (None, wildcard) => (wildcard?, None),
        (Some(l3), None) => (l3, None),
        (Some(l3), Some(l4)) => {
            if l4.1.tier > l3.1.tier || (l4.1.tier == l3.1.tier && l4.0.length > l3.0.length) {
                (l4, Some(l3))
            } else {
                (l3, Some(l4))
            }
        }
    };
    let (_, value, mode) = chosen;
    let auth_type = |mode: Option<AuthMode>| mode.map_or(0, AuthMode::auth_type);
    if let Some((_, other_value, other_mode)) = other
        && value.explicit.is_none()
        && other_value.tier == value.tier
        && auth_type(other_mode) > auth_type(mode)
    {
        return other_mode;
    }
    mode
}

/// The authentication mode that decides a flow of `protocol` to `port` from (ingress) or to
/// (egress) an end with identity `remote` in one enforced direction, per [`effective_auth`]:
/// `None` when a deny matches, when no allow matches, or when the deciding key has no mode.
/// Renderings that cannot look keys up (iptables) use it to place the authentication drops.
pub fn direction_auth(policy: &DirectionPolicy, remote: NumericIdentity, protocol: Protocol, port: u16) -> Option<AuthMode> {
    let matching = policy.entries.iter().filter(|entry| entry.peers.contains(remote) && entry.l4.matches(protocol, port));
    let (denies, allows): (Vec<&PolicyEntry>, Vec<&PolicyEntry>) = matching.partition(|entry| entry.verdict == RuleVerdict::Deny);
    if !denies.is_empty() || allows.is_empty() {
        return None;
    }
    effective_auth(&allows, port)
}

fn describe_l7_rule(rules: &L7Rules, index: usize) -> String {
    match rules {
        L7Rules::Http(http) => http.get(index).map(|rule| format!("HTTP rule {index}: {rule}")).unwrap_or_default(),
        L7Rules::Dns(dns) => dns.get(index).map(|rule| format!("DNS rule {index}: {rule}")).unwrap_or_default(),
    }
}

fn describe_l7_rules(rules: &L7Rules) -> String {
    match rules {
        L7Rules::Http(http) => format!("HTTP rules: {}", http.iter().map(|rule| format!("[{rule}]")).collect::<Vec<_>>().join(" ")),
        L7Rules::Dns(dns) => format!("DNS rules: {}", dns.iter().map(|rule| format!("[{rule}]")).collect::<Vec<_>>().join(" ")),
    }
}

/// Evaluates one direction of `endpoint`'s policy for a flow whose other end has identity
/// `remote`.
pub fn evaluate_direction(endpoint: &Endpoint, direction: Direction, remote: NumericIdentity, flow: &Flow) -> DirectionVerdict {
    let policy: &DirectionPolicy = endpoint.policy(direction);
    let mut verdict = DirectionVerdict {
        direction,
        endpoint: endpoint.id,
        endpoint_name: endpoint.kind.to_string(),
        remote_identity: remote,
        allowed: true,
        decision: Decision::NotEnforced,
        deciding: Vec::new(),
        enforced_by: Vec::new(),
        proxy: false,
        auth: None,
        notes: Vec::new(),
    };
    if !policy.enforced {
        return verdict;
    }
    let matching: Vec<&PolicyEntry> =
        policy.entries.iter().filter(|entry| entry.peers.contains(remote) && entry.l4.matches(flow.protocol, flow.port)).collect();
    let denies: Vec<&PolicyEntry> = matching.iter().copied().filter(|entry| entry.verdict == RuleVerdict::Deny).collect();
    if !denies.is_empty() {
        verdict.allowed = false;
        verdict.decision = Decision::Denied;
        verdict.deciding = finish(denies.iter().map(|entry| deciding(entry, None)).collect());
        return verdict;
    }
    let allows: Vec<&PolicyEntry> = matching.iter().copied().filter(|entry| entry.verdict == RuleVerdict::Allow).collect();
    if allows.is_empty() {
        if remote.is_world() {
            for entry in policy.entries.iter().filter(|entry| !entry.pending_fqdns.is_empty() && entry.l4.matches(flow.protocol, flow.port)) {
                let names = entry.pending_fqdns.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
                verdict
                    .notes
                    .push(format!("{} allows toFQDNs {names}, which selects no address until DNS answers are known (polc has none)", entry.origin.describe()));
            }
        }
        if policy.default_deny {
            verdict.allowed = false;
            verdict.decision = Decision::DefaultDenied;
            verdict.enforced_by = policy.selected_by.clone();
        } else {
            verdict.decision = Decision::AllowedByDefault;
            verdict.enforced_by = policy.selected_by.clone();
        }
        return verdict;
    }
    verdict.auth = effective_auth(&allows, flow.port);
    let plain: Vec<&PolicyEntry> = allows.iter().copied().filter(|entry| entry.l7.is_none()).collect();
    let with_l7: Vec<&PolicyEntry> = allows.iter().copied().filter(|entry| entry.l7.is_some()).collect();
    verdict.proxy = !with_l7.is_empty();
    if !plain.is_empty() {
        verdict.decision = Decision::Allowed;
        verdict.deciding = finish(plain.iter().map(|entry| deciding(entry, None)).collect());
        if verdict.proxy {
            verdict.notes.push("the flow also goes through the L7 proxy, but a rule without L7 rules lets every request through".to_owned());
        }
    } else {
        match &flow.l7 {
            None => {
                verdict.decision = Decision::AllowedToProxy;
                verdict.deciding = finish(with_l7.iter().map(|entry| deciding(entry, entry.l7.as_ref().map(describe_l7_rules))).collect());
                verdict.notes.push("the L7 proxy decides each request; give `http` or `dns` in the flow to test one".to_owned());
            }
            Some(request) => {
                let permitting: Vec<DecidingRule> = with_l7
                    .iter()
                    .filter_map(|entry| {
                        let rules = entry.l7.as_ref()?;
                        rules.permitting_rule(request).map(|index| deciding(entry, Some(describe_l7_rule(rules, index))))
                    })
                    .collect();
                if permitting.is_empty() {
                    verdict.allowed = false;
                    verdict.decision = Decision::DeniedByL7;
                    verdict.deciding = finish(with_l7.iter().map(|entry| deciding(entry, entry.l7.as_ref().map(describe_l7_rules))).collect());
                    return verdict;
                }
                verdict.decision = Decision::AllowedByL7;
                verdict.deciding = finish(permitting);
            }
        }
    }
    match verdict.auth {
        Some(AuthMode::TestAlwaysFail) => {
            verdict.allowed = false;
            verdict.decision = Decision::AuthenticationFails;
        }
        Some(AuthMode::Required) => verdict.notes.push("the flow needs mutual authentication (SPIRE) to succeed first".to_owned()),
        _ => {}
    }
    verdict
}
