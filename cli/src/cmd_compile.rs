//! `polc compile PATH... -o DIR [--node NAME] [--policy-lookup hash|lpm]`: compiles the policies
//! and inventory among the inputs to a bundle: per node, the ipcache (and, in the `hash` lookup
//! mode, the HASH of its host entries) and, per endpoint, the policy map image (a HASH of the
//! same keys plus summary records in the `hash` mode, the default; Cilium's LPM trie in the
//! `lpm` mode) and the datapath object with its constants.
//!
//! The same inputs (same file names and texts, same options) give a byte-identical bundle: the
//! manifest records a digest of them. Exit 0 when the bundle is written; 1 when the inputs have
//! errors or cannot be compiled (such as a policy map over its limit); 2 for usage and IO problems.

use std::fmt::Write as _;
use std::path::PathBuf;

use polc_compiler::SourceMap;
use polc_compiler::lower::{Lowered, lower};
use polc_ebpf::bundle::{Digest, write_bundle};
use polc_ebpf::compile::{CompileError, CompileOptions, Compiled, PolicyLookup, SourcePlace, compile, to_bundle};
use polc_ir::RuleOrigin;

use crate::cmd_trace::{SemanticsArgs, report_errors, report_warnings};
use crate::exit::{Exit, Failure};
use crate::inputs::{InputArgs, load_and_parse};
use crate::output::print;

/// The compiler version written into bundles.
pub const COMPILER_VERSION: &str = concat!("polc ", env!("CARGO_PKG_VERSION"));

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// The bundle directory to write (replaced atomically when it holds a bundle already)
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    /// Compile only this node's section
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// How the datapath finds policy map and ipcache entries: `hash` (HASH probes, a cost per
    /// packet independent of the number of entries) or `lpm` (Cilium's LPM tries only)
    #[arg(long, value_enum, value_name = "MODE", default_value_t = PolicyLookupArg::Hash)]
    pub policy_lookup: PolicyLookupArg,
    // `--policy-map-max` (among these) is also the size of every endpoint's policy map.
    #[command(flatten)]
    pub semantics: SemanticsArgs,
}

/// `--policy-lookup`: the datapath's lookup mode ([`PolicyLookup`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyLookupArg {
    /// HASH probes of the policy map's keys and of the ipcache's host entries (the default)
    Hash,
    /// LPM tries for the policy map and the ipcache (Cilium's map types)
    Lpm,
}

impl PolicyLookupArg {
    pub fn mode(self) -> PolicyLookup {
        match self {
            PolicyLookupArg::Hash => PolicyLookup::Hash,
            PolicyLookupArg::Lpm => PolicyLookup::Lpm,
        }
    }
}

/// The file and line of a rule, for the bundle's rule origins.
pub fn locate<'a>(sources: &'a SourceMap, lowered: &'a Lowered) -> impl Fn(&RuleOrigin) -> Option<SourcePlace> + 'a {
    move |origin| {
        lowered.origin_location(origin).map(|location| SourcePlace {
            file: sources.get(location.source).name.clone(),
            line: location.span.start.line,
            column: location.span.start.col,
        })
    }
}

/// The digest of everything a compile depends on: every input's name and text, and the options.
fn inputs_digest(sources: &SourceMap, args: &Args) -> Digest {
    let mut named: Vec<(&str, &str)> = sources.ids().map(|id| (sources.get(id).name.as_str(), sources.get(id).text.as_str())).collect();
    named.sort();
    let options = format!(
        "node={:?} policy-map-max={} policy-lookup={} policy-enforcement={:?} host-firewall={} allow-localhost={} cluster-name={:?} dual-stack={}",
        args.node,
        args.semantics.policy_map_max,
        args.policy_lookup.mode().name(),
        args.semantics.policy_enforcement,
        args.semantics.host_firewall,
        args.semantics.allow_localhost,
        args.semantics.cluster_name,
        args.semantics.dual_stack
    );
    let mut parts: Vec<&[u8]> = vec![options.as_bytes()];
    for (name, text) in &named {
        parts.push(name.as_bytes());
        parts.push(text.as_bytes());
    }
    Digest::of_parts(&parts)
}

/// One line per node: endpoints and entries.
fn summary(compiled: &Compiled) -> String {
    let mut out = String::new();
    for node in compiled.nodes.iter().filter(|node| node.name.is_some()) {
        let entries: usize = node.endpoints.iter().map(|endpoint| endpoint.policy.len()).sum();
        let _ = writeln!(
            out,
            "  node {}: {} endpoint{}, {entries} policy map entr{}, {} ipcache entr{}",
            node.name.as_deref().unwrap_or_default(),
            node.endpoints.len(),
            if node.endpoints.len() == 1 { "" } else { "s" },
            if entries == 1 { "y" } else { "ies" },
            node.ipcache.len(),
            if node.ipcache.len() == 1 { "y" } else { "ies" },
        );
    }
    out
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let loaded = load_and_parse(&args.inputs)?;
    if report_errors(&loaded.sources, &loaded.parsed.diagnostics) {
        eprintln!("polc: the inputs have errors; fix them before compiling");
        return Ok(Exit::Findings);
    }
    let lowered = lower(&loaded.parsed.objects, &args.semantics.options());
    if report_errors(&loaded.sources, &lowered.diagnostics) {
        return Ok(Exit::Findings);
    }
    report_warnings(&loaded.sources, &lowered.diagnostics);
    let options = CompileOptions { node: args.node.clone(), policy_map_max_entries: args.semantics.policy_map_max, policy_lookup: args.policy_lookup.mode() };
    let compiled = match compile(&lowered.ir, &options, &locate(&loaded.sources, &lowered)) {
        Ok(compiled) => compiled,
        Err(error @ (CompileError::UnknownNode { .. } | CompileError::InvalidPolicyMapLimit { .. })) => return Err(Failure::new(error.to_string())),
        Err(error) => {
            eprintln!("polc: error: {error}");
            return Ok(Exit::Findings);
        }
    };
    for endpoint in compiled.unplaced_endpoints() {
        eprintln!("polc: warning: `{endpoint}` runs on no node (no `spec.nodeName`), so no node section holds it");
    }
    if compiled.nodes.iter().all(|node| node.name.is_none()) {
        return Err(Failure::new("the inputs have no node to compile for: add Node objects, or pods with `spec.nodeName`"));
    }
    let bundle = match to_bundle(&compiled, COMPILER_VERSION, inputs_digest(&loaded.sources, args)) {
        Ok(bundle) => bundle,
        Err(error) => {
            eprintln!("polc: error: {error}");
            return Ok(Exit::Findings);
        }
    };
    write_bundle(&bundle, &args.output).map_err(|error| Failure::new(error.to_string()))?;
    let mut out = format!("wrote bundle `{}` ({})\n", args.output.display(), bundle.digest());
    out.push_str(&summary(&compiled));
    print(&out);
    Ok(Exit::Clean)
}

/// Argument parsing for the tests of this and other commands.
#[cfg(test)]
pub(crate) mod tests_support {
    use clap::Parser;

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        args: super::Args,
    }

    /// `polc compile WORDS...` as parsed arguments.
    pub(crate) fn args(words: &[&str]) -> super::Args {
        try_args(words).expect("valid arguments")
    }

    /// `polc compile WORDS...` as parsed arguments, or clap's refusal.
    pub(crate) fn try_args(words: &[&str]) -> Result<super::Args, clap::Error> {
        Command::try_parse_from(std::iter::once("polc-compile").chain(words.iter().copied())).map(|command| command.args)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    use super::tests_support::args;
    use super::*;

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples")
    }

    /// Every file of a bundle directory, relative path → bytes.
    fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
        let mut found = Vec::new();
        let mut pending = vec![root.to_path_buf()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("readable bundle directory") {
                let path = entry.expect("directory entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let relative = path.strip_prefix(root).expect("inside the bundle").display().to_string();
                    found.push((relative, std::fs::read(&path).expect("readable bundle file")));
                }
            }
        }
        found.sort();
        found
    }

    #[test]
    fn the_same_inputs_give_a_byte_identical_bundle() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let first = dir.path().join("first");
        let second = dir.path().join("second");
        let inputs = [examples().join("inventory").display().to_string(), examples().join("cilium-policy/l7-http.yaml").display().to_string()];
        for output in [&first, &second] {
            let output = output.display().to_string();
            assert_eq!(run(&args(&[&inputs[0], &inputs[1], "-o", &output])).expect("compiles"), Exit::Clean);
        }
        let first_files = files(&first);
        assert!(first_files.len() > 2, "a manifest and blobs: {:?}", first_files.iter().map(|(name, _)| name).collect::<Vec<_>>());
        assert_eq!(first_files, files(&second));
        // Compiling again over an existing bundle replaces it with the same bytes.
        assert_eq!(run(&args(&[&inputs[0], &inputs[1], "-o", &first.display().to_string()])).expect("compiles"), Exit::Clean);
        assert_eq!(files(&first), first_files);
        // Different inputs give a different bundle.
        let third = dir.path().join("third");
        let other = examples().join("cilium-policy/deny.yaml").display().to_string();
        assert_eq!(run(&args(&[&inputs[0], &other, "-o", &third.display().to_string()])).expect("compiles"), Exit::Clean);
        assert_ne!(files(&third), first_files);
    }

    #[test]
    fn the_agent_accepts_every_node_of_a_compiled_bundle() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let output = dir.path().join("bundle");
        let inputs: Vec<String> = ["inventory", "cilium-policy/l7-http.yaml", "cilium-policy/deny.yaml", "cilium-policy/clusterwide-host-firewall.yaml"]
            .iter()
            .map(|path| examples().join(path).display().to_string())
            .collect();
        let mut words: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let target = output.display().to_string();
        words.extend(["-o", target.as_str()]);
        assert_eq!(run(&args(&words)).expect("compiles"), Exit::Clean);
        let bundle = polc_ebpf::bundle::read_bundle(&output).expect("a valid bundle");
        for node in &bundle.manifest().nodes {
            let plan = polc_agent::contract::plan(&bundle, Some(&node.name), &polc_agent::Limits::default())
                .unwrap_or_else(|error| panic!("node `{}`: the agent refuses the bundle: {error}", node.name));
            assert_eq!(plan.endpoints.len(), node.endpoints.len());
            assert!(plan.endpoints.iter().any(|endpoint| endpoint.name == "host"), "the node itself is an endpoint");
            assert!(!plan.maps.contains_key(polc_ebpf::compile::RULE_ORIGINS_MAP), "metadata maps are never loaded");
        }
    }

    #[test]
    fn node_selection_and_limits() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let inventory = examples().join("inventory").display().to_string();
        let output = dir.path().join("bundle").display().to_string();
        assert_eq!(run(&args(&[&inventory, "-o", &output, "--node", "node-b"])).expect("compiles"), Exit::Clean);
        let bundle = polc_ebpf::bundle::read_bundle(Path::new(&output)).expect("a valid bundle");
        let nodes: Vec<&str> = bundle.manifest().nodes.iter().map(|node| node.name.as_str()).collect();
        assert_eq!(nodes, vec!["node-b"]);
        let failure = run(&args(&[&inventory, "-o", &output, "--node", "node-z"])).expect_err("no such node");
        assert!(failure.lines[0].contains("`node-z`") && failure.lines[0].contains("`node-a`"), "{:?}", failure.lines);
        // In the LPM lookup mode, the limit is the map's size.
        assert_eq!(run(&args(&[&inventory, "-o", &output, "--policy-map-max", "4096", "--policy-lookup", "lpm"])).expect("compiles"), Exit::Clean);
        let bundle = polc_ebpf::bundle::read_bundle(Path::new(&output)).expect("a valid bundle");
        let sizes: Vec<u32> =
            bundle.manifest().nodes.iter().flat_map(|node| node.maps.iter()).filter(|map| map.name.starts_with("policy/")).map(|map| map.max_entries).collect();
        assert!(!sizes.is_empty() && sizes.iter().all(|size| *size == 4096), "{sizes:?}");
    }

    /// The outer maps every endpoint of the bundle at `output` binds, and the lookup constants
    /// of its objects.
    fn lookup_of(output: &str) -> (BTreeSet<String>, BTreeSet<(u64, u64)>) {
        let bundle = polc_ebpf::bundle::read_bundle(Path::new(output)).expect("a valid bundle");
        let nodes = &bundle.manifest().nodes;
        let outers = nodes.iter().flat_map(|node| node.endpoints.iter()).flat_map(|endpoint| endpoint.maps.keys().cloned()).collect();
        let constant = |object: &polc_ebpf::bundle::ObjectSection, name: &str| object.constants.get(name).map_or(u64::MAX, |constant| constant.value);
        let modes = nodes
            .iter()
            .flat_map(|node| node.objects.iter())
            .map(|object| (constant(object, "policy_map_hash"), constant(object, "ipcache_host_hash")))
            .collect();
        (outers, modes)
    }

    #[test]
    fn the_policy_lookup_mode_is_hash_unless_lpm_is_asked_for() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let inventory = examples().join("inventory").display().to_string();
        let policy = examples().join("cilium-policy/l7-http.yaml").display().to_string();
        let default = dir.path().join("default").display().to_string();
        let hash = dir.path().join("hash").display().to_string();
        let lpm = dir.path().join("lpm").display().to_string();
        assert_eq!(run(&args(&[&inventory, &policy, "-o", &default])).expect("compiles"), Exit::Clean);
        assert_eq!(run(&args(&[&inventory, &policy, "-o", &hash, "--policy-lookup", "hash"])).expect("compiles"), Exit::Clean);
        assert_eq!(run(&args(&[&inventory, &policy, "-o", &lpm, "--policy-lookup", "lpm"])).expect("compiles"), Exit::Clean);
        let words = |names: &[&str]| names.iter().map(|name| name.to_string()).collect::<BTreeSet<String>>();
        assert_eq!(lookup_of(&default), (words(&["polc_ipcache", "polc_ipcache_hash", "polc_policy_hash"]), [(1, 1)].into_iter().collect()));
        assert_eq!(lookup_of(&lpm), (words(&["polc_ipcache", "polc_policy"]), [(0, 0)].into_iter().collect()));
        assert_eq!(files(Path::new(&default)), files(Path::new(&hash)), "`hash` is the default");
        // The mode is part of the inputs digest.
        let digest = |output: &str| polc_ebpf::bundle::read_bundle(Path::new(output)).expect("a valid bundle").manifest().inputs_digest;
        assert_ne!(digest(&default), digest(&lpm));
        let parsed = super::tests_support::try_args(&[&inventory, "-o", &default, "--policy-lookup", "trie"]);
        assert!(parsed.is_err(), "only `hash` and `lpm` are modes");
    }
}
