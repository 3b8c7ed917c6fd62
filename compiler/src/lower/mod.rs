//! Lowering: policies and inventory (decoded objects) to the policy IR.
//!
//! 1. The inventory is built from the inventory objects ([`Inventory`]).
//! 2. Every CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy becomes rule
//!    entries ([`rules::RuleEntry`]): subject, peers and ports still as selectors and names.
//! 3. Identities are allocated for the pods and for every prefix the rules name
//!    ([`IdentityTable`]).
//! 4. Each rule entry is resolved for every endpoint its subject selects: peers to identity sets,
//!    named ports to numbers, `ANY` to TCP, UDP and SCTP; enforcement and default-deny are set
//!    per direction, and the implicit rules (`allow-localhost`) are added.
//! 5. The checks on resolved policy run on the IR: allows shadowed by denies, redundant rules,
//!    policy maps over their size limit.
//!
//! The IR carries no spans: each rule's origin holds a [`LocationId`], an index into
//! [`Lowered::locations`].

pub mod cilium;
pub mod k8s;
mod resolve;
pub mod rules;
mod select;

use std::collections::BTreeSet;

use polc_ir::{LocationId, PolicyIr, RuleOrigin, Settings};

use crate::checks::analysis;
use crate::diag::{Diagnostic, Location};
use crate::frontend::Object;
use crate::identity::{AllocationProblem, IdentityTable};
use crate::inventory::{Inventory, ObjectIndex};
use crate::kinds::Resource;
use crate::path::Path;
use rules::{Peer, PeerSpec, RuleEntry};

/// What lowering needs besides the objects.
#[derive(Clone, Debug)]
pub struct LowerOptions {
    pub settings: Settings,
    /// The agent's `bpf-policy-map-max`: an endpoint whose policy map needs more entries is an
    /// error (`PLC7015`).
    pub policy_map_max: usize,
}

impl Default for LowerOptions {
    fn default() -> Self {
        LowerOptions { settings: Settings::default(), policy_map_max: analysis::policy_map_limit::DEFAULT_POLICY_MAP_MAX }
    }
}

/// The result of lowering.
#[derive(Clone, Debug)]
pub struct Lowered {
    pub ir: PolicyIr,
    pub inventory: Inventory,
    pub identities: IdentityTable,
    /// The source locations rule origins point at, by [`LocationId`].
    pub locations: Vec<Location>,
    /// Analysis findings (`PLC7xxx`), sorted.
    pub diagnostics: Vec<Diagnostic>,
}

impl Lowered {
    pub fn location(&self, id: LocationId) -> Option<&Location> {
        self.locations.get(id.0 as usize)
    }

    /// The location of a rule origin, if it has one.
    pub fn origin_location(&self, origin: &RuleOrigin) -> Option<&Location> {
        origin.location().and_then(|id| self.location(id))
    }
}

/// The state lowering passes around while it collects rule entries.
pub struct LowerCx<'a> {
    pub(crate) objects: &'a [Object],
    pub(crate) inventory: &'a Inventory,
    pub(crate) settings: &'a Settings,
    pub(crate) rules: Vec<RuleEntry>,
    pub(crate) locations: Vec<Location>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl LowerCx<'_> {
    /// The origin of the rule at `path` of object `object`, with its location recorded.
    pub(crate) fn origin(&mut self, object: ObjectIndex, kind: &str, namespace: Option<&str>, name: &str, path: &Path) -> RuleOrigin {
        let location = self.objects[object].location(path);
        let id = LocationId(self.locations.len() as u32);
        self.locations.push(location);
        RuleOrigin::Policy {
            kind: kind.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.to_owned(),
            rule_path: path.to_string(),
            location: Some(id),
        }
    }

    pub(crate) fn cidr_group_unresolved(&mut self, object: ObjectIndex, path: &Path) {
        let diagnostic = self.objects[object]
            .diagnostic(
                &analysis::cidr_group_unresolved::CIDR_GROUP_UNRESOLVED,
                path,
                "polc does not read CiliumCIDRGroup objects, so this entry selects no address",
            )
            .with_help("write the prefixes as `cidr` entries to have them evaluated");
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn groups_unsupported(&mut self, object: ObjectIndex, path: &Path) {
        let diagnostic = self.objects[object]
            .diagnostic(&analysis::groups_unsupported::GROUPS_UNSUPPORTED, path, "cloud groups are resolved at run time; offline they select no address")
            .with_help("use CIDR rules for the addresses you want evaluated");
        self.diagnostics.push(diagnostic);
    }

    pub(crate) fn node_selector_labels_disabled(&mut self, object: ObjectIndex, path: &Path) {
        let diagnostic = self.objects[object]
            .diagnostic(
                &analysis::node_selector_labels_disabled::NODE_SELECTOR_LABELS_DISABLED,
                path,
                "this node selector has labels, which select no node unless the agent runs with `enable-node-selector-labels`",
            )
            .with_help("use `remote-node` and `host` entities, or an empty selector for every remote node");
        self.diagnostics.push(diagnostic);
    }

    /// In a single-stack cluster, warns about `/0` entries whose `except`s another `/0` entry of
    /// the same rule defeats. `entries` are the rule's CIDR entries with their paths.
    pub(crate) fn check_zero_prefixes(&mut self, object: ObjectIndex, entries: &[(Path, polc_ir::IpPrefix, Vec<polc_ir::IpPrefix>)]) {
        if self.settings.dual_stack {
            return;
        }
        let zeros: Vec<&(Path, polc_ir::IpPrefix, Vec<polc_ir::IpPrefix>)> = entries.iter().filter(|(_, prefix, _)| prefix.length() == 0).collect();
        for (path, prefix, except) in &zeros {
            if except.is_empty() {
                continue;
            }
            let defeating = zeros.iter().find(|(_, other_prefix, other_except)| {
                other_prefix != prefix && except.iter().any(|excluded| !other_except.iter().any(|other| other.covers(excluded)))
            });
            if let Some((_, other_prefix, _)) = defeating {
                let message = format!(
                    "in a single-stack cluster `{other_prefix}` selects every outside address, so the addresses this `except` keeps out are selected anyway"
                );
                let diagnostic = self.objects[object]
                    .diagnostic(&analysis::cidr_zero_prefix_single_stack::CIDR_ZERO_PREFIX_SINGLE_STACK, &path.key("except"), message)
                    .with_help(format!("remove the `{other_prefix}` entry or give it the same exceptions; for a dual-stack cluster run with `--dual-stack`"));
                self.diagnostics.push(diagnostic);
            }
        }
    }

    pub(crate) fn service_not_found(&mut self, object: ObjectIndex, path: &Path, service: &crate::model::cilium_policy::Service) {
        let shown = match (&service.k8s_service, &service.k8s_service_selector) {
            (Some(by_name), _) => match by_name.namespace.as_deref().filter(|namespace| !namespace.is_empty()) {
                Some(namespace) => format!("service `{namespace}/{}`", by_name.service_name.as_deref().unwrap_or("")),
                None => format!("service `{}` (in any namespace)", by_name.service_name.as_deref().unwrap_or("")),
            },
            (None, Some(_)) => "no service matching this selector".to_owned(),
            (None, None) => "no service".to_owned(),
        };
        let message = if shown.starts_with("no service") {
            format!("the inventory has {shown}, so this rule applies to no backend")
        } else {
            format!("the inventory has no {shown}, so this rule applies to no backend")
        };
        let diagnostic = self.objects[object]
            .diagnostic(&analysis::service_not_found::SERVICE_NOT_FOUND, path, message)
            .with_help("correct the service's name and namespace, or add the Service to the inputs");
        self.diagnostics.push(diagnostic);
    }
}

/// Lowers every policy among `objects` against the inventory among `objects`.
pub fn lower(objects: &[Object], options: &LowerOptions) -> Lowered {
    let inventory = Inventory::from_objects(objects);
    let mut cx = LowerCx { objects, inventory: &inventory, settings: &options.settings, rules: Vec::new(), locations: Vec::new(), diagnostics: Vec::new() };
    for (index, object) in objects.iter().enumerate() {
        match &object.resource {
            Resource::CiliumNetworkPolicy(policy) => {
                let namespace = policy.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
                let rules: Vec<(Path, &crate::model::cilium_policy::Rule)> = policy
                    .spec
                    .iter()
                    .map(|rule| (Path::root().key("spec"), rule))
                    .chain(policy.specs.iter().flatten().enumerate().map(|(position, rule)| (Path::root().key("specs").index(position), rule)))
                    .collect();
                cilium::lower_policy(&mut cx, index, "CiliumNetworkPolicy", Some(&namespace), policy.metadata.name(), &rules);
            }
            Resource::CiliumClusterwideNetworkPolicy(policy) => {
                let rules: Vec<(Path, &crate::model::cilium_policy::Rule)> = policy
                    .spec
                    .iter()
                    .map(|rule| (Path::root().key("spec"), rule))
                    .chain(policy.specs.iter().flatten().enumerate().map(|(position, rule)| (Path::root().key("specs").index(position), rule)))
                    .collect();
                cilium::lower_policy(&mut cx, index, "CiliumClusterwideNetworkPolicy", None, policy.metadata.name(), &rules);
            }
            Resource::NetworkPolicy(policy) => k8s::lower_network_policy(&mut cx, index, policy),
            _ => {}
        }
    }
    let LowerCx { rules, mut locations, mut diagnostics, .. } = cx;

    // Every prefix a rule names gets a CIDR identity, and so does every except prefix.
    let mut prefixes = BTreeSet::new();
    for rule in &rules {
        if let PeerSpec::Peers(peers) = &rule.peers {
            for peer in peers {
                if let Peer::Cidr { prefix, except } = peer {
                    if prefix.length() > 0 {
                        prefixes.insert(*prefix);
                    }
                    prefixes.extend(except.iter().copied());
                }
            }
        }
    }
    let (identities, problems) = IdentityTable::allocate(&inventory, &prefixes, &options.settings.cluster_name, options.settings.dual_stack);
    for problem in problems {
        let message = match problem {
            AllocationProblem::EndpointRangeExhausted { needed } => {
                format!("the pods have {needed} distinct identity label sets, more than the 65280 endpoint identities of a cluster")
            }
            AllocationProblem::LocalRangeExhausted { needed } => format!("the policies name {needed} CIDR prefixes, more than the 16777215 local identities"),
        };
        diagnostics.push(
            Diagnostic::new(&analysis::identity_space_exhausted::IDENTITY_SPACE_EXHAUSTED, message)
                .with_help("drop labels that differ on every pod (hashes, build IDs)"),
        );
    }
    let (ir, mut found) = resolve::build_ir(objects, &inventory, &identities, &rules, &options.settings);
    diagnostics.append(&mut found);
    let resolved = analysis::Resolved::new(&ir, objects, &inventory, &rules, &locations);
    diagnostics.extend(analysis::check_resolved(&resolved, options.policy_map_max));
    drop(resolved);
    crate::diag::sort_diagnostics(&mut diagnostics);
    locations.shrink_to_fit();
    Lowered { ir, inventory, identities, locations, diagnostics }
}

/// The subject selector's path for a rule entry (for findings about the subject).
pub(crate) fn subject_path(rule: &RuleEntry) -> Path {
    let base = match rule.path.segments() {
        [crate::path::Segment::Key(first), crate::path::Segment::Index(index), ..] if first == "specs" => Path::root().key("specs").index(*index),
        _ => Path::root().key("spec"),
    };
    let field = match (&rule.origin, &rule.subject) {
        (RuleOrigin::Policy { kind, .. }, _) if kind == "NetworkPolicy" => "podSelector",
        (_, rules::Subject::Nodes(_)) => "nodeSelector",
        _ => "endpointSelector",
    };
    base.key(field)
}
