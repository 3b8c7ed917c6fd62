//! Gateway API against the upstream corpus (`shared/corpus`, or `$POLC_CORPUS`):
//!
//! - every file of `gateway-api/hack/invalid-examples/` is rejected, with the codes the table
//!   below gives for the reason the corpus README states;
//! - every file of `gateway-api/examples/` lints without errors;
//! - every Gateway API object anywhere else in the corpus lints without errors, except the
//!   few genuine ones listed (template placeholders, an empty class name in a Go fixture);
//! - the conformance manifests, linted with their base manifests, get the warnings that
//!   match the status reasons the conformance suite expects.
//!
//! Without the corpus the tests say they are skipped and pass.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polc_compiler::diag::Severity;
use polc_compiler::{Options, SourceMap, parse};

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("POLC_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    };
    if dir.join("kubernetes-sigs/gateway-api").is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: the corpus is absent (set POLC_CORPUS or provide ../shared/corpus next to the workspace)");
        None
    }
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

#[derive(Debug, Clone)]
struct Finding {
    code: &'static str,
    severity: Severity,
    line: u32,
    message: String,
}

fn lint(paths: &[PathBuf]) -> Vec<Finding> {
    let mut sources = SourceMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        sources.add(path.display().to_string(), text);
    }
    parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|diagnostic| Finding {
            code: diagnostic.code.id,
            severity: diagnostic.severity,
            line: diagnostic.location.as_ref().map_or(0, |location| location.span.start.line),
            message: diagnostic.message,
        })
        .collect()
}

fn error_codes(found: &[Finding]) -> BTreeSet<&'static str> {
    found.iter().filter(|finding| finding.severity == Severity::Error).map(|finding| finding.code).collect()
}

/// Every invalid example, the reason the corpus README gives, and the error codes polc gives.
const INVALID_STANDARD: &[(&str, &str, &[&str])] = &[
    ("gateway/duplicate-listeners.yaml", "two listeners with the same name", &["PLC2008"]),
    ("gateway/hostname-tcp.yaml", "hostname on a TCP listener", &["PLC4004"]),
    ("gateway/hostname-udp.yaml", "hostname on a UDP listener", &["PLC4004"]),
    ("gateway/invalid-addresses.yaml", "malformed IP and hostname addresses", &["PLC4009"]),
    ("gateway/invalid-listener-name.yaml", "listener name fails the section-name pattern", &["PLC2005"]),
    ("gateway/invalid-listener-port.yaml", "port out of 1-65535", &["PLC2006"]),
    ("gateway/invalid-tls-mode.yaml", "HTTPS listener with mode Passthrough", &["PLC4002"]),
    ("gateway/tlsconfig-tcp.yaml", "tls on a TCP listener", &["PLC4001"]),
    ("gatewayclass/invalid-controller.yaml", "controllerName is not a domain-prefixed path", &["PLC2005"]),
    ("httproute/duplicate-header-match.yaml", "duplicate header match names", &["PLC2008"]),
    ("httproute/duplicate-query-match.yaml", "duplicate query parameter names", &["PLC2008"]),
    ("httproute/httproute-portless-backend.yaml", "Service backend without port", &["PLC4103"]),
    ("httproute/httproute-portless-service.yaml", "explicit Service backend without port", &["PLC4103"]),
    ("httproute/invalid-backend-group.yaml", "backend group `*`", &["PLC2005"]),
    ("httproute/invalid-backend-kind.yaml", "backend kind `*`", &["PLC2005"]),
    ("httproute/invalid-backend-port.yaml", "backend port out of range", &["PLC2006"]),
    ("httproute/invalid-filter-duplicate-header.yaml", "the same header removed twice", &["PLC2008"]),
    ("httproute/invalid-filter-duplicate.yaml", "two RequestHeaderModifier filters", &["PLC4203"]),
    ("httproute/invalid-filter-empty.yaml", "filter type without its block", &["PLC4201"]),
    ("httproute/invalid-filter-wrong-field.yaml", "block of another filter type", &["PLC4201", "PLC4202"]),
    ("httproute/invalid-header-name.yaml", "header name fails the pattern", &["PLC2005"]),
    ("httproute/invalid-hostname.yaml", "hostname fails the pattern", &["PLC2005"]),
    ("httproute/invalid-httpredirect-hostname.yaml", "wildcard redirect hostname", &["PLC2005"]),
    ("httproute/invalid-method.yaml", "method not in the enum", &["PLC2004"]),
    ("httproute/invalid-path-alphanum-specialchars-mix.yaml", "path with `[` `]`", &["PLC4301"]),
    ("httproute/invalid-path-specialchars.yaml", "path `/[]`", &["PLC4301"]),
    ("httproute/invalid-request-redirect-with-backendref.yaml", "RequestRedirect with backendRefs", &["PLC4205"]),
    ("referencegrant/missing-from.yaml", "spec.from missing", &["PLC2003"]),
    ("referencegrant/missing-ns.yaml", "from entry without namespace", &["PLC2003"]),
    ("referencegrant/missing-to.yaml", "spec.to missing", &["PLC2003"]),
    ("tlsroute/invalid-hostname.yaml", "hostname fails the pattern", &["PLC2005"]),
    // The route also has a Service backend without port, which the CRD rejects as well.
    ("tlsroute/no-hostname.yaml", "TLSRoute v1 without hostnames", &["PLC4103", "PLC4401"]),
];

/// The experimental-channel invalid examples: polc models the experimental fields they use.
const INVALID_EXPERIMENTAL: &[(&str, &str, &[&str])] = &[
    ("httproute/invalid-filter-externalauth-bad-http-path.yaml", "external auth path `/[]`", &["PLC2003", "PLC2005"]),
    ("httproute/invalid-filter-externalauth-empty.yaml", "ExternalAuth filter without its block", &["PLC4201"]),
    ("httproute/invalid-filter-externalauth-no-protocol.yaml", "externalAuth without protocol", &["PLC2003"]),
    ("httproute/invalid-header-value.yaml", "header value with CR/LF", &["PLC4212"]),
];

fn check_invalid_table(channel: &str, table: &[(&str, &str, &[&str])]) {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("kubernetes-sigs/gateway-api/hack/invalid-examples").join(channel);
    let mut files = Vec::new();
    yaml_files(&dir, &mut files);
    let listed: BTreeSet<PathBuf> = table.iter().map(|(file, _, _)| dir.join(file)).collect();
    let present: BTreeSet<PathBuf> = files.iter().cloned().collect();
    assert_eq!(listed, present, "the table must list exactly the invalid examples of {channel}");
    for (file, reason, expected) in table {
        let found = lint(&[dir.join(file)]);
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(error_codes(&found), expected, "{channel}/{file} ({reason}): {found:#?}");
    }
}

#[test]
fn every_standard_invalid_example_is_rejected_for_its_reason() {
    check_invalid_table("standard", INVALID_STANDARD);
}

#[test]
fn every_experimental_invalid_example_is_rejected_for_its_reason() {
    check_invalid_table("experimental", INVALID_EXPERIMENTAL);
}

#[test]
fn invalid_example_findings_point_at_the_offending_line() {
    let Some(corpus) = corpus_dir() else { return };
    let dir = corpus.join("kubernetes-sigs/gateway-api/hack/invalid-examples/standard");
    // (file, code, line of the first finding with that code)
    let cases = [
        ("gateway/hostname-tcp.yaml", "PLC4004", 9),
        ("gateway/invalid-tls-mode.yaml", "PLC4002", 12),
        ("gateway/tlsconfig-tcp.yaml", "PLC4001", 11),
        ("httproute/invalid-filter-duplicate.yaml", "PLC4203", 13),
        ("httproute/invalid-request-redirect-with-backendref.yaml", "PLC4205", 11),
        ("httproute/invalid-path-specialchars.yaml", "PLC4301", 10),
    ];
    for (file, code, line) in cases {
        let found = lint(&[dir.join(file)]);
        let first = found.iter().find(|finding| finding.code == code).unwrap_or_else(|| panic!("{file}: no {code} in {found:#?}"));
        assert_eq!(first.line, line, "{file}: {first:#?}");
        assert!(first.message.contains('`'), "{file}: the message quotes the input: {first:#?}");
    }
}

#[test]
fn every_upstream_example_lints_without_errors() {
    let Some(corpus) = corpus_dir() else { return };
    for channel in ["standard", "experimental"] {
        let mut files = Vec::new();
        yaml_files(&corpus.join("kubernetes-sigs/gateway-api/examples").join(channel), &mut files);
        assert!(!files.is_empty());
        for file in &files {
            let found = lint(std::slice::from_ref(file));
            let errors: Vec<&Finding> = found.iter().filter(|finding| finding.severity == Severity::Error).collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
            // Linted alone, an example may only be told that a route without `parentRefs`
            // attaches nowhere (the snippets of the upstream guides leave them out).
            for finding in found.iter().filter(|finding| finding.severity == Severity::Warning) {
                assert_eq!(finding.code, "PLC4104", "{}: {finding:#?}", file.display());
            }
        }
    }
}

const GATEWAY_KINDS: [&str; 6] = ["Gateway", "GatewayClass", "HTTPRoute", "GRPCRoute", "TLSRoute", "ReferenceGrant"];

fn has_gateway_object(text: &str) -> bool {
    text.lines().any(|line| line.trim_start().strip_prefix("kind:").is_some_and(|kind| GATEWAY_KINDS.contains(&kind.trim())))
}

/// The errors on Gateway API files of the corpus outside `hack/invalid-examples`, all genuine:
/// (file, code, count).
const GENUINE_CORPUS_ERRORS: &[(&str, &str, usize)] = &[
    // Go test fixtures of Cilium's operator with `gatewayClassName: ""` (the CRD requires at
    // least one character).
    ("cilium/cilium/operator/pkg/model/ingestion/testdata/gateway/basic_grpc/input-gateway.yaml", "PLC2007", 1),
    ("cilium/cilium/operator/pkg/model/ingestion/testdata/gateway/basic_http/input-gateway.yaml", "PLC2007", 1),
    ("cilium/cilium/operator/pkg/model/ingestion/testdata/gateway/basic_tls_http/input-gateway.yaml", "PLC2007", 1),
    // Conformance manifests with placeholders the suite substitutes before applying them.
    ("kubernetes-sigs/gateway-api/conformance/tests/gateway-static-addresses.yaml", "PLC4009", 2),
    ("kubernetes-sigs/gateway-api/conformance/tests/gatewayclass-observed-generation-bump.yaml", "PLC2005", 1),
];

#[test]
fn gateway_objects_across_the_corpus_have_only_genuine_errors() {
    let Some(corpus) = corpus_dir() else { return };
    let mut files = Vec::new();
    yaml_files(&corpus, &mut files);
    let invalid_examples = corpus.join("kubernetes-sigs/gateway-api/hack/invalid-examples");
    let mut found_errors: Vec<(String, &'static str, usize)> = Vec::new();
    let mut checked = 0;
    for file in files {
        if file.starts_with(&invalid_examples) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        if !has_gateway_object(&text) {
            continue;
        }
        checked += 1;
        let name = file.strip_prefix(&corpus).unwrap_or(&file).display().to_string();
        let found = lint(std::slice::from_ref(&file));
        let mut counts: std::collections::BTreeMap<&'static str, usize> = std::collections::BTreeMap::new();
        // Documents that are not Kubernetes objects at all (Cilium's model fixtures: lists, or
        // mappings without `apiVersion`/`kind`) are the front end's business, not this area's.
        for finding in found.iter().filter(|finding| finding.severity == Severity::Error && !matches!(finding.code, "PLC1101" | "PLC1104")) {
            *counts.entry(finding.code).or_default() += 1;
        }
        found_errors.extend(counts.into_iter().map(|(code, count)| (name.clone(), code, count)));
    }
    assert!(checked > 300, "only {checked} files with Gateway API objects found");
    let expected: Vec<(String, &str, usize)> = GENUINE_CORPUS_ERRORS.iter().map(|(file, code, count)| ((*file).to_owned(), *code, *count)).collect();
    assert_eq!(found_errors, expected);
}

/// Conformance manifests (linted with `conformance/base/manifests.yaml`) whose expected status
/// reasons polc can tell from the manifests, and the warnings it gives for them.
///
/// Not told: reasons about kinds polc does not model (TCPRoute, UDPRoute, ListenerSet,
/// BackendTLSPolicy), implementation choices (unsupported protocols, backend kinds, TLS
/// termination on `TLS` listeners, mixed termination on one port), Secrets and ConfigMaps
/// (not in the inputs), and cross-namespace references into namespaces that hold no
/// ReferenceGrant at all (polc then assumes the grants live elsewhere).
const CONFORMANCE_REASONS: &[(&str, &str, &[&str])] = &[
    ("gateway-invalid-route-kind.yaml", "ListenerReasonInvalidRouteKinds", &["PLC4012"]),
    ("gateway-secret-invalid-reference-grant.yaml", "ListenerReasonRefNotPermitted", &["PLC4506"]),
    ("gateway-with-attached-routes.yaml", "RouteReasonNoMatchingListenerHostname", &["PLC4505", "PLC4507"]),
    ("httproute-disallowed-kind.yaml", "RouteReasonNotAllowedByListeners", &["PLC4504"]),
    ("httproute-hostname-intersection.yaml", "RouteReasonNoMatchingListenerHostname", &["PLC4505"]),
    ("httproute-invalid-cross-namespace-parent-ref.yaml", "RouteReasonNotAllowedByListeners", &["PLC4504"]),
    ("httproute-invalid-nonexistent-backendref.yaml", "RouteReasonBackendNotFound", &["PLC4507"]),
    ("httproute-invalid-parentref-not-matching-listener-port.yaml", "RouteReasonNoMatchingParent", &["PLC4503"]),
    ("httproute-invalid-parentref-not-matching-section-name.yaml", "RouteReasonNoMatchingParent", &["PLC4503"]),
    ("httproute-invalid-parentref-section-name-not-matching-port.yaml", "RouteReasonNoMatchingParent", &["PLC4503"]),
    ("httproute-invalid-reference-grant.yaml", "RouteReasonRefNotPermitted", &["PLC4506"]),
    ("httproute-partially-invalid-via-invalid-reference-grant.yaml", "RouteReasonRefNotPermitted", &["PLC4506"]),
    ("listenerset-dual-parentref-independence.yaml", "RouteReasonNoMatchingParent", &["PLC4503"]),
    ("listenerset-gateway-parent-section-name-not-found.yaml", "RouteReasonNoMatchingParent", &["PLC4503"]),
    ("tlsroute-invalid-backendref-nonexistent.yaml", "RouteReasonBackendNotFound", &["PLC4507"]),
    ("tlsroute-invalid-no-matching-listener-hostname.yaml", "RouteReasonNoMatchingListenerHostname", &["PLC4505"]),
    ("tlsroute-invalid-no-matching-listener.yaml", "RouteReasonNoMatchingParent RouteReasonNotAllowedByListeners", &["PLC4503", "PLC4504"]),
    ("tlsroute-invalid-reference-grant.yaml", "RouteReasonRefNotPermitted", &["PLC4506"]),
    ("tlsroute-listener-passthrough-supported-kinds.yaml", "ListenerReasonInvalidRouteKinds", &["PLC4012"]),
];

#[test]
fn conformance_manifests_get_the_warnings_of_their_expected_status_reasons() {
    let Some(corpus) = corpus_dir() else { return };
    let conformance = corpus.join("kubernetes-sigs/gateway-api/conformance");
    let base = conformance.join("base/manifests.yaml");
    for (file, reasons, expected) in CONFORMANCE_REASONS {
        let found = lint(&[base.clone(), conformance.join("tests").join(file)]);
        let warnings: BTreeSet<&str> =
            found.iter().filter(|finding| finding.severity == Severity::Warning && finding.code.starts_with("PLC4")).map(|finding| finding.code).collect();
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(warnings, expected, "{file} (expected reasons {reasons}): {found:#?}");
    }
}

/// The conformance manifests the corpus README lists as semantically rejected.
fn conformance_negatives(corpus: &Path) -> BTreeSet<String> {
    let readme = std::fs::read_to_string(corpus.join("README.md")).unwrap_or_default();
    readme
        .lines()
        .filter_map(|line| line.strip_prefix("| conformance/tests/"))
        .filter_map(|rest| rest.split('|').next())
        .map(|file| file.trim().to_owned())
        .collect()
}

#[test]
fn conformance_manifests_expected_to_work_get_no_gateway_warning() {
    let Some(corpus) = corpus_dir() else { return };
    let negatives = conformance_negatives(&corpus);
    assert!(negatives.len() > 40, "the corpus README lists the negative conformance manifests");
    let conformance = corpus.join("kubernetes-sigs/gateway-api/conformance");
    let base = conformance.join("base/manifests.yaml");
    let mut files = Vec::new();
    yaml_files(&conformance.join("tests"), &mut files);
    let mut checked = 0;
    for file in files {
        let name = file.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        if negatives.contains(&name) {
            continue;
        }
        checked += 1;
        let found = lint(&[base.clone(), file]);
        // Errors here are the placeholders listed in GENUINE_CORPUS_ERRORS.
        let gateway_warnings: Vec<&Finding> =
            found.iter().filter(|finding| finding.code.starts_with("PLC4") && finding.severity == Severity::Warning).collect();
        assert!(gateway_warnings.is_empty(), "{name}: {gateway_warnings:#?}");
    }
    assert!(checked > 100, "only {checked} conformance manifests checked");
}
