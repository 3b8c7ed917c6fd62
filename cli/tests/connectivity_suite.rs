//! Cilium's own connectivity test suite (`cilium connectivity test`) expressed as polc FlowTests.
//!
//! Every case names the suite's policy manifests, read from the shared corpus
//! (`cilium/cilium/cilium-cli/connectivity/builder/manifests/`), and a FlowTest under
//! `tests/connectivity/` whose expectations are the suite's own. The manifests are prepared the way
//! the suite applies them — templates rendered with the suite's default parameters, namespaced
//! policies placed in the test namespace, `cilium-test` namespace labels rewritten — into a
//! temporary directory, and `polc test` runs them with `tests/connectivity/inventory.yaml`.
//! Scenario, case list and simplifications: `tests/connectivity/README.md`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

mod support;

/// The namespace the suite runs in (`--test-namespace` default `cilium-test`, suffixed with the
/// concurrency index).
const TEST_NAMESPACE: &str = "cilium-test-1";

/// The namespace written into the suite's manifests, replaced by [`TEST_NAMESPACE`] when applied.
const MANIFEST_NAMESPACE: &str = "cilium-test";

/// One suite test: the FlowTest file stem under `tests/connectivity/` and the corpus manifests
/// the suite applies for it, in order.
struct Case {
    flowtest: &'static str,
    manifests: &'static [&'static str],
}

macro_rules! cases {
    ($( $test:ident => $flowtest:literal: [$($manifest:literal),+ $(,)?]; )*) => {
        const CASES: &[Case] = &[$( Case { flowtest: $flowtest, manifests: &[$($manifest),+] } ),*];
        $(
            #[test]
            fn $test() {
                run_case($flowtest);
            }
        )*
    };
}

cases! {
    allow_all_except_world => "allow-all-except-world": ["allow-all-except-world.yaml"];
    client_ingress => "client-ingress-from-client2": ["client-ingress-from-client2.yaml"];
    client_ingress_knp => "client-ingress-from-client2-knp": ["client-ingress-from-client2-knp.yaml"];
    client_ingress_icmp => "echo-ingress-icmp": ["echo-ingress-icmp.yaml"];
    all_ingress_deny => "deny-all-ingress": ["deny-all-ingress.yaml"];
    all_ingress_deny_knp => "deny-all-ingress-knp": ["deny-all-ingress-knp.yaml"];
    all_egress_deny => "deny-all-egress": ["deny-all-egress.yaml"];
    all_egress_deny_knp => "deny-all-egress-knp": ["deny-all-egress-knp.yaml"];
    all_entities_deny => "deny-all-entities": ["deny-all-entities.yaml"];
    cluster_entity => "allow-cluster-entity": ["allow-cluster-entity.yaml"];
    host_entity_egress => "allow-host-entity-egress": ["allow-host-entity-egress.yaml"];
    host_entity_ingress => "allow-host-entity-ingress": ["allow-host-entity-ingress.yaml"];
    echo_ingress => "echo-ingress-from-other-client": ["echo-ingress-from-other-client.yaml"];
    echo_ingress_knp => "echo-ingress-from-other-client-knp": ["echo-ingress-from-other-client-knp.yaml"];
    client_egress => "client-egress-to-echo": ["client-egress-to-echo.yaml"];
    client_egress_knp => "client-egress-to-echo-knp": ["client-egress-to-echo-knp.yaml"];
    client_egress_expression => "client-egress-to-echo-expression": ["client-egress-to-echo-expression.yaml"];
    client_egress_expression_port_range => "client-egress-to-echo-expression-port-range": ["client-egress-to-echo-expression-port-range.yaml"];
    client_egress_expression_knp => "client-egress-to-echo-expression-knp": ["client-egress-to-echo-expression-knp.yaml"];
    client_egress_expression_knp_port_range => "client-egress-to-echo-expression-knp-port-range": ["client-egress-to-echo-expression-knp-port-range.yaml"];
    client_with_service_account_egress_to_echo => "client-with-service-account-egress-to-echo": ["client-with-service-account-egress-to-echo.yaml"];
    client_with_service_account_egress_to_echo_port_range => "client-with-service-account-egress-to-echo-port-range":
        ["client-with-service-account-egress-to-echo-port-range.yaml"];
    client_egress_to_echo_service_account => "client-egress-to-echo-service-account": ["client-egress-to-echo-service-account.yaml"];
    client_egress_to_echo_service_account_port_range => "client-egress-to-echo-service-account-port-range":
        ["client-egress-to-echo-service-account-port-range.yaml"];
    to_entities_world => "client-egress-to-entities-world": ["client-egress-to-entities-world.yaml"];
    to_entities_world_port_range => "client-egress-to-entities-world-port-range": ["client-egress-to-entities-world-port-range.yaml"];
    to_cidr_external => "client-egress-to-cidr-external": ["client-egress-to-cidr-external.yaml"];
    to_cidr_external_knp => "client-egress-to-cidr-external-knp": ["client-egress-to-cidr-external-knp.yaml"];
    echo_ingress_from_other_client_deny => "echo-ingress-from-other-client-deny":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "echo-ingress-from-other-client-deny.yaml"];
    client_ingress_from_other_client_icmp_deny => "echo-ingress-icmp-deny": ["allow-all-egress.yaml", "allow-all-ingress.yaml", "echo-ingress-icmp-deny.yaml"];
    client_egress_to_echo_deny => "client-egress-to-echo-deny": ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-egress-to-echo-deny.yaml"];
    client_egress_to_echo_deny_port_range => "client-egress-to-echo-deny-port-range":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-egress-to-echo-deny-port-range.yaml"];
    client_ingress_to_echo_named_port_deny => "client-egress-to-echo-named-port-deny":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-egress-to-echo-named-port-deny.yaml"];
    client_egress_to_echo_expression_deny => "client-egress-to-echo-expression-deny":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-egress-to-echo-expression-deny.yaml"];
    client_egress_to_echo_expression_deny_port_range => "client-egress-to-echo-expression-deny-port-range":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-egress-to-echo-expression-deny-port-range.yaml"];
    client_with_service_account_egress_to_echo_deny => "client-with-service-account-egress-to-echo-deny":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-with-service-account-egress-to-echo-deny.yaml"];
    client_with_service_account_egress_to_echo_deny_port_range => "client-with-service-account-egress-to-echo-deny-port-range":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-with-service-account-egress-to-echo-deny-port-range.yaml"];
    client_egress_to_echo_service_account_deny => "client-egress-to-echo-service-account-deny":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-egress-to-echo-service-account-deny.yaml"];
    client_egress_to_echo_service_account_deny_port_range => "client-egress-to-echo-service-account-deny-port-range":
        ["allow-all-egress.yaml", "allow-all-ingress.yaml", "client-egress-to-echo-service-account-deny-port-range.yaml"];
    client_egress_to_cidr_deny => "client-egress-to-cidr-external-deny": ["allow-all-egress.yaml", "client-egress-to-cidr-external-deny.yaml"];
    client_egress_to_cidr_deny_default => "client-egress-to-cidr-external-deny-default": ["client-egress-to-cidr-external-deny.yaml"];
    echo_ingress_l7 => "echo-ingress-l7-http": ["echo-ingress-l7-http.yaml"];
    echo_ingress_l7_named_port => "echo-ingress-l7-http-named-port": ["echo-ingress-l7-http-named-port.yaml"];
    client_egress_l7_method => "client-egress-l7-http-method": ["client-egress-only-dns.yaml", "client-egress-l7-http-method.yaml"];
    client_egress_l7_method_port_range => "client-egress-l7-http-method-port-range": ["client-egress-only-dns.yaml", "client-egress-l7-http-method-port-range.yaml"];
    client_egress_l7 => "client-egress-l7-http": ["client-egress-only-dns.yaml", "client-egress-l7-http.yaml"];
    client_egress_l7_port_range => "client-egress-l7-http-port-range": ["client-egress-only-dns.yaml", "client-egress-l7-http-port-range.yaml"];
    client_egress_l7_named_port => "client-egress-l7-http-named-port": ["client-egress-only-dns.yaml", "client-egress-l7-http-named-port.yaml"];
    client_egress_l7_set_header => "client-egress-l7-http-matchheader-secret": ["client-egress-l7-http-matchheader-secret.yaml"];
    client_egress_l7_set_header_port_range => "client-egress-l7-http-matchheader-secret-port-range": ["client-egress-l7-http-matchheader-secret-port-range.yaml"];
    echo_ingress_auth_always_fail => "echo-ingress-mutual-authentication-fail": ["echo-ingress-mutual-authentication-fail.yaml"];
    echo_ingress_auth_always_fail_port_range => "echo-ingress-mutual-authentication-fail-port-range": ["echo-ingress-mutual-authentication-fail-port-range.yaml"];
    echo_ingress_mutual_auth_spiffe => "echo-ingress-mutual-authentication": ["echo-ingress-mutual-authentication.yaml"];
    echo_ingress_mutual_auth_spiffe_port_range => "echo-ingress-mutual-authentication-port-range": ["echo-ingress-mutual-authentication-port-range.yaml"];
    dns_only => "client-egress-only-dns": ["client-egress-only-dns.yaml"];
    to_fqdns => "client-egress-to-fqdns": ["client-egress-to-fqdns.yaml", "client-egress-only-dns.yaml"];
    client_egress_tls_sni => "client-egress-tls-sni": ["client-egress-tls-sni.yaml", "client-egress-only-dns.yaml"];
    host_firewall_ingress => "host-firewall-ingress": ["host-firewall-ingress.yaml"];
    host_firewall_egress => "host-firewall-egress": ["host-firewall-egress.yaml"];
    pod_to_controlplane_host => "client-egress-to-entities-host": ["client-egress-to-entities-host.yaml"];
    pod_to_pod_with_l7_policy_encryption => "client-egress-l7-http-from-any": ["client-egress-l7-http-from-any.yaml", "echo-ingress-l7-http-from-anywhere.yaml"];
    from_cidr_host_netns => "echo-ingress-from-cidr": ["echo-ingress-from-cidr.yaml"];
}

/// The workspace root (`cli/..`).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the cli crate lives inside the workspace").to_path_buf()
}

/// The folder of the suite's manifests in the corpus, or `None` (after saying so) when the corpus
/// is absent.
fn manifest_dir() -> Option<PathBuf> {
    let corpus = match std::env::var_os("POLC_CORPUS") {
        Some(path) => PathBuf::from(path),
        None => workspace_root().join("../shared/corpus"),
    };
    let dir = corpus.join("cilium/cilium/cilium-cli/connectivity/builder/manifests");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipped: the corpus is absent (no {}); set POLC_CORPUS to the corpus root to run the connectivity suite cases", dir.display());
        None
    }
}

/// The number of flows in a FlowTest file; every flow of `tests/connectivity` starts with a
/// `  - from:` line.
fn flow_count(flowtest: &str) -> usize {
    flowtest.lines().filter(|line| line.starts_with("  - from: ")).count()
}

fn run_case(name: &str) {
    let case = CASES.iter().find(|case| case.flowtest == name).expect("every generated test names a case of the table");
    let Some(manifest_dir) = manifest_dir() else {
        return;
    };
    let root = workspace_root();
    let flowtest_path = root.join("tests/connectivity").join(format!("{}.flowtest.yaml", case.flowtest));
    let flowtest = std::fs::read_to_string(&flowtest_path).unwrap_or_else(|error| panic!("cannot read {}: {error}", flowtest_path.display()));
    let expected_flows = flow_count(&flowtest);
    assert!(expected_flows > 0, "{} has no flows", flowtest_path.display());

    let rendered_dir = tempfile::tempdir().expect("a temporary directory");
    let mut inputs = Vec::new();
    for manifest in case.manifests {
        let source_path = manifest_dir.join(manifest);
        let source = std::fs::read_to_string(&source_path).unwrap_or_else(|error| panic!("cannot read {}: {error}", source_path.display()));
        let rendered = render_template(&source).unwrap_or_else(|error| panic!("{manifest}: {error}"));
        let applied = apply_like_the_suite(&rendered).unwrap_or_else(|error| panic!("{manifest}: {error}"));
        let target = rendered_dir.path().join(manifest);
        std::fs::write(&target, applied).expect("writing a rendered manifest");
        inputs.push(target);
    }

    let output = Command::new(env!("CARGO_BIN_EXE_polc"))
        .current_dir(&root)
        .arg("test")
        .args(&inputs)
        .arg("tests/connectivity/inventory.yaml")
        .arg(format!("tests/connectivity/{}.flowtest.yaml", case.flowtest))
        .output()
        .expect("running polc");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let closing = stdout.lines().rev().map(str::trim).find(|line| !line.is_empty()).unwrap_or("");
    let wanted = format!("{expected_flows} passed, 0 failed");
    assert!(
        output.status.code() == Some(0) && closing == wanted,
        "case `{}` (manifests {:?}): wanted exit 0 and `{wanted}`, got exit {:?} and `{closing}`\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        case.flowtest,
        case.manifests,
        output.status.code(),
    );
}

/// The value of one template action of the suite's manifests, with the suite's default
/// parameters (cilium-cli/cli/connectivity.go) and Cilium's default cluster name.
fn template_value(action: &str) -> Result<String, String> {
    let words: Vec<&str> = action.split_whitespace().collect();
    let parameter = |name: &str| -> Result<&'static str, String> {
        Ok(match name {
            ".TestNamespace" => TEST_NAMESPACE,
            ".ClusterName" => "default",
            ".ExternalTarget" => "one.one.one.one.",
            ".ExternalOtherTarget" => "cilium.io.",
            ".ExternalCIDR" => "1.0.0.0/8",
            ".ExternalIP" => "1.1.1.1",
            ".ExternalOtherIP" => "1.0.0.1",
            ".ExternalDeploymentPort" => "8080",
            _ => return Err(format!("unknown template parameter `{name}`")),
        })
    };
    match words.as_slice() {
        [name] => parameter(name).map(str::to_string),
        [name, "|", "ipToCIDR"] => {
            let address = parameter(name)?;
            Ok(if address.contains(':') { format!("{address}/128") } else { format!("{address}/32") })
        }
        ["trimSuffix", name, suffix] => {
            let suffix = suffix.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).ok_or_else(|| format!("unquoted suffix in `{action}`"))?;
            let value = parameter(name)?;
            Ok(value.strip_suffix(suffix).unwrap_or(value).to_string())
        }
        _ => Err(format!("unsupported template action `{action}`")),
    }
}

/// The nodes without Cilium the suite would detect: one, whose host-netns pod is the source of
/// the "from outside" scenarios.
const NODES_WITHOUT_CILIUM: &[(&str, u8)] = &[("172.18.0.9", 32)];

/// Renders the Go template subset the suite's manifests use: `{{.Param}}`, `{{.Param | ipToCIDR}}`,
/// `{{trimSuffix .Param "x"}}`, `{{range $i := .NodesWithoutCiliumIPs}}...{{$i.IP}}/{{$i.Mask}}...{{end}}`
/// and the `{{-`/`-}}` whitespace trimming markers. Anything else is an error, so a changed
/// upstream template cannot slip through half-rendered.
fn render_template(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let (before, after_open) = rest.split_at(start);
        let after_open = &after_open[2..];
        let end = after_open.find("}}").ok_or("unterminated template action")?;
        let mut action = &after_open[..end];
        let mut after = &after_open[end + 2..];
        out.push_str(before);
        if let Some(trimmed) = action.strip_prefix('-') {
            action = trimmed;
            let kept = out.trim_end().len();
            out.truncate(kept);
        }
        if let Some(trimmed) = action.strip_suffix('-') {
            action = trimmed;
            after = after.trim_start();
        }
        let action = action.trim();
        if let Some(range) = action.strip_prefix("range ") {
            let variable = match range.split_whitespace().collect::<Vec<_>>().as_slice() {
                [variable, ":=", ".NodesWithoutCiliumIPs"] => variable.to_string(),
                _ => return Err(format!("unsupported range `{action}`")),
            };
            let end_at = after.find("{{ end }}").or_else(|| after.find("{{end}}")).ok_or("range without end")?;
            let body = &after[..end_at];
            if body.contains("range") {
                return Err("nested ranges are not supported".to_string());
            }
            for (address, mask) in NODES_WITHOUT_CILIUM {
                let item = body.replace(&format!("{{{{{variable}.IP}}}}"), address).replace(&format!("{{{{{variable}.Mask}}}}"), &mask.to_string());
                out.push_str(&render_template(&item)?);
            }
            let end_len = if after[end_at..].starts_with("{{ end }}") { "{{ end }}".len() } else { "{{end}}".len() };
            rest = &after[end_at + end_len..];
        } else {
            out.push_str(&template_value(action)?);
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// What the suite does to a manifest before applying it (cilium-cli/connectivity/check/test.go
/// `WithResources`, policy.go `tweakPolicy`): a CiliumNetworkPolicy or NetworkPolicy without a
/// namespace goes to the test namespace, and in CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy
/// and NetworkPolicy peers a `matchLabels` namespace of `cilium-test` becomes the test namespace.
fn apply_like_the_suite(text: &str) -> Result<String, String> {
    let mut documents: Vec<Vec<&str>> = vec![Vec::new()];
    for line in text.lines() {
        if line.trim_end() == "---" {
            documents.push(Vec::new());
        }
        documents.last_mut().expect("at least one document").push(line);
    }
    let mut out = String::new();
    for document in documents {
        let kind = document.iter().find_map(|line| line.strip_prefix("kind:")).map(|kind| kind.trim().trim_matches('"').to_string()).unwrap_or_default();
        let namespaced = kind == "CiliumNetworkPolicy" || kind == "NetworkPolicy";
        let rewrite_peers = namespaced || kind == "CiliumClusterwideNetworkPolicy";
        let has_namespace = metadata_has_namespace(&document);
        for line in document {
            if rewrite_peers {
                out.push_str(&rewrite_namespace_label(line));
            } else {
                out.push_str(line);
            }
            out.push('\n');
            if namespaced && !has_namespace && line.starts_with("metadata:") {
                if line.trim_end() != "metadata:" {
                    return Err(format!("cannot place a `{kind}` written with inline metadata in the test namespace"));
                }
                out.push_str(&format!("  namespace: {TEST_NAMESPACE}\n"));
            }
        }
    }
    Ok(out)
}

/// Whether the block under a top-level `metadata:` line sets a namespace.
fn metadata_has_namespace(document: &[&str]) -> bool {
    let mut in_metadata = false;
    for line in document {
        if line.starts_with("metadata:") {
            in_metadata = true;
        } else if !line.starts_with(' ') && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            in_metadata = false;
        } else if in_metadata && line.trim_start().starts_with("namespace:") && line.len() - line.trim_start().len() == 2 {
            return true;
        }
    }
    false
}

/// Rewrites `io.kubernetes.pod.namespace: cilium-test` (also with a `k8s:` or `any:` source
/// prefix, quoted or not) to the test namespace; other lines are returned unchanged.
fn rewrite_namespace_label(line: &str) -> String {
    let body = line.trim_start();
    let indent = &line[..line.len() - body.len()];
    let (dash, entry) = match body.strip_prefix("- ") {
        Some(entry) => ("- ", entry),
        None => ("", body),
    };
    // A quoted key may hold a `:` itself (`"k8s:io.kubernetes.pod.namespace"`).
    let split = match entry.chars().next() {
        Some(quote @ ('"' | '\'')) => entry[1..].find(quote).and_then(|close| {
            let (key, rest) = entry.split_at(close + 2);
            rest.strip_prefix(':').map(|value| (key, value))
        }),
        _ => entry.split_once(": "),
    };
    let Some((key, value)) = split else {
        return line.to_string();
    };
    let bare_key = key.trim().trim_matches(|c| c == '"' || c == '\'');
    let is_namespace_key = ["io.kubernetes.pod.namespace", "k8s:io.kubernetes.pod.namespace", "any:io.kubernetes.pod.namespace"].contains(&bare_key);
    let bare_value = value.trim().trim_matches(|c| c == '"' || c == '\'');
    if is_namespace_key && bare_value == MANIFEST_NAMESPACE { format!("{indent}{dash}{key}: {TEST_NAMESPACE}") } else { line.to_string() }
}

#[test]
fn every_flowtest_file_is_a_case_and_every_case_has_its_file() {
    let dir = workspace_root().join("tests/connectivity");
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .expect("tests/connectivity exists")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter_map(|name| name.strip_suffix(".flowtest.yaml").map(str::to_string))
        .collect();
    let in_table: BTreeSet<String> = CASES.iter().map(|case| case.flowtest.to_string()).collect();
    assert_eq!(in_table.len(), CASES.len(), "a FlowTest file appears twice in the case table");
    let missing: Vec<_> = in_table.difference(&on_disk).collect();
    let orphaned: Vec<_> = on_disk.difference(&in_table).collect();
    assert!(missing.is_empty() && orphaned.is_empty(), "cases without a file: {missing:?}; files without a case: {orphaned:?}");
    for case in CASES {
        let text = std::fs::read_to_string(dir.join(format!("{}.flowtest.yaml", case.flowtest))).expect("readable FlowTest");
        assert!(flow_count(&text) > 0, "{} has no flows", case.flowtest);
        assert!(text.contains(&format!("\n  name: {}\n", case.flowtest)), "{}: metadata.name should be the file stem", case.flowtest);
    }
}

#[test]
fn templates_render_with_the_suite_defaults() {
    assert_eq!(render_template("cidr: \"{{.ExternalCIDR}}\"").as_deref(), Ok("cidr: \"1.0.0.0/8\""));
    assert_eq!(render_template("- \"{{ .ExternalOtherIP | ipToCIDR }}\"").as_deref(), Ok("- \"1.0.0.1/32\""));
    assert_eq!(render_template("name: fqdns-{{trimSuffix .ExternalTarget \".\"}}").as_deref(), Ok("name: fqdns-one.one.one.one"));
    assert_eq!(render_template("matchName: \"{{.ExternalTarget}}\"").as_deref(), Ok("matchName: \"one.one.one.one.\""));
    assert_eq!(
        render_template("  fromCIDR:\n{{ range $i := .NodesWithoutCiliumIPs }}\n    - {{$i.IP}}/{{$i.Mask}}\n{{ end }}\n").as_deref(),
        Ok("  fromCIDR:\n\n    - 172.18.0.9/32\n\n")
    );
    assert_eq!(render_template("a:\n  {{- .ClusterName }}").as_deref(), Ok("a:default"));
    assert!(render_template("{{.NoSuchParameter}}").is_err());
    assert!(render_template("{{ range .NodeCIDRs }}x{{ end }}").is_err());
    assert!(render_template("{{.ExternalIP").is_err());
}

#[test]
fn policies_are_placed_like_the_suite_places_them() {
    let cnp = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: x\nspec:\n  egress:\n  - toEndpoints:\n    - matchLabels:\n        io.kubernetes.pod.namespace: cilium-test\n        kind: echo\n";
    let applied = apply_like_the_suite(cnp).expect("applies");
    assert!(applied.contains("metadata:\n  namespace: cilium-test-1\n  name: x\n"), "{applied}");
    assert!(applied.contains("        io.kubernetes.pod.namespace: cilium-test-1\n"), "{applied}");

    let placed = "kind: NetworkPolicy\nmetadata:\n  name: x\n  namespace: other\nspec:\n  podSelector: {}\n";
    assert_eq!(apply_like_the_suite(placed).expect("applies"), placed);

    let ccnp = "---\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: x\nspec:\n  egress:\n  - toEndpoints:\n    - matchLabels:\n        \"k8s:io.kubernetes.pod.namespace\": \"cilium-test\"\n";
    let applied = apply_like_the_suite(ccnp).expect("applies");
    assert!(!applied.contains("namespace: cilium-test-1\n  name"), "a clusterwide policy gets no namespace: {applied}");
    assert!(applied.contains("\"k8s:io.kubernetes.pod.namespace\": cilium-test-1"), "{applied}");

    let other_namespace =
        "kind: CiliumNetworkPolicy\nmetadata:\n  name: x\nspec:\n  endpointSelector:\n    matchLabels:\n      io.kubernetes.pod.namespace: kube-system\n";
    assert!(apply_like_the_suite(other_namespace).expect("applies").contains("io.kubernetes.pod.namespace: kube-system"));
    assert!(apply_like_the_suite("kind: CiliumNetworkPolicy\nmetadata: {name: x}\n").is_err());
}

/// Every case's flows through the reference evaluator, the userspace model of the compiled
/// datapath and, with `kernel`, the datapath in the kernel (see `support/engines.rs`).
fn compare_engines_on_every_case(mut kernel: Option<&mut polc_ebpf::engine::KernelJudge>) {
    let Some(manifest_dir) = manifest_dir() else {
        return;
    };
    let root = workspace_root();
    let inventory = std::fs::read_to_string(root.join("tests/connectivity/inventory.yaml")).expect("the connectivity inventory");
    let mut failures = Vec::new();
    let mut flows = 0;
    for case in CASES {
        let mut sources = polc_compiler::SourceMap::new();
        for manifest in case.manifests {
            let source = std::fs::read_to_string(manifest_dir.join(manifest)).unwrap_or_else(|error| panic!("cannot read {manifest}: {error}"));
            let rendered = render_template(&source).and_then(|rendered| apply_like_the_suite(&rendered)).unwrap_or_else(|error| panic!("{manifest}: {error}"));
            sources.add(*manifest, rendered);
        }
        sources.add("tests/connectivity/inventory.yaml", inventory.clone());
        let flowtest = format!("tests/connectivity/{}.flowtest.yaml", case.flowtest);
        sources.add(flowtest.clone(), std::fs::read_to_string(root.join(&flowtest)).expect("the case's FlowTest"));
        match support::engines::compare_engines(&sources, &polc_compiler::lower::LowerOptions::default(), kernel.as_deref_mut()) {
            Ok(covered) => flows += covered.flows,
            Err(message) => failures.push(format!("case `{}`: {message}", case.flowtest)),
        }
    }
    assert!(failures.is_empty(), "the engines disagree:\n{}", failures.join("\n"));
    assert!(flows >= 500, "only {flows} flows compared");
    eprintln!("the engines agree on {flows} flows of {} cases", CASES.len());
}

#[test]
fn every_case_gets_the_same_verdict_from_the_reference_and_the_model() {
    compare_engines_on_every_case(None);
}

#[test]
fn every_case_gets_the_same_verdict_from_the_reference_the_model_and_the_kernel_privileged() {
    if !support::engines::privileged("every_case_gets_the_same_verdict_from_the_reference_the_model_and_the_kernel_privileged") {
        return;
    }
    let mut kernel = polc_ebpf::engine::KernelJudge::new(true).expect("root may load BPF programs");
    compare_engines_on_every_case(Some(&mut kernel));
}
