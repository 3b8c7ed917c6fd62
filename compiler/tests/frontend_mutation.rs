//! Mutation testing of the front end: realistic YAML, damaged at random (byte flips, YAML
//! punctuation dropped in, lines deleted, duplicated or swapped, indentation shifted,
//! truncation), must never panic, and every diagnostic must point inside its source at a
//! position that agrees with its byte offset. Runs in plain `cargo test` (proptest).
//!
//! Seeds: `policies/examples/`, the fuzzing seeds in `compiler/fuzz/corpus/frontend/`,
//! `../shared/talk-examples/` (when present) and a few inline documents.

mod span_check;

use std::path::Path;
use std::sync::OnceLock;

use polc_compiler::{Options, SourceMap, parse};
use proptest::prelude::*;

const INLINE_SEEDS: &[&str] = &[
    "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: l7-visibility
  namespace: prod
spec:
  endpointSelector:
    matchLabels: {app: api}
  ingress:
  - fromEndpoints:
    - matchLabels:
        \"k8s:io.kubernetes.pod.namespace\": prod
    toPorts:
    - ports:
      - port: \"8080\"
        protocol: TCP
      rules:
        http:
        - method: GET
          path: \"/v1/.*\"
  egress:
  - toCIDRSet:
    - cidr: 10.0.0.0/8
      except: [10.96.0.0/12]
  - toFQDNs:
    - matchPattern: \"*.example.com\"
",
    "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
spec:
  parentRefs:
  - name: gw
    sectionName: https
  hostnames: [\"www.example.com\"]
  rules:
  - matches:
    - path: {type: PathPrefix, value: /}
    backendRefs:
    - name: web
      port: 80
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: prod, labels: {team: a}}
- apiVersion: cilium.io/v2alpha1
  kind: CiliumLoadBalancerIPPool
  metadata: {name: pool}
  spec:
    blocks:
    - cidr: 192.0.2.0/24
",
    "defaults: &defaults {a: 1, b: [x, y]}\nuse: *defaults\nblock: |\n  text\n  more\nfolded: >-\n  one\n  two\n'quoted': \"é ✓\"\n",
];

fn yaml_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|entry| entry.path()).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            yaml_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml") {
            files.push(path);
        }
    }
}

fn seeds() -> &'static [String] {
    static SEEDS: OnceLock<Vec<String>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut seeds: Vec<String> = INLINE_SEEDS.iter().map(|seed| seed.to_string()).collect();
        let mut files = Vec::new();
        for dir in [root.join("policies/examples"), root.join("compiler/fuzz/corpus/frontend"), root.join("../shared/talk-examples")] {
            yaml_files(&dir, &mut files);
        }
        seeds.extend(files.iter().filter_map(|path| std::fs::read_to_string(path).ok()));
        seeds
    })
}

/// One way to damage a text. Positions are fractions, resolved against the text at hand.
#[derive(Clone, Debug)]
enum Mutation {
    FlipBit { at: f64, bit: u8 },
    Insert { at: f64, text: &'static str },
    DeleteLine { at: f64 },
    DuplicateLine { at: f64 },
    SwapLines { a: f64, b: f64 },
    Indent { at: f64, more: bool },
    Truncate { at: f64 },
}

const PUNCTUATION: &[&str] = &[
    ":",
    "-",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "|",
    ">",
    "'",
    "\"",
    "#",
    "\t",
    "\n",
    "  ",
    "---\n",
    "? ",
    "%YAML 1.2\n",
    "\u{FEFF}",
    "\r",
    "é",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    let at = 0.0..1.0f64;
    prop_oneof![
        (at.clone(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit { at, bit }),
        (at.clone(), prop::sample::select(PUNCTUATION)).prop_map(|(at, text)| Mutation::Insert { at, text }),
        at.clone().prop_map(|at| Mutation::DeleteLine { at }),
        at.clone().prop_map(|at| Mutation::DuplicateLine { at }),
        (at.clone(), at.clone()).prop_map(|(a, b)| Mutation::SwapLines { a, b }),
        (at.clone(), any::<bool>()).prop_map(|(at, more)| Mutation::Indent { at, more }),
        at.prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn index(at: f64, len: usize) -> usize {
    ((at * len as f64) as usize).min(len.saturating_sub(1))
}

fn apply(text: &str, mutation: &Mutation) -> String {
    let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
    match *mutation {
        Mutation::FlipBit { at, bit } => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = index(at, bytes.len());
                bytes[i] ^= 1 << bit;
            }
            return String::from_utf8_lossy(&bytes).into_owned();
        }
        Mutation::Insert { at, text: inserted } => {
            let mut i = index(at, text.len() + 1).min(text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            return format!("{}{inserted}{}", &text[..i], &text[i..]);
        }
        Mutation::Truncate { at } => {
            let mut i = index(at, text.len() + 1).min(text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            return text[..i].to_owned();
        }
        Mutation::DeleteLine { at } => {
            let i = index(at, lines.len());
            lines.remove(i);
        }
        Mutation::DuplicateLine { at } => {
            let i = index(at, lines.len());
            let line = lines[i].clone();
            lines.insert(i, line);
        }
        Mutation::SwapLines { a, b } => {
            let (a, b) = (index(a, lines.len()), index(b, lines.len()));
            lines.swap(a, b);
        }
        Mutation::Indent { at, more } => {
            let i = index(at, lines.len());
            if more {
                lines[i].insert_str(0, "  ");
            } else {
                let trimmed = lines[i].strip_prefix("  ").or_else(|| lines[i].strip_prefix(' ')).map(str::to_owned);
                if let Some(trimmed) = trimmed {
                    lines[i] = trimmed;
                }
            }
        }
    }
    lines.join("\n")
}

fn lint(text: &str) -> (SourceMap, polc_compiler::Parsed) {
    let mut sources = SourceMap::new();
    sources.add("mutated.yaml", text);
    let parsed = parse(&sources, &Options::default());
    (sources, parsed)
}

#[test]
fn seeds_are_found() {
    assert!(seeds().len() >= INLINE_SEEDS.len());
    for seed in seeds() {
        let (sources, parsed) = lint(seed);
        span_check::assert_valid(&sources, &parsed);
    }
}

#[test]
fn mutations_change_the_text() {
    let text = "a: 1\nb:\n  c: 2\n";
    assert_eq!(apply(text, &Mutation::DeleteLine { at: 0.0 }), "b:\n  c: 2\n");
    assert_eq!(apply(text, &Mutation::Indent { at: 0.5, more: false }), "a: 1\nb:\nc: 2\n");
    assert_eq!(apply(text, &Mutation::Truncate { at: 0.5 }), "a: 1\nb:\n");
    assert_eq!(apply(text, &Mutation::FlipBit { at: 0.0, bit: 1 }), "c: 1\nb:\n  c: 2\n");
}

proptest! {
    // `PROPTEST_CASES=100000` for a long hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(1000),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn damaged_yaml_never_panics_and_every_span_is_valid(
        seed in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let seeds = seeds();
        let mut text = seeds[seed.index(seeds.len())].clone();
        for mutation in &mutations {
            text = apply(&text, mutation);
        }
        let (sources, parsed) = lint(&text);
        if let Err(problem) = span_check::check_diagnostics(&sources, &parsed.diagnostics) {
            prop_assert!(false, "{problem}\n--- input ---\n{text}");
        }
        let (_, again) = lint(&text);
        prop_assert_eq!(format!("{:?}", parsed.diagnostics), format!("{:?}", again.diagnostics), "output is deterministic");
    }
}
