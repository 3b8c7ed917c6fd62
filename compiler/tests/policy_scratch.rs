//! Scratch: prints diagnostics of the files listed in POLC_SCRATCH_LIST (deleted before hand-off).
use polc_compiler::{Options, SourceMap, parse};

#[test]
fn scratch() {
    let Ok(list) = std::env::var("POLC_SCRATCH_LIST") else { return };
    let list = std::fs::read_to_string(list).unwrap_or_default();
    for path in list.lines() {
        let mut sources = SourceMap::new();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        sources.add(path, text);
        let parsed = parse(&sources, &Options::default());
        for d in &parsed.diagnostics {
            if d.code.id == "PLC1103" && std::env::var("POLC_SCRATCH_NOTES").is_err() { continue; }
            let (line, col) = d.location.as_ref().map(|l| (l.span.start.line, l.span.start.col)).unwrap_or_default();
            println!("{path}:{line}:{col}: {} {} {}", d.severity.as_str(), d.code.id, d.message);
            if let Some(h) = &d.help { println!("    help: {h}"); }
        }
    }
}
