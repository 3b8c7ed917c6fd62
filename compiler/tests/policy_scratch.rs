//! Scratch: prints diagnostics of the files listed in POLC_SCRATCH_LIST (deleted before hand-off).
use polc_compiler::{Options, SourceMap, parse};

fn show(sources: &SourceMap) {
    let parsed = parse(sources, &Options::default());
    for d in &parsed.diagnostics {
        if d.code.id == "PLC1103" && std::env::var("POLC_SCRATCH_NOTES").is_err() {
            continue;
        }
        let (name, line, col) = d.location.as_ref().map(|l| (sources.get(l.source).name.clone(), l.span.start.line, l.span.start.col)).unwrap_or_default();
        println!("{name}:{line}:{col}: {} {} {}", d.severity.as_str(), d.code.id, d.message);
        if let Some(h) = &d.help {
            println!("    help: {h}");
        }
    }
    println!("-- {} objects", parsed.objects.len());
}

#[test]
fn scratch() {
    let Ok(list) = std::env::var("POLC_SCRATCH_LIST") else { return };
    let list = std::fs::read_to_string(list).unwrap_or_default();
    let together = std::env::var("POLC_SCRATCH_TOGETHER").is_ok();
    let mut all = SourceMap::new();
    for path in list.lines() {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if together {
            all.add(path, text);
            continue;
        }
        let mut sources = SourceMap::new();
        sources.add(path, text);
        show(&sources);
    }
    if together {
        show(&all);
    }
}

#[test]
fn scratch_schema() {
    if std::env::var("POLC_SCRATCH_SCHEMA").is_err() {
        return;
    }
    let schema = polc_compiler::kinds::KindInfo::find("NetworkPolicy").unwrap().schema().json().clone();
    println!("{}", serde_json::to_string_pretty(&schema["$defs"]["NetworkPolicySpec"]).unwrap());
}
