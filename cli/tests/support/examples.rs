//! The example FlowTests of `policies/examples/flowtests/` and their header lines.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `policies/examples/`.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples")
}

/// The `# policies:` files and the `# options:` of a FlowTest file, from its header lines.
pub fn header(text: &str) -> (Vec<String>, Vec<String>) {
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

/// Every `*.flowtest.yaml` of the examples, sorted (at least the 15 the project ships).
pub fn flowtest_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples().join("flowtests"))
        .expect("policies/examples/flowtests exists")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.to_string_lossy().ends_with(".flowtest.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "expected the example FlowTests, found {}", files.len());
    files
}
