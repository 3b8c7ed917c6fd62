//! Every FlowTest of `policies/examples/flowtests/` passes in the reference evaluator with the
//! sample inventory and the policies its `# policies:` line names (and `# options:`).

use std::path::{Path, PathBuf};

use polc_compiler::lower::{LowerOptions, lower};
use polc_compiler::semantics::run_flow_tests;
use polc_compiler::{Options, Severity, SourceMap, parse};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples")
}

/// The `# policies:` and `# options:` header lines of a FlowTest file.
fn header(text: &str) -> (Vec<String>, Vec<String>) {
    let mut policies = Vec::new();
    let mut options = Vec::new();
    for line in text.lines().take_while(|line| line.starts_with('#')) {
        if let Some(list) = line.strip_prefix("# policies:") {
            policies.extend(list.split(',').map(str::trim).filter(|item| !item.is_empty() && *item != "this file").map(str::to_owned));
        }
        if let Some(list) = line.strip_prefix("# options:") {
            options.extend(list.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned));
        }
    }
    (policies, options)
}

fn flowtest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples().join("flowtests"))
        .expect("policies/examples/flowtests exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.to_string_lossy().ends_with(".flowtest.yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_flowtest_passes_with_the_policies_it_names() {
    let files = flowtest_files();
    assert!(files.len() >= 15, "expected the example FlowTests, found {}", files.len());
    let inventory_path = examples().join("inventory/cluster.yaml");
    let inventory = std::fs::read_to_string(&inventory_path).expect("the sample inventory");
    let mut failures = Vec::new();
    let mut total = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable FlowTest");
        let (policies, options) = header(&text);
        assert!(text.lines().next().is_some_and(|line| line.starts_with("# policies:")), "{} must start with a `# policies:` line", file.display());
        let mut sources = SourceMap::new();
        sources.add("inventory/cluster.yaml", inventory.clone());
        for policy in &policies {
            let path = examples().join(policy);
            let policy_text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: cannot read {policy}: {error}", file.display()));
            sources.add(policy.clone(), policy_text);
        }
        sources.add(file.display().to_string(), text);
        let parsed = parse(&sources, &Options::default());
        let errors: Vec<String> =
            parsed.diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Error).map(|d| format!("{}: {}", d.code.id, d.message)).collect();
        assert!(errors.is_empty(), "{}: the inputs have errors: {errors:?}", file.display());
        let mut lower_options = LowerOptions::default();
        for option in &options {
            match option.as_str() {
                "dual-stack" => lower_options.settings.dual_stack = true,
                other => panic!("{}: unknown option `{other}`", file.display()),
            }
        }
        let lowered = lower(&parsed.objects, &lower_options);
        assert!(!lowered.diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error), "{}: {:?}", file.display(), lowered.diagnostics);
        let (outcomes, findings) = run_flow_tests(&parsed.objects, &lowered);
        assert!(findings.iter().all(|diagnostic| diagnostic.severity != Severity::Error), "{}: {findings:?}", file.display());
        assert!(!outcomes.is_empty(), "{} has no flows", file.display());
        total += outcomes.len();
        for outcome in outcomes.iter().filter(|outcome| !outcome.passed()) {
            let got = outcome.verdict.as_ref().map(|verdict| verdict.reason.clone()).or(outcome.error.clone()).unwrap_or_default();
            failures.push(format!(
                "{} flow {} ({}): expected {}, got {got}",
                file.display(),
                outcome.index,
                outcome.name,
                if outcome.expected_allow { "allow" } else { "deny" }
            ));
        }
    }
    assert!(failures.is_empty(), "{} of {total} flows failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn the_sample_inventory_has_the_agreed_names_and_no_errors() {
    let mut sources = SourceMap::new();
    sources.add("cluster.yaml", std::fs::read_to_string(examples().join("inventory/cluster.yaml")).expect("the sample inventory"));
    let parsed = parse(&sources, &Options::default());
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let lowered = lower(&parsed.objects, &LowerOptions::default());
    for namespace in ["default", "prod", "kube-system"] {
        assert!(lowered.inventory.namespaces.contains_key(namespace), "namespace {namespace}");
    }
    for (namespace, pod) in
        [("default", "client"), ("default", "frontend"), ("default", "backend"), ("default", "db"), ("prod", "frontend"), ("prod", "backend"), ("prod", "db")]
    {
        assert!(lowered.ir.pod(namespace, pod).is_some(), "pod {namespace}/{pod}");
    }
    assert!(lowered.ir.host("node-a").is_some() && lowered.ir.host("node-b").is_some());
    // The host-network pod is its node, not an endpoint of its own.
    assert!(lowered.ir.pod("kube-system", "node-exporter").is_none());
    assert!(lowered.inventory.pod("kube-system", "node-exporter").is_some_and(|pod| pod.host_network));
}
