//! Golden tests: `polc lint` on each YAML example from the talks polc was conceived from.
//!
//! Each example is linted on its own, from the directory above `talk-examples/`, so paths are
//! shown relative. The snapshot holds the exit code and the human output (no colour). The
//! examples live in `../shared/talk-examples` relative to the workspace root, or in
//! `$POLC_TALK_EXAMPLES`. Regenerate the snapshots with `INSTA_UPDATE=always cargo test -p polc
//! --test talk_examples` or `cargo insta test -p polc --accept`, and review the diff like code.

use std::path::PathBuf;
use std::process::Command;

fn examples_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLC_TALK_EXAMPLES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/talk-examples")),
    };
    dir.is_dir().then_some(dir)
}

#[test]
fn talk_examples_lint_output() {
    let Some(dir) = examples_dir() else {
        eprintln!("skipped: the talk examples are absent (set POLC_TALK_EXAMPLES or provide ../shared/talk-examples)");
        return;
    };
    let dir = dir.canonicalize().unwrap();
    let parent = dir.parent().unwrap();
    let folder = dir.file_name().unwrap().to_string_lossy().into_owned();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml") || name.ends_with(".yml"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no YAML files in {}", dir.display());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/talk_examples");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    // Every example is compared, so one run shows (and writes, as `.snap.new`) every change.
    let mut changed = Vec::new();
    settings.bind(|| {
        for name in &names {
            let output = Command::new(env!("CARGO_BIN_EXE_polc"))
                .args(["lint", "--color", "never", &format!("{folder}/{name}")])
                .current_dir(parent)
                .output()
                .expect("polc runs");
            let code = output.status.code().expect("polc exits normally");
            assert!(code == 0 || code == 1, "{name}: exit code {code}: {}", String::from_utf8_lossy(&output.stderr));
            let stdout = String::from_utf8(output.stdout).expect("output is UTF-8");
            let stem = name.trim_end_matches(".yaml").trim_end_matches(".yml");
            let snapshot = format!("exit code: {code}\n\n{stdout}");
            let compared = std::panic::catch_unwind(|| insta::assert_snapshot!(stem, snapshot));
            if compared.is_err() {
                changed.push(stem.to_owned());
            }
        }
    });
    assert!(changed.is_empty(), "the output changed for {changed:?}; review with `cargo insta review` (or accept with `INSTA_UPDATE=always`)");
}
