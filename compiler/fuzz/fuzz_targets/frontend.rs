//! Fuzz target `frontend`: arbitrary bytes → `SourceMap` → `polc_compiler::parse`.
//!
//! The front end must never panic, and every diagnostic must point inside its source at a
//! character boundary with a line and column of at least 1.

#![no_main]

use libfuzzer_sys::fuzz_target;
use polc_compiler::diag::Location;
use polc_compiler::{Options, SourceMap, parse};

fn check(text: &str, location: &Location) {
    let span = location.span;
    assert!(span.start.byte <= span.end.byte && span.end.byte <= text.len(), "span {span:?} outside {} bytes", text.len());
    assert!(text.is_char_boundary(span.start.byte) && text.is_char_boundary(span.end.byte), "span {span:?} inside a character");
    assert!(span.start.line >= 1 && span.start.col >= 1, "span {span:?} before the first line");
}

fuzz_target!(|data: &[u8]| {
    // The CLI reports bytes that are not UTF-8 itself; the compiler sees text.
    let text = String::from_utf8_lossy(data).into_owned();
    let mut sources = SourceMap::new();
    sources.add("fuzz.yaml", text.clone());
    let parsed = parse(&sources, &Options::default());
    for diagnostic in &parsed.diagnostics {
        let location = diagnostic.location.as_ref().expect("every front-end diagnostic has a location");
        check(&text, location);
        for related in &diagnostic.related {
            check(&text, &related.location);
        }
    }
});
