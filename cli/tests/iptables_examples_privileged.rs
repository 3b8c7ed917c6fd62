//! PRIVILEGED: every FlowTest of `policies/examples/flowtests/` (with the sample inventory, the
//! policies its `# policies:` line names and its `# options:`) passes with
//! `polc test --engine iptables`, which sends every flow as real packets through the iptables
//! rendering on both backends (`iptables-legacy` and `iptables-nft`) and fails a flow when the
//! two disagree. Needs root (network namespaces, iptables, ipset); without root it says why and
//! skips.

mod support;

use std::process::Command;

use support::examples::{examples, flowtest_files, header};

#[test]
fn every_example_flowtest_passes_with_the_iptables_engine_on_both_backends_privileged() {
    if !polc_iptables::engine::is_root() {
        eprintln!(
            "skipping every_example_flowtest_passes_with_the_iptables_engine_on_both_backends_privileged: it creates network namespaces and loads iptables rules, which needs root"
        );
        return;
    }
    let files = flowtest_files();
    let mut problems = Vec::new();
    let mut total_flows = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable FlowTest");
        let (policies, options) = header(&text);
        let mut arguments: Vec<String> = vec!["test".to_owned(), "inventory".to_owned()];
        arguments.extend(policies);
        arguments.push(file.display().to_string());
        arguments.extend(["--engine", "iptables", "--format", "json"].map(str::to_owned));
        for option in &options {
            match option.as_str() {
                "dual-stack" => arguments.push("--dual-stack".to_owned()),
                other => panic!("{}: unknown option `{other}`", file.display()),
            }
        }
        let output = Command::new(env!("CARGO_BIN_EXE_polc")).args(&arguments).current_dir(examples()).output().expect("polc runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let Ok(report) = serde_json::from_str::<serde_json::Value>(&stdout) else {
            problems.push(format!("{}: no JSON report (exit {}): {}", file.display(), output.status, String::from_utf8_lossy(&output.stderr).trim()));
            continue;
        };
        let flows = report["flows"].as_array().cloned().unwrap_or_default();
        total_flows += flows.len();
        if report["failed"] != 0 || !output.status.success() || flows.is_empty() {
            problems.push(format!("{}: {} passed, {} failed (exit {})", file.display(), report["passed"], report["failed"], output.status));
        }
        for flow in &flows {
            let reason = flow["reason"].as_str().unwrap_or_default();
            // Every verdict must come from real packets on both backends.
            if flow["passed"] != true || !reason.starts_with("iptables (legacy and nft)") {
                problems.push(format!(
                    "{}: {} -> {} {}/{}: expected {}, got {} ({}{})",
                    file.display(),
                    flow["from"],
                    flow["to"],
                    flow["port"],
                    flow["protocol"],
                    flow["expected"],
                    flow["actual"],
                    reason,
                    flow["error"].as_str().unwrap_or_default()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "the iptables engine fails example flows:\n{}", problems.join("\n"));
    assert!(total_flows >= 150, "only {total_flows} example flows ran");
    eprintln!("{total_flows} example flows passed with the iptables engine on both backends ({} files)", files.len());
}
