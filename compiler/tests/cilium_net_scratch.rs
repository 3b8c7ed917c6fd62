//! Temporary exploration (deleted before hand-off).
use polc_compiler::frontend::{Options, parse};
use polc_compiler::source::SourceMap;

#[test]
fn show() {
    let dir = std::env::var("SCRATCH").unwrap_or_default();
    let mut paths: Vec<_> = dir.split(',').filter(|p| !p.is_empty()).map(std::path::PathBuf::from).collect();
    paths.sort();
    let mut sources = SourceMap::default();
    for path in &paths {
        sources.add(path.display().to_string(), std::fs::read_to_string(path).unwrap());
    }
    let parsed = parse(&sources, &Options::default());
    for d in &parsed.diagnostics {
        let l = d.location.as_ref().unwrap();
        println!("{}:{}:{} {} {:?} {} | help: {:?} | label: {:?}", sources.get(l.source).name, l.span.start.line, l.span.start.col, d.code.id, d.severity, d.message, d.help, d.label);
    }
}
