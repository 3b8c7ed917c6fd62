//! Every `.yaml`/`.yml` file of the public corpus goes through the front end without a panic,
//! and every diagnostic points inside its file. The corpus lives in `../shared/corpus`
//! relative to the workspace root, or in `$POLC_CORPUS`; without it the test says it is
//! skipped and passes. Which files must be accepted or rejected is tested per area elsewhere.

mod span_check;

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use polc_compiler::{Options, SourceMap, parse};

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLC_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    };
    dir.is_dir().then_some(dir)
}

fn yaml_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|entry| entry.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            yaml_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml") {
            files.push(path);
        }
    }
}

#[test]
fn every_corpus_file_lints_without_panic() {
    let Some(dir) = corpus_dir() else {
        eprintln!("skipped: the corpus is absent (set POLC_CORPUS or provide ../shared/corpus next to the workspace)");
        return;
    };
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    assert!(!files.is_empty(), "no YAML files under {}", dir.display());

    let started = Instant::now();
    let mut all = SourceMap::new();
    let mut panics = Vec::new();
    let mut bad_spans = Vec::new();
    let mut by_code: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut files_with_errors = 0;
    for path in &files {
        let name = path.strip_prefix(&dir).unwrap_or(path).display().to_string();
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("not UTF-8, left to the CLI: {name}");
            continue;
        };
        let mut sources = SourceMap::new();
        sources.add(name.clone(), text.clone());
        all.add(name.clone(), text);
        match catch_unwind(AssertUnwindSafe(|| parse(&sources, &Options::default()))) {
            Ok(parsed) => {
                if let Err(problem) = span_check::check_diagnostics(&sources, &parsed.diagnostics) {
                    bad_spans.push(format!("{name}: {problem}"));
                }
                files_with_errors += usize::from(parsed.has_errors());
                for diagnostic in &parsed.diagnostics {
                    *by_code.entry(diagnostic.code.id).or_default() += 1;
                }
            }
            Err(_) => panics.push(name),
        }
    }
    eprintln!("{} files in {:?}; {files_with_errors} with errors; findings by code: {by_code:?}", files.len(), started.elapsed());
    assert!(panics.is_empty(), "the front end panicked on: {panics:#?}");
    assert!(bad_spans.is_empty(), "diagnostics outside their source: {bad_spans:#?}");

    // All files at once: the cross-object checks see the whole corpus.
    let started = Instant::now();
    let parsed = catch_unwind(AssertUnwindSafe(|| parse(&all, &Options::default()))).expect("the front end panicked on the whole corpus at once");
    eprintln!("whole corpus at once: {} objects, {} findings in {:?}", parsed.objects.len(), parsed.diagnostics.len(), started.elapsed());
    span_check::assert_valid(&all, &parsed);
}
