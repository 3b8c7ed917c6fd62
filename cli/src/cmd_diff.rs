//! `polc diff OLD_PATH... --against NEW_PATH...`: the flows whose verdict changes and the
//! per-endpoint policy-map entries that change between two sets of inputs, before anything is
//! applied. OLD may be a `kubectl get cnp,ccnp,netpol,pods,ns,nodes,svc -A -o yaml` dump of the
//! cluster and NEW the files of a repository (a side without pods borrows the other side's
//! inventory; see `--inventory`).
//!
//! `polc diff BUNDLE --live BPFFS_DIR` compares a compiled bundle with the maps a running agent
//! has live ([`live`]).
//!
//! Exit code 0 when nothing changes, 1 when something does, 2 on error (usage, IO, or inputs
//! with errors), like `diff` and `kubectl diff`. `--format human|json|markdown`; markdown is
//! meant for a pull-request comment. `docs/diff.md` explains how to read the output.

mod live;

use std::fmt::Write;
use std::path::PathBuf;

use polc_compiler::diag::{Diagnostic, Location, sort_diagnostics};
use polc_compiler::diff::inventory::{InventoryChoice, InventorySource, choose_inventory};
use polc_compiler::diff::{
    DirectionReason, End, EndKind, EntryChange, EntryOrigin, EntryValue, EntryVerdict, FlowChange, MapEntry, MapEntrySource, PolicyDiff, SourceEntry, diff_with,
};
use polc_compiler::lower::{Lowered, lower};
use polc_compiler::yaml::Limits;
use polc_compiler::{Options, Parsed, SourceMap, parse};
use polc_ebpf::from_ir::{self, EntrySource};
use polc_ir::{DecidingRule, Decision, Direction, DirectionPolicy, NumericIdentity, RuleOrigin, RuleVerdict};
use serde_json::{Value as Json, json};

use crate::cmd_trace::{SemanticsArgs, describe_origin, origin_json, report_errors, report_warnings};
use crate::exit::{Exit, Failure};
use crate::inputs::{self, Inputs};
use crate::output::print;

/// Output formats of `diff`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// grouped changes as text
    Human,
    /// one JSON document
    Json,
    /// Markdown for a pull-request comment
    Markdown,
}

/// Which inventory each side is evaluated against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InventoryArg {
    /// each side its own; a side without pods borrows the other side's inventory
    Auto,
    /// each side only its own inventory
    Own,
    /// both sides the old inputs' inventory (only policy changes show)
    Old,
    /// both sides the new inputs' inventory
    New,
}

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The old inputs: files or directories (searched recursively for .yaml/.yml), such as a
    /// `kubectl get cnp,ccnp,netpol,pods,ns,nodes,svc -A -o yaml` dump; `-` reads stdin. With
    /// `--live`, one compiled bundle
    #[arg(required = true, value_name = "OLD_PATH")]
    pub old: Vec<PathBuf>,
    /// The new inputs (files or directories; `-` reads stdin)
    #[arg(long, num_args = 1.., value_name = "NEW_PATH", required_unless_present = "live", conflicts_with = "live")]
    pub against: Vec<PathBuf>,
    /// Compare the bundle OLD_PATH with the maps a running agent pinned under this bpffs directory
    #[arg(long, value_name = "BPFFS_DIR")]
    pub live: Option<PathBuf>,
    /// With `--live`: the node section of the bundle to compare (default: the bundle's only node)
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Which inventory (pods, namespaces, nodes, services) each side is evaluated against
    #[arg(long, value_enum, value_name = "WHICH", default_value_t = InventoryArg::Auto)]
    pub inventory: InventoryArg,
    /// Output format
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// Largest input file polc reads, in bytes; larger files are reported (PLC1005)
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_source_bytes)]
    pub max_file_size: usize,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
}

/// Moves every location of `diagnostic` to source ids `offset` higher.
fn shift(mut diagnostic: Diagnostic, offset: u32) -> Diagnostic {
    let move_location = |location: &mut Location| location.source = polc_compiler::SourceId(location.source.0 + offset);
    if let Some(location) = &mut diagnostic.location {
        move_location(location);
    }
    for related in &mut diagnostic.related {
        move_location(&mut related.location);
    }
    diagnostic
}

/// One side's sources as the front end sees them: the other side's files are present by name
/// with no text, so that every object's source id is its id in the shared map.
fn side_map(all: &SourceMap, own: std::ops::Range<u32>) -> SourceMap {
    let mut map = SourceMap::new();
    for id in all.ids() {
        let source = all.get(id);
        map.add(source.name.clone(), if own.contains(&id.0) { source.text.clone() } else { String::new() });
    }
    map
}

/// The parsed inputs of both sides, over one shared source map.
struct BothSides {
    sources: SourceMap,
    parsed: [Parsed; 2],
}

fn load_both(args: &Args) -> Result<BothSides, Failure> {
    let is_stdin = |path: &PathBuf| path.as_os_str() == "-";
    if args.old.iter().any(is_stdin) && args.against.iter().any(is_stdin) {
        return Err(Failure::new("`-` (stdin) can be one side of the diff, not both"));
    }
    let mut stdin = std::io::stdin().lock();
    let old: Inputs = inputs::load(&args.old, args.max_file_size, &mut stdin)?;
    let new: Inputs = inputs::load(&args.against, args.max_file_size, &mut stdin)?;
    let mut sources = SourceMap::new();
    for side in [&old, &new] {
        for id in side.sources.ids() {
            let source = side.sources.get(id);
            sources.add(source.name.clone(), source.text.clone());
        }
    }
    let old_count = old.sources.len() as u32;
    let total = sources.len() as u32;
    let options = Options { limits: Limits { max_source_bytes: args.max_file_size, ..Limits::default() } };
    let mut parsed = [parse(&side_map(&sources, 0..old_count), &options), parse(&side_map(&sources, old_count..total), &options)];
    parsed[0].diagnostics.extend(old.diagnostics);
    parsed[1].diagnostics.extend(new.diagnostics.into_iter().map(|diagnostic| shift(diagnostic, old_count)));
    for side in &mut parsed {
        sort_diagnostics(&mut side.diagnostics);
    }
    Ok(BothSides { sources, parsed })
}

const SIDE_NAMES: [&str; 2] = ["old", "new"];

/// The eBPF backend's policy-map entries (`polc_ebpf::from_ir`): the entries a compiled bundle
/// holds, with their proxy ports, precedence and authentication.
struct EbpfEntries;

impl MapEntrySource for EbpfEntries {
    fn direction_entries(&self, policy: &DirectionPolicy, direction: Direction) -> Result<Vec<SourceEntry>, String> {
        let entries = from_ir::direction_entries(policy, direction).map_err(|error| error.message().to_owned())?;
        Ok(entries
            .into_iter()
            .map(|sourced| {
                let entry = sourced.entry;
                let verdict = match (entry.deny, entry.proxy_port) {
                    (true, _) => EntryVerdict::Deny,
                    (false, 0) => EntryVerdict::Allow,
                    (false, _) => EntryVerdict::Redirect,
                };
                SourceEntry {
                    identity: NumericIdentity(entry.identity),
                    protocol: entry.protocol,
                    port: entry.port,
                    prefix_len: entry.port_prefix_len,
                    value: EntryValue {
                        verdict,
                        proxy_port: entry.proxy_port,
                        precedence: entry.precedence,
                        auth_type: entry.auth_type,
                        auth_explicit: entry.auth_explicit,
                        l7: Vec::new(),
                    },
                    origins: sourced
                        .sources
                        .into_iter()
                        .map(|source| match source {
                            EntrySource::Rule(origin) => EntryOrigin::Rule(origin),
                            EntrySource::NotEnforced => EntryOrigin::NotEnforced,
                            EntrySource::DefaultAllow => EntryOrigin::DefaultAllow,
                        })
                        .collect(),
                }
            })
            .collect())
    }
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    if args.node.is_some() && args.live.is_none() {
        return Err(Failure::new("`--node` chooses the bundle's node for `--live`; without `--live` both sides are compiled for every node"));
    }
    if let Some(bpffs) = &args.live {
        let [bundle] = args.old.as_slice() else {
            return Err(Failure::new("`--live` compares one bundle: give its directory as the only path"));
        };
        return live::run(bundle, bpffs, args.node.as_deref(), args.format);
    }
    let both = load_both(args)?;
    let mut has_errors = false;
    for (side, parsed) in both.parsed.iter().enumerate() {
        if report_errors(&both.sources, &parsed.diagnostics) {
            eprintln!("polc: the {} inputs have errors; fix them before diffing", SIDE_NAMES[side]);
            has_errors = true;
        }
    }
    if has_errors {
        return Ok(Exit::Failure);
    }
    let choice = match args.inventory {
        InventoryArg::Auto => InventoryChoice::Auto,
        InventoryArg::Own => InventoryChoice::Own,
        InventoryArg::Old => InventoryChoice::Old,
        InventoryArg::New => InventoryChoice::New,
    };
    let (objects, inventory_sources) = choose_inventory(&both.parsed[0].objects, &both.parsed[1].objects, choice);
    let options = args.semantics.options();
    let lowered = [lower(&objects[0], &options), lower(&objects[1], &options)];
    for (side, side_lowered) in lowered.iter().enumerate() {
        if report_errors(&both.sources, &side_lowered.diagnostics) {
            eprintln!("polc: the {} inputs have errors; fix them before diffing", SIDE_NAMES[side]);
            has_errors = true;
        }
    }
    if has_errors {
        return Ok(Exit::Failure);
    }
    if args.format == DiffFormat::Human {
        // Inputs both sides share give the same warnings twice: show them once.
        let mut warnings: Vec<Diagnostic> = lowered.iter().flat_map(|side| side.diagnostics.iter().cloned()).collect();
        sort_diagnostics(&mut warnings);
        warnings.dedup();
        report_warnings(&both.sources, &warnings);
    }
    let mut notes = Vec::new();
    for (side, source) in inventory_sources.iter().enumerate() {
        let (this, other) = (SIDE_NAMES[side], SIDE_NAMES[1 - side]);
        match source {
            InventorySource::Own => {}
            InventorySource::Borrowed => {
                notes.push(format!("the {this} inputs have no pods: they are evaluated against the {other} inputs' inventory (`--inventory` changes this)"))
            }
            InventorySource::Other => notes.push(format!("the {this} inputs are evaluated against the {other} inputs' inventory (`--inventory {other}`)")),
        }
    }
    let result =
        diff_with(&lowered[0].ir, &lowered[1].ir, &EbpfEntries).map_err(|message| Failure::new(format!("cannot build the policy-map entries: {message}")))?;
    let view = View { sources: &both.sources, lowered: [&lowered[0], &lowered[1]], diff: &result, notes: &notes };
    let text = match args.format {
        DiffFormat::Human => render_human(&view),
        DiffFormat::Json => {
            let mut text = serde_json::to_string_pretty(&render_json(&view)).unwrap_or_default();
            text.push('\n');
            text
        }
        DiffFormat::Markdown => render_markdown(&view),
    };
    print(&text);
    Ok(if result.is_empty() { Exit::Clean } else { Exit::Findings })
}

/// Everything a renderer needs.
struct View<'a> {
    sources: &'a SourceMap,
    lowered: [&'a Lowered; 2],
    diff: &'a PolicyDiff,
    notes: &'a [String],
}

/// How many names a human or markdown list shows before `and N more`.
const SHOWN_NAMES: usize = 6;
/// How many enforcing rules a reason shows before `and N more`.
const SHOWN_RULES: usize = 3;

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 { format!("{count} {one}") } else { format!("{count} {many}") }
}

/// The names an end list stands for: pods one by one, then nodes and address regions.
fn end_names(diff: &PolicyDiff, ends: &[usize]) -> Vec<String> {
    let mut names = Vec::new();
    for index in ends {
        let end: &End = &diff.ends[*index];
        match &end.kind {
            EndKind::Pods { pods } => names.extend(pods.iter().cloned()),
            _ => names.push(end.describe()),
        }
    }
    names
}

fn shorten(names: &[String], limit: usize, code: bool) -> String {
    let quote = |name: &String| if code { format!("`{name}`") } else { name.clone() };
    if names.len() <= limit {
        return names.iter().map(quote).collect::<Vec<_>>().join(", ");
    }
    let shown: Vec<String> = names.iter().take(limit).map(quote).collect();
    format!("{} and {} more", shown.join(", "), names.len() - limit)
}

fn ports_text(diff: &PolicyDiff, ports: &[usize]) -> String {
    let parts: Vec<String> = ports.iter().filter_map(|index| diff.port_classes.get(*index)).map(|class| class.describe()).collect();
    parts.join("; ")
}

/// What a decision says, before its rules.
fn decision_phrase(decision: Decision) -> &'static str {
    match decision {
        Decision::NotEnforced => "not enforced (no policy selects the endpoint), so allowed",
        Decision::Allowed => "allowed by",
        Decision::AllowedToProxy => "allowed to the L7 proxy by",
        Decision::AllowedByL7 => "allowed by the L7 rules of",
        Decision::AllowedByDefault => "allowed by default (`enableDefaultDeny: false`)",
        Decision::Denied => "denied by",
        Decision::DeniedByL7 => "denied by the L7 rules of",
        Decision::DefaultDenied => "default-deny",
        Decision::AuthenticationFails => "authentication `test-always-fail` fails for",
    }
}

fn origin_text(view: &View<'_>, side: usize, origin: &RuleOrigin) -> String {
    describe_origin(view.sources, view.lowered[side], origin)
}

fn rule_text(view: &View<'_>, side: usize, rule: &DecidingRule) -> String {
    format!("{} [{}]", origin_text(view, side, &rule.origin), rule.l4)
}

/// `ingress: default-deny (enforced by ...)` or `egress: allowed by CNP ... [8080/TCP]`.
fn reason_text(view: &View<'_>, side: usize, reason: &DirectionReason) -> String {
    let mut text = format!("{}: {}", reason.direction, decision_phrase(reason.decision));
    if !reason.rules.is_empty() {
        let rules: Vec<String> = reason.rules.iter().map(|rule| rule_text(view, side, rule)).collect();
        let _ = write!(text, " {}", rules.join(", "));
    }
    if !reason.enforced_by.is_empty() {
        let rules: Vec<String> = reason.enforced_by.iter().take(SHOWN_RULES).map(|origin| origin_text(view, side, origin)).collect();
        let more = reason.enforced_by.len().saturating_sub(SHOWN_RULES);
        let _ = write!(text, " (enforced by {}", rules.join(", "));
        if more > 0 {
            let _ = write!(text, " and {}", plural(more, "more rule", "more rules"));
        }
        text.push(')');
    }
    if let Some(mode) = reason.auth {
        let _ = write!(text, " (authentication {})", mode.as_str());
    }
    text
}

fn reasons_text(view: &View<'_>, side: usize, reasons: &[DirectionReason]) -> Vec<String> {
    if reasons.is_empty() {
        return vec!["no policy applies (neither end is an endpoint with a policy)".to_owned()];
    }
    reasons.iter().map(|reason| reason_text(view, side, reason)).collect()
}

/// Why an entry is there, in words.
fn entry_origin_text(view: &View<'_>, side: usize, origin: &EntryOrigin) -> String {
    match origin {
        EntryOrigin::Rule(rule) => origin_text(view, side, rule),
        EntryOrigin::NotEnforced => "no policy selects the endpoint in this direction (allow all)".to_owned(),
        EntryOrigin::DefaultAllow => "the policies set `enableDefaultDeny: false` (lowest-tier allow all)".to_owned(),
    }
}

fn entry_origin_json(view: &View<'_>, side: usize, origin: &EntryOrigin) -> Json {
    match origin {
        EntryOrigin::Rule(rule) => origin_json(view.sources, view.lowered[side], rule),
        EntryOrigin::NotEnforced => json!({"kind": "not-enforced"}),
        EntryOrigin::DefaultAllow => json!({"kind": "default-allow"}),
    }
}

fn entry_origin_markdown(view: &View<'_>, side: usize, origin: &EntryOrigin) -> String {
    match origin {
        EntryOrigin::Rule(rule) => origin_markdown(view, side, rule),
        EntryOrigin::NotEnforced => "not enforced (allow all)".to_owned(),
        EntryOrigin::DefaultAllow => "`enableDefaultDeny: false` (allow all)".to_owned(),
    }
}

/// The values of a changed entry, with the precedence when nothing else tells them apart.
fn value_texts(old: &MapEntry, new: &MapEntry) -> (String, String) {
    let (old_text, new_text) = (old.value.describe(), new.value.describe());
    if old_text == new_text && old.value.l7 == new.value.l7 {
        return (old.value.describe_with_precedence(), new.value.describe_with_precedence());
    }
    (old_text, new_text)
}

fn entry_text(view: &View<'_>, side: usize, entry: &MapEntry) -> String {
    entry_text_with(view, side, entry, entry.value.describe())
}

fn entry_text_with(view: &View<'_>, side: usize, entry: &MapEntry, value: String) -> String {
    let mut text = format!("{} {}: {value}", entry.describe_identity(), entry.describe_l4());
    if !entry.value.l7.is_empty() {
        let _ = write!(text, " [{}]", entry.value.l7.join("; "));
    }
    if let Some(origin) = entry.origins.first() {
        let _ = write!(text, " — {}", entry_origin_text(view, side, origin));
        if entry.origins.len() > 1 {
            let _ = write!(text, " and {}", plural(entry.origins.len() - 1, "more rule", "more rules"));
        }
    }
    text
}

fn summary_line(diff: &PolicyDiff) -> String {
    if diff.is_empty() {
        return format!(
            "no change: no flow changes verdict and no policy-map entry changes ({} endpoints, {} end pairs on {} compared)",
            diff.stats.common_endpoints,
            diff.stats.end_pairs,
            plural(diff.stats.port_classes, "port class", "port classes")
        );
    }
    let directions: usize = diff.entries.iter().map(|change| change.endpoints.len()).sum();
    let enforcement: usize = diff.enforcement.iter().map(|change| change.endpoints.len()).sum();
    let mut parts = vec![
        format!(
            "{} of flows change verdict ({})",
            plural(diff.flows.len(), "group", "groups"),
            plural(diff.changed_endpoint_pairs() as usize, "endpoint pair", "endpoint pairs")
        ),
        format!("policy-map entries change in {}", plural(directions, "endpoint direction", "endpoint directions")),
        format!("enforcement changes in {}", plural(enforcement, "endpoint direction", "endpoint directions")),
    ];
    let only = diff.endpoints_only_old.len() + diff.endpoints_only_new.len();
    if only > 0 {
        parts.push(format!("{} on one side only", plural(only, "endpoint", "endpoints")));
    }
    parts.join("; ")
}

fn render_human(view: &View<'_>) -> String {
    let diff = view.diff;
    let mut out = String::new();
    let _ = writeln!(out, "polc diff: {}", summary_line(diff));
    for note in view.notes {
        let _ = writeln!(out, "note: {note}");
    }
    if !diff.flows.is_empty() {
        let _ = writeln!(out, "\nflows that change verdict:");
        for change in &diff.flows {
            render_human_flow(view, change, &mut out);
        }
    }
    if !diff.entries.is_empty() {
        let _ = writeln!(out, "\npolicy-map entries that change (+ added, - removed, ~ changed):");
        for change in &diff.entries {
            render_human_entries(view, change, &mut out);
        }
    }
    if !diff.enforcement.is_empty() {
        let _ = writeln!(out, "\nenforcement that changes:");
        for change in &diff.enforcement {
            let _ = writeln!(
                out,
                "  {} of {}: {} -> {}",
                change.direction,
                shorten(&change.endpoints, SHOWN_NAMES, false),
                change.old.describe(),
                change.new.describe()
            );
        }
    }
    for (names, side) in [(&diff.endpoints_only_old, "old"), (&diff.endpoints_only_new, "new")] {
        if !names.is_empty() {
            let _ = writeln!(out, "\nendpoints only in the {side} inputs (their flows are not compared): {}", shorten(names, SHOWN_NAMES * 2, false));
        }
    }
    out
}

fn render_human_flow(view: &View<'_>, change: &FlowChange, out: &mut String) {
    let diff = view.diff;
    let sources = end_names(diff, &change.sources);
    let destinations = end_names(diff, &change.destinations);
    let _ = writeln!(out, "\n  {} -> {}", shorten(&sources, SHOWN_NAMES, false), shorten(&destinations, SHOWN_NAMES, false));
    let _ = writeln!(
        out,
        "    {}: {} -> {} ({})",
        ports_text(diff, &change.ports),
        change.old,
        change.new,
        plural(change.endpoint_pairs as usize, "pair", "pairs")
    );
    for (side, reasons) in [(0, &change.old_reasons), (1, &change.new_reasons)] {
        for (index, line) in reasons_text(view, side, reasons).iter().enumerate() {
            let label = if index == 0 { format!("{}:", SIDE_NAMES[side]) } else { String::new() };
            let _ = writeln!(out, "    {label:<4} {line}");
        }
    }
}

fn render_human_entries(view: &View<'_>, change: &EntryChange, out: &mut String) {
    let _ = writeln!(out, "\n  {} of {}", change.direction, shorten(&change.endpoints, SHOWN_NAMES, false));
    for entry in &change.added {
        let _ = writeln!(out, "    + {}", entry_text(view, 1, entry));
    }
    for entry in &change.removed {
        let _ = writeln!(out, "    - {}", entry_text(view, 0, entry));
    }
    for (old, new) in &change.changed {
        let (old_value, new_value) = value_texts(old, new);
        let _ = writeln!(out, "    ~ {}", entry_text_with(view, 0, old, old_value));
        let _ = writeln!(out, "      -> {}", entry_text_with(view, 1, new, new_value));
    }
    if !change.renumbered.is_empty() {
        let _ = writeln!(
            out,
            "    {} keep their meaning but their identity number moves (polc numbers CIDR identities in prefix order)",
            plural(change.renumbered.len(), "entry", "entries")
        );
    }
}

// ----- JSON -----

fn end_json(end: &End) -> Json {
    let identity = json!({"old": end.identity[0].0, "new": end.identity[1].0});
    let labels = json!({"old": end.identity_description[0], "new": end.identity_description[1]});
    match &end.kind {
        EndKind::Pods { pods } => json!({"kind": "pods", "pods": pods, "identity": identity, "identityLabels": labels}),
        EndKind::Node { name } => json!({"kind": "node", "node": name}),
        EndKind::LocalHost => json!({"kind": "host"}),
        EndKind::RemoteNode => json!({"kind": "remote-node"}),
        EndKind::External { regions, example } => json!({
            "kind": if regions.iter().all(|region| region.is_world()) { "world" } else { "cidr" },
            "regions": regions.iter().map(|region| json!({
                "prefix": region.prefix.to_string(),
                "except": region.except.iter().map(ToString::to_string).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "example": example.to_string(),
            "identity": identity,
            "identityLabels": labels,
        }),
    }
}

fn port_json(diff: &PolicyDiff, index: usize) -> Json {
    match diff.port_classes.get(index) {
        Some(class) => json!({
            "description": class.describe(),
            "other": class.other,
            "ranges": class.ranges.iter().map(|(protocol, range)| json!({"protocol": protocol.name(), "first": range.first(), "last": range.last()})).collect::<Vec<_>>(),
            "example": {"protocol": class.protocol.name(), "port": class.port},
        }),
        None => Json::Null,
    }
}

fn reason_json(view: &View<'_>, side: usize, reason: &DirectionReason) -> Json {
    json!({
        "direction": reason.direction,
        "decision": reason.decision,
        "rules": reason.rules.iter().map(|rule| {
            let mut value = origin_json(view.sources, view.lowered[side], &rule.origin);
            if let Json::Object(map) = &mut value {
                map.insert("verdict".to_owned(), json!(if rule.verdict == RuleVerdict::Allow { "allow" } else { "deny" }));
                map.insert("l4".to_owned(), json!(rule.l4.to_string()));
                if let Some(l7) = &rule.l7 {
                    map.insert("l7".to_owned(), json!(l7));
                }
            }
            value
        }).collect::<Vec<_>>(),
        "enforcedBy": reason.enforced_by.iter().map(|origin| origin_json(view.sources, view.lowered[side], origin)).collect::<Vec<_>>(),
        "auth": reason.auth.map(|mode| mode.as_str()),
    })
}

fn entry_json(view: &View<'_>, side: usize, entry: &MapEntry) -> Json {
    json!({
        "identity": entry.identity.0,
        "identityLabels": entry.identity_description,
        "protocol": entry.protocol.map(|protocol| protocol.name()),
        "ports": entry.ports.map(|block| json!({"first": block.first, "last": block.last, "prefixLength": block.prefix_len})),
        "verdict": match entry.value.verdict {
            EntryVerdict::Allow => "allow",
            EntryVerdict::Redirect => "redirect",
            EntryVerdict::Deny => "deny",
        },
        "l7": entry.value.l7,
        "proxyPort": entry.value.proxy_port,
        "precedence": entry.value.precedence,
        "authType": entry.value.auth_type,
        "authExplicit": entry.value.auth_explicit,
        "rules": entry.origins.iter().map(|origin| entry_origin_json(view, side, origin)).collect::<Vec<_>>(),
    })
}

fn render_json(view: &View<'_>) -> Json {
    let diff = view.diff;
    json!({
        "changed": !diff.is_empty(),
        "summary": {
            "flowGroups": diff.flows.len(),
            "changedEndpointPairs": diff.changed_endpoint_pairs(),
            "entriesAdded": diff.entries.iter().map(|change| change.added.len() * change.endpoints.len()).sum::<usize>(),
            "entriesRemoved": diff.entries.iter().map(|change| change.removed.len() * change.endpoints.len()).sum::<usize>(),
            "entriesChanged": diff.entries.iter().map(|change| change.changed.len() * change.endpoints.len()).sum::<usize>(),
            "entriesRenumbered": diff.entries.iter().map(|change| change.renumbered.len() * change.endpoints.len()).sum::<usize>(),
            "enforcementChanges": diff.enforcement.iter().map(|change| change.endpoints.len()).sum::<usize>(),
        },
        "notes": view.notes,
        "flows": diff.flows.iter().map(|change| json!({
            "from": change.sources.iter().map(|index| end_json(&diff.ends[*index])).collect::<Vec<_>>(),
            "to": change.destinations.iter().map(|index| end_json(&diff.ends[*index])).collect::<Vec<_>>(),
            "ports": change.ports.iter().map(|index| port_json(diff, *index)).collect::<Vec<_>>(),
            "old": change.old.name(),
            "new": change.new.name(),
            "endpointPairs": change.endpoint_pairs,
            "oldRules": change.old_reasons.iter().map(|reason| reason_json(view, 0, reason)).collect::<Vec<_>>(),
            "newRules": change.new_reasons.iter().map(|reason| reason_json(view, 1, reason)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "entries": diff.entries.iter().map(|change| json!({
            "direction": change.direction,
            "endpoints": change.endpoints,
            "added": change.added.iter().map(|entry| entry_json(view, 1, entry)).collect::<Vec<_>>(),
            "removed": change.removed.iter().map(|entry| entry_json(view, 0, entry)).collect::<Vec<_>>(),
            "changed": change.changed.iter().map(|(old, new)| json!({"old": entry_json(view, 0, old), "new": entry_json(view, 1, new)})).collect::<Vec<_>>(),
            "renumbered": change.renumbered.iter().map(|(old, new)| json!({"old": entry_json(view, 0, old), "new": entry_json(view, 1, new)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "enforcement": diff.enforcement.iter().map(|change| json!({
            "direction": change.direction,
            "endpoints": change.endpoints,
            "old": change.old.name(),
            "new": change.new.name(),
        })).collect::<Vec<_>>(),
        "endpointsOnlyInOld": diff.endpoints_only_old,
        "endpointsOnlyInNew": diff.endpoints_only_new,
        "stats": {
            "commonEndpoints": diff.stats.common_endpoints,
            "ends": diff.stats.ends,
            "portClasses": diff.stats.port_classes,
            "endPairs": diff.stats.end_pairs,
            "rows": diff.stats.rows,
        },
    })
}

// ----- Markdown -----

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// A rule origin without its file position (a comment is read next to the diff).
fn origin_markdown(view: &View<'_>, side: usize, origin: &RuleOrigin) -> String {
    let location = view.lowered[side].origin_location(origin);
    let place = location.map(|location| format!(" ({}:{})", view.sources.get(location.source).name, location.span.start.line)).unwrap_or_default();
    match origin {
        RuleOrigin::Policy { kind, namespace, name, rule_path, .. } => {
            let name = match namespace {
                Some(namespace) => format!("{namespace}/{name}"),
                None => name.clone(),
            };
            format!("{kind} `{name}` `{rule_path}`{place}")
        }
        RuleOrigin::Implicit(rule) => format!("implicit rule `{}`", rule.as_str()),
    }
}

fn reason_markdown(view: &View<'_>, side: usize, reasons: &[DirectionReason]) -> String {
    if reasons.is_empty() {
        return "no policy applies".to_owned();
    }
    let parts: Vec<String> = reasons
        .iter()
        .map(|reason| {
            let mut text = format!("{}: {}", reason.direction, decision_phrase(reason.decision));
            if !reason.rules.is_empty() {
                let rules: Vec<String> = reason.rules.iter().map(|rule| format!("{} [{}]", origin_markdown(view, side, &rule.origin), rule.l4)).collect();
                let _ = write!(text, " {}", rules.join(", "));
            }
            if !reason.enforced_by.is_empty() {
                let rules: Vec<String> = reason.enforced_by.iter().take(SHOWN_RULES).map(|origin| origin_markdown(view, side, origin)).collect();
                let more = reason.enforced_by.len().saturating_sub(SHOWN_RULES);
                let _ = write!(text, " (enforced by {}", rules.join(", "));
                if more > 0 {
                    let _ = write!(text, " and {}", plural(more, "more rule", "more rules"));
                }
                text.push(')');
            }
            text
        })
        .collect();
    cell(&parts.join("<br>"))
}

fn verdict_markdown(verdict: polc_compiler::diff::FlowVerdict) -> String {
    format!("`{}`", verdict.name())
}

fn entry_markdown_row(view: &View<'_>, side: usize, mark: &str, old: Option<&MapEntry>, new: Option<&MapEntry>) -> String {
    let Some(entry) = new.or(old) else { return String::new() };
    let (old_value, new_value) = match (old, new) {
        (Some(old), Some(new)) => {
            let (old_value, new_value) = value_texts(old, new);
            (Some((old, old_value)), Some((new, new_value)))
        }
        _ => (old.map(|entry| (entry, entry.value.describe())), new.map(|entry| (entry, entry.value.describe()))),
    };
    let value = |shown: Option<(&MapEntry, String)>| {
        shown
            .map(|(entry, mut text)| {
                if !entry.value.l7.is_empty() {
                    let _ = write!(text, " [{}]", entry.value.l7.join("; "));
                }
                cell(&text)
            })
            .unwrap_or_default()
    };
    let rules: Vec<String> = entry.origins.iter().take(SHOWN_RULES).map(|origin| entry_origin_markdown(view, side, origin)).collect();
    format!(
        "| {mark} | {} | {} | {} | {} | {} |\n",
        cell(&entry.describe_identity()),
        cell(&entry.describe_l4()),
        value(old_value),
        value(new_value),
        cell(&rules.join(", "))
    )
}

fn render_markdown(view: &View<'_>) -> String {
    let diff = view.diff;
    let mut out = String::new();
    if diff.is_empty() {
        let _ = writeln!(out, "### polc diff: no change\n\n{}", summary_line(diff));
        for note in view.notes {
            let _ = writeln!(out, "\n> {note}");
        }
        return out;
    }
    let _ = writeln!(out, "### polc diff: {} of flows change verdict\n\n{}", plural(diff.flows.len(), "group", "groups"), summary_line(diff));
    for note in view.notes {
        let _ = writeln!(out, "\n> {note}");
    }
    if !diff.flows.is_empty() {
        let _ = writeln!(out, "\n#### Flows that change verdict\n");
        let _ = writeln!(out, "| From | To | Ports | Old | New | Old rules | New rules |");
        let _ = writeln!(out, "|---|---|---|---|---|---|---|");
        for change in &diff.flows {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&shorten(&end_names(diff, &change.sources), SHOWN_NAMES, true)),
                cell(&shorten(&end_names(diff, &change.destinations), SHOWN_NAMES, true)),
                cell(&ports_text(diff, &change.ports)),
                verdict_markdown(change.old),
                verdict_markdown(change.new),
                reason_markdown(view, 0, &change.old_reasons),
                reason_markdown(view, 1, &change.new_reasons),
            );
        }
    }
    if !diff.entries.is_empty() {
        let directions: usize = diff.entries.iter().map(|change| change.endpoints.len()).sum();
        let _ = writeln!(
            out,
            "\n<details><summary>Policy-map entries that change ({})</summary>\n",
            plural(directions, "endpoint direction", "endpoint directions")
        );
        for change in &diff.entries {
            let _ = writeln!(out, "**{} of {}**\n", change.direction, shorten(&change.endpoints, SHOWN_NAMES, true));
            let _ = writeln!(out, "| | Identity | L4 | Old | New | Rules |");
            let _ = writeln!(out, "|---|---|---|---|---|---|");
            for entry in &change.added {
                out.push_str(&entry_markdown_row(view, 1, "+", None, Some(entry)));
            }
            for entry in &change.removed {
                out.push_str(&entry_markdown_row(view, 0, "-", Some(entry), None));
            }
            for (old, new) in &change.changed {
                out.push_str(&entry_markdown_row(view, 1, "~", Some(old), Some(new)));
            }
            if !change.renumbered.is_empty() {
                let _ = writeln!(out, "\n{} keep their meaning but their identity number moves.", plural(change.renumbered.len(), "entry", "entries"));
            }
            out.push('\n');
        }
        let _ = writeln!(out, "</details>");
    }
    if !diff.enforcement.is_empty() {
        let _ = writeln!(out, "\n#### Enforcement that changes\n");
        for change in &diff.enforcement {
            let _ = writeln!(
                out,
                "- {} of {}: {} → {}",
                change.direction,
                shorten(&change.endpoints, SHOWN_NAMES, true),
                change.old.describe(),
                change.new.describe()
            );
        }
    }
    for (names, side) in [(&diff.endpoints_only_old, "old"), (&diff.endpoints_only_new, "new")] {
        if !names.is_empty() {
            let _ = writeln!(out, "\nEndpoints only in the {side} inputs (their flows are not compared): {}", shorten(names, SHOWN_NAMES * 2, true));
        }
    }
    out
}
