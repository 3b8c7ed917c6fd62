//! Hostile input: every one gives a located diagnostic and an error, never a panic, and in
//! bounded time (each case prints how long it took; nothing asserts on time).

mod span_check;

use std::time::Instant;

use polc_compiler::yaml::Limits;
use polc_compiler::{Options, Parsed, SourceMap, codes, parse};

fn lint_with(text: &str, options: &Options) -> (SourceMap, Parsed) {
    let mut sources = SourceMap::new();
    sources.add("hostile.yaml", text);
    let started = Instant::now();
    let parsed = parse(&sources, options);
    eprintln!("{} bytes: {} diagnostics in {:?}", text.len(), parsed.diagnostics.len(), started.elapsed());
    span_check::assert_valid(&sources, &parsed);
    (sources, parsed)
}

/// Lints `text`, checks every span, and returns the codes found.
fn lint(text: &str) -> (Parsed, Vec<&'static str>) {
    let (_, parsed) = lint_with(text, &Options::default());
    let found = parsed.diagnostics.iter().map(|d| d.code.id).collect();
    assert!(parsed.has_errors(), "hostile input must give an error");
    (parsed, found)
}

/// A deterministic stream of pseudo-random bytes (xorshift), so failures reproduce.
fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.max(1);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

#[test]
fn billion_laughs_alias_bomb() {
    let mut text = String::from("apiVersion: v1\nkind: ConfigMap\ndata:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..12 {
        let refs = vec![format!("*a{}", level - 1); 10].join(", ");
        text.push_str(&format!("  a{level}: &a{level} [{refs}]\n"));
    }
    let (_, found) = lint(&text);
    assert_eq!(found, [codes::YAML_ALIAS_BUDGET.id]);
}

#[test]
fn alias_bomb_in_every_document_of_a_stream() {
    let document = "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e]\n";
    let text = vec![document; 50].join("---\n");
    let (_, found) = lint(&text);
    assert_eq!(found.len(), 50);
    assert!(found.iter().all(|code| *code == codes::YAML_ALIAS_BUDGET.id), "{found:?}");
}

#[test]
fn deep_flow_nesting() {
    for open in ["[", "{a: "] {
        let text = format!("{}1{}", open.repeat(50_000), if open == "[" { "]" } else { "}" }.repeat(50_000));
        let (_, found) = lint(&text);
        assert_eq!(found, [codes::YAML_TOO_DEEP.id]);
    }
}

#[test]
fn deep_block_nesting() {
    let mut mapping = String::new();
    for depth in 0..2_000 {
        mapping.push_str(&" ".repeat(depth));
        mapping.push_str("a:\n");
    }
    let (_, found) = lint(&mapping);
    assert_eq!(found, [codes::YAML_TOO_DEEP.id]);

    let sequence = format!("{}x\n", "- ".repeat(5_000));
    let (_, found) = lint(&sequence);
    assert_eq!(found, [codes::YAML_TOO_DEEP.id]);
}

#[test]
fn a_20_mb_file_is_over_the_default_limit() {
    let line = "- {name: item, value: 0123456789abcdef}\n";
    let text = line.repeat(20 * 1024 * 1024 / line.len() + 1);
    let (parsed, found) = lint(&text);
    assert_eq!(found, [codes::FILE_TOO_LARGE.id]);
    let location = parsed.diagnostics[0].location.as_ref().unwrap();
    assert_eq!((location.span.start.line, location.span.start.col), (1, 1));
}

#[test]
fn a_lower_limit_is_honoured() {
    let options = Options { limits: Limits { max_source_bytes: 10, ..Limits::default() } };
    let (_, parsed) = lint_with("apiVersion: v1\nkind: Namespace\n", &options);
    assert_eq!(parsed.diagnostics.iter().map(|d| d.code.id).collect::<Vec<_>>(), [codes::FILE_TOO_LARGE.id]);
}

#[test]
fn binary_garbage() {
    for seed in 1..40u64 {
        let bytes = random_bytes(seed, 4096);
        // The CLI reports bytes that are not UTF-8 itself (PLC1008); what reaches the compiler
        // is text, so feed it the lossy decoding, which keeps the control characters.
        let text = String::from_utf8_lossy(&bytes).replace('\u{0}', "\u{1}");
        let (_, found) = lint(&text);
        assert!(!found.is_empty());
    }
}

#[test]
fn nul_bytes() {
    let (parsed, found) = lint("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\u{0}b\n");
    assert_eq!(found, [codes::NOT_UTF8.id]);
    let span = parsed.diagnostics[0].location.as_ref().unwrap().span;
    assert_eq!((span.start.line, span.start.col), (4, 10));
    let (_, found) = lint(&"\u{0}".repeat(100_000));
    assert_eq!(found, [codes::NOT_UTF8.id]);
}

#[test]
fn duplicate_keys_everywhere() {
    let mut text = String::from("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nkind: CiliumNetworkPolicy\nmetadata:\n  name: a\n  name: b\n");
    for index in 0..1_000 {
        text.push_str(&format!("  labels: {{k{index}: v, k{index}: w}}\n"));
    }
    let (_, found) = lint(&text);
    assert!(found.iter().filter(|code| **code == codes::YAML_DUPLICATE_KEY.id).count() >= 1_000, "{}", found.len());
}

#[test]
fn wrong_types_everywhere() {
    let text = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: [not, a, string]
  namespace: {a: b}
  labels: 42
  annotations: [1, 2]
spec: 3.14
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: [1, 2, 3]
spec: [a, b]
---
apiVersion: [cilium.io/v2]
kind: {CiliumNetworkPolicy: 1}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: true}
spec: {parentRefs: 5, rules: {a: 1}, hostnames: 7}
---
apiVersion: v1
kind: Service
metadata: {name: 1.5e3}
spec: {ports: 80, clusterIP: [a]}
";
    let (parsed, found) = lint(text);
    assert!(found.contains(&codes::WRONG_TYPE.id), "{found:?}");
    assert!(found.contains(&codes::MISSING_HEADER.id), "{found:?}");
    let documents: std::collections::BTreeSet<usize> = parsed.diagnostics.iter().filter_map(|d| d.location.as_ref()?.document).collect();
    assert_eq!(documents.into_iter().collect::<Vec<_>>(), [0, 1, 2, 3, 4], "every document has a finding");
}

#[test]
fn huge_scalars() {
    let name = "a".repeat(8 * 1024 * 1024);
    let text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n");
    let (_, found) = lint(&text);
    assert!(found.contains(&codes::BAD_LENGTH.id), "{found:?}");

    // YAML caps plain keys at 1024 characters; a longer one is a syntax error.
    let key = "k".repeat(4 * 1024 * 1024);
    let text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  {key}: 1\n");
    let (_, found) = lint(&text);
    assert_eq!(found, [codes::YAML_SYNTAX.id]);
    let text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  ? {key}\n  : 1\n");
    let (_, found) = lint(&text);
    assert_eq!(found, [codes::UNKNOWN_FIELD.id]);

    let text = format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"{}\n", "x\\n".repeat(1_000_000));
    let (_, found) = lint(&text);
    assert_eq!(found, [codes::YAML_SYNTAX.id], "an unterminated quoted scalar");
}

#[test]
fn thousands_of_documents() {
    let mut text = String::new();
    for index in 0..5_000 {
        text.push_str(&format!("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns-{index}\n  bogus: {index}\n"));
    }
    text.push_str(&"---\n".repeat(20_000));
    let (parsed, found) = lint(&text);
    assert_eq!(found.len(), 5_000);
    assert!(found.iter().all(|code| *code == codes::UNKNOWN_FIELD.id));
    assert_eq!(parsed.diagnostics[4_999].location.as_ref().unwrap().document, Some(4_999));
}

#[test]
fn a_go_template_file() {
    let text = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: {{ .Values.name }}
  namespace: {{ .Release.Namespace }}
spec:
{{- if .Values.ingress }}
  ingress:
  - fromEndpoints:
    - matchLabels:
        app: {{ .Values.app | quote }}
{{- end }}
";
    // `{{ .Values.name }}` reads as a flow mapping used as a key; `{{- if }}` is a syntax error.
    let (parsed, found) = lint(text);
    assert!(found.contains(&codes::YAML_SYNTAX.id), "{found:?}");
    let syntax = parsed.diagnostics.iter().find(|d| d.code.id == codes::YAML_SYNTAX.id).unwrap();
    assert!(syntax.help.as_deref().unwrap_or("").contains("template"), "{syntax:?}");
}

#[test]
fn tabs_and_odd_line_breaks() {
    let (parsed, found) = lint("apiVersion: v1\nkind: Namespace\nmetadata:\n\tname: a\n");
    assert_eq!(found, [codes::YAML_SYNTAX.id]);
    assert!(parsed.diagnostics[0].help.as_deref().unwrap_or("").contains("tab"), "{:?}", parsed.diagnostics[0]);
    let (_, found) = lint("apiVersion: v1\r\nkind: Namespace\r\nmetadata:\r\n  name: a\r\n  bogus: 1\r\n");
    assert_eq!(found, [codes::UNKNOWN_FIELD.id]);
    let (_, found) = lint("apiVersion: v1\rkind: Namespace\rmetadata: {bogus: 1}\r");
    assert!(!found.is_empty());
}

#[test]
fn many_complex_keys_and_tags() {
    let mut text = String::from("apiVersion: v1\nkind: Namespace\nmetadata:\n");
    for index in 0..500 {
        text.push_str(&format!("  ? [a{index}, b]\n  : 1\n  !!binary k{index}: !custom v\n"));
    }
    let (_, found) = lint(&text);
    assert!(found.contains(&codes::YAML_COMPLEX_KEY.id), "{found:?}");
}
