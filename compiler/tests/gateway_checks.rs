//! Each Gateway API check, on a small input that has the problem (the code is reported, at
//! the right line) and on the corrected input (it is not).

use polc_compiler::diag::Severity;
use polc_compiler::{Options, SourceMap, parse};

#[derive(Debug)]
struct Finding {
    code: &'static str,
    severity: Severity,
    line: u32,
    message: String,
    help: Option<String>,
}

fn lint(text: &str) -> Vec<Finding> {
    let mut sources = SourceMap::new();
    sources.add("input.yaml", text);
    parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|diagnostic| Finding {
            code: diagnostic.code.id,
            severity: diagnostic.severity,
            line: diagnostic.location.as_ref().map_or(0, |location| location.span.start.line),
            message: diagnostic.message,
            help: diagnostic.help,
        })
        .collect()
}

/// Asserts `code` is reported at `line` (and returns that finding), with help.
fn reported(text: &str, code: &str, line: u32) -> Finding {
    let found = lint(text);
    let position = found.iter().position(|finding| finding.code == code && finding.line == line);
    let Some(position) = position else { panic!("no {code} at line {line} in {found:#?}") };
    let finding = found.into_iter().nth(position).expect("found above");
    assert!(finding.help.as_deref().is_some_and(|help| !help.is_empty()), "{finding:#?}");
    assert!(!finding.message.ends_with('.') && finding.message.chars().next().is_some_and(|c| !c.is_uppercase()), "{finding:#?}");
    finding
}

fn not_reported(text: &str, code: &str) {
    let found = lint(text);
    assert!(found.iter().all(|finding| finding.code != code), "unexpected {code}: {found:#?}");
}

/// No error and no warning at all.
fn clean(text: &str) {
    let found: Vec<Finding> = lint(text).into_iter().filter(|finding| finding.severity != Severity::Note).collect();
    assert!(found.is_empty(), "{found:#?}");
}

const GATEWAY_HEAD: &str =
    "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: web}\nspec:\n  gatewayClassName: cilium\n  listeners:\n";

fn gateway(listeners: &str) -> String {
    format!("{GATEWAY_HEAD}{listeners}")
}

const ROUTE_HEAD: &str =
    "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: route, namespace: web}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n";

fn http_route(rules: &str) -> String {
    format!("{ROUTE_HEAD}{rules}")
}

// ---------------------------------------------------------------- Gateway (PLC40xx)

#[test]
fn plc4001_tls_on_http_tcp_udp_listeners() {
    let bad = gateway("  - name: web\n    protocol: HTTP\n    port: 80\n    tls: {certificateRefs: [{name: cert}]}\n");
    let finding = reported(&bad, "PLC4001", 10);
    assert!(finding.help.unwrap_or_default().contains("HTTPS"));
    clean(&gateway("  - name: web\n    protocol: HTTPS\n    port: 443\n    tls: {certificateRefs: [{name: cert}]}\n"));
}

#[test]
fn plc4002_https_listener_must_terminate() {
    let bad = gateway("  - name: web\n    protocol: HTTPS\n    port: 443\n    tls:\n      mode: Passthrough\n");
    reported(&bad, "PLC4002", 11);
    clean(&gateway("  - name: web\n    protocol: TLS\n    port: 443\n    tls:\n      mode: Passthrough\n"));
}

#[test]
fn plc4003_tls_listener_needs_a_mode() {
    let bad = gateway("  - name: db\n    protocol: TLS\n    port: 5432\n");
    reported(&bad, "PLC4003", 8);
    not_reported(&gateway("  - name: db\n    protocol: TLS\n    port: 5432\n    tls: {mode: Passthrough}\n"), "PLC4003");
}

#[test]
fn plc4004_hostname_on_tcp_and_udp_listeners() {
    let bad = gateway("  - name: dns\n    protocol: UDP\n    port: 53\n    hostname: dns.example.com\n");
    reported(&bad, "PLC4004", 10);
    clean(&gateway("  - name: dns\n    protocol: UDP\n    port: 53\n"));
}

#[test]
fn plc4005_terminate_needs_certificates() {
    let bad = gateway("  - name: web\n    protocol: HTTPS\n    port: 443\n    tls: {}\n");
    let finding = reported(&bad, "PLC4005", 10);
    assert!(finding.message.contains("the default"), "{finding:#?}");
    // Implementation options are an alternative to certificates.
    clean(&gateway("  - name: web\n    protocol: HTTPS\n    port: 443\n    tls: {options: {example.com/cert-source: vault}}\n"));
    // A TLS listener in passthrough mode needs none.
    clean(&gateway("  - name: db\n    protocol: TLS\n    port: 443\n    tls: {mode: Passthrough}\n"));
}

#[test]
fn plc4006_listeners_must_be_distinct() {
    let bad = gateway("  - {name: a, protocol: HTTP, port: 80, hostname: a.example.com}\n  - {name: b, protocol: HTTP, port: 80, hostname: a.example.com}\n");
    let finding = reported(&bad, "PLC4006", 8);
    assert!(finding.message.contains("`a` and `b`"), "{finding:#?}");
    clean(&gateway("  - {name: a, protocol: HTTP, port: 80, hostname: a.example.com}\n  - {name: b, protocol: HTTP, port: 80, hostname: b.example.com}\n"));
    clean(&gateway("  - {name: a, protocol: HTTP, port: 80}\n  - {name: b, protocol: HTTP, port: 8080}\n"));
}

#[test]
fn plc4007_tcp_listener_shares_a_port_with_http() {
    let bad = gateway("  - {name: raw, protocol: TCP, port: 8080}\n  - {name: web, protocol: HTTP, port: 8080}\n");
    let finding = reported(&bad, "PLC4007", 8);
    assert_eq!(finding.severity, Severity::Warning);
    clean(&gateway("  - {name: raw, protocol: TCP, port: 9000}\n  - {name: web, protocol: HTTP, port: 8080}\n"));
    clean(&gateway("  - {name: dns-tcp, protocol: TCP, port: 53}\n  - {name: dns-udp, protocol: UDP, port: 53}\n"));
}

#[test]
fn plc4008_https_listener_without_tls() {
    let bad = gateway("  - name: web\n    protocol: HTTPS\n    port: 443\n");
    assert_eq!(reported(&bad, "PLC4008", 8).severity, Severity::Warning);
    clean(&gateway("  - name: web\n    protocol: HTTPS\n    port: 443\n    tls: {certificateRefs: [{name: cert}]}\n"));
}

#[test]
fn plc4009_addresses_of_the_wrong_form() {
    let listeners = "  - {name: web, protocol: HTTP, port: 80}\n";
    let bad = format!("{}{listeners}  addresses:\n  - value: gateway.example.com\n  - {{type: Hostname, value: 'gw.example.com:80'}}\n", GATEWAY_HEAD);
    let first = reported(&bad, "PLC4009", 9);
    assert!(first.help.unwrap_or_default().contains("type: Hostname"));
    reported(&bad, "PLC4009", 10);
    clean(&format!(
        "{GATEWAY_HEAD}{listeners}  addresses:\n  - value: 192.0.2.10\n  - value: '2001:db8::10'\n  - {{type: Hostname, value: gw.example.com}}\n  - {{type: example.com/pool, value: anything}}\n"
    ));
}

#[test]
fn plc4010_duplicate_addresses() {
    let listeners = "  - {name: web, protocol: HTTP, port: 80}\n";
    let bad = format!("{GATEWAY_HEAD}{listeners}  addresses:\n  - value: 192.0.2.10\n  - {{type: IPAddress, value: 192.0.2.10}}\n");
    reported(&bad, "PLC4010", 10);
    clean(&format!("{GATEWAY_HEAD}{listeners}  addresses:\n  - value: 192.0.2.10\n  - value: 192.0.2.11\n"));
}

#[test]
fn plc4011_infrastructure_keys() {
    let listeners = "  - {name: web, protocol: HTTP, port: 80}\n";
    let bad = format!("{GATEWAY_HEAD}{listeners}  infrastructure:\n    labels:\n      team/owner/name: a\n    annotations:\n      -bad: b\n");
    reported(&bad, "PLC4011", 10);
    reported(&bad, "PLC4011", 12);
    clean(&format!("{GATEWAY_HEAD}{listeners}  infrastructure:\n    labels:\n      example.com/team: a\n    annotations:\n      note: b\n"));
}

#[test]
fn plc4012_listener_allows_a_kind_its_protocol_cannot_serve() {
    let bad = gateway("  - name: web\n    protocol: HTTP\n    port: 80\n    allowedRoutes:\n      kinds: [{kind: HTTPRoute}, {kind: TLSRoute}]\n");
    let finding = reported(&bad, "PLC4012", 11);
    assert!(finding.message.contains("`TLSRoute`"), "{finding:#?}");
    clean(&gateway(
        "  - name: web\n    protocol: HTTP\n    port: 80\n    allowedRoutes:\n      kinds: [{kind: HTTPRoute}, {kind: GRPCRoute}, {group: example.com, kind: CustomRoute}]\n",
    ));
}

// ---------------------------------------------------------------- routes (PLC41xx)

#[test]
fn plc4101_repeated_parent_without_section_name() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs:\n  - name: gw\n  - name: gw\n    sectionName: https\n";
    reported(text, "PLC4101", 6);
    clean(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs:\n  - name: gw\n    sectionName: http\n  - name: gw\n    sectionName: https\n",
    );
    // The same name in another namespace is another parent.
    clean(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs:\n  - name: gw\n  - name: gw\n    namespace: infra\n    sectionName: https\n",
    );
}

#[test]
fn plc4102_duplicate_parent_and_section() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs:\n  - {name: gw, port: 80}\n  - {name: gw, port: 443}\n";
    let finding = reported(text, "PLC4102", 7);
    assert!(finding.help.unwrap_or_default().contains("sectionName"));
    not_reported(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs:\n  - {name: gw, sectionName: a}\n  - {name: gw, sectionName: b}\n",
        "PLC4102",
    );
}

#[test]
fn plc4103_service_backend_needs_a_port() {
    let bad = http_route("  - backendRefs:\n    - name: web\n    filters:\n    - type: RequestMirror\n      requestMirror: {backendRef: {name: shadow}}\n");
    reported(&bad, "PLC4103", 8);
    reported(&bad, "PLC4103", 11);
    clean(&http_route("  - backendRefs:\n    - {name: web, port: 80}\n    - {group: example.com, kind: Bucket, name: assets}\n"));
}

#[test]
fn plc4104_route_without_parents() {
    let bad = "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\nspec:\n  rules: [{backendRefs: [{name: grpc, port: 50051}]}]\n";
    assert_eq!(reported(bad, "PLC4104", 4).severity, Severity::Warning);
    clean(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: grpc, port: 50051}]}]\n",
    );
    // Attaching to default Gateways (experimental) is attaching too.
    not_reported(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\nspec:\n  useDefaultGateways: All\n  rules: [{backendRefs: [{name: grpc, port: 50051}]}]\n",
        "PLC4104",
    );
}

#[test]
fn plc4105_too_many_matches() {
    // Each rule is within its own limit (64); together they are not (129 > 128).
    let rule = |count: usize| format!("  - matches:\n{}", (0..count).map(|index| format!("    - path: {{value: /p{index}}}\n")).collect::<String>());
    let bad = http_route(&format!("{}{}{}", rule(43), rule(43), rule(43)));
    let finding = reported(&bad, "PLC4105", 7);
    assert!(finding.message.contains("129"), "{finding:#?}");
    not_reported(&http_route(&format!("{}{}{}", rule(43), rule(43), rule(42))), "PLC4105");
    // A rule without matches counts as one (the default match).
    reported(&http_route(&format!("{}{}{}  - backendRefs: [{{name: a, port: 80}}]\n", rule(43), rule(43), rule(42))), "PLC4105", 7);
}

#[test]
fn plc4106_ip_address_host_names() {
    let http = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [192.0.2.10]\n";
    assert_eq!(reported(http, "PLC4106", 6).severity, Severity::Warning);
    let tls = "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [192.0.2.10]\n  rules: [{backendRefs: [{name: db, port: 5432}]}]\n";
    assert_eq!(reported(tls, "PLC4106", 6).severity, Severity::Error);
    clean(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [a.example.com, '*.example.com']\n",
    );
}

#[test]
fn plc4107_duplicate_rule_names() {
    let bad = http_route("  - name: api\n    backendRefs: [{name: a, port: 80}]\n  - name: api\n    backendRefs: [{name: b, port: 80}]\n");
    assert_eq!(reported(&bad, "PLC4107", 9).severity, Severity::Warning);
    clean(&http_route("  - name: api\n    backendRefs: [{name: a, port: 80}]\n  - name: web\n    backendRefs: [{name: b, port: 80}]\n"));
}

// ---------------------------------------------------------------- filters (PLC42xx)

#[test]
fn plc4201_filter_without_its_block() {
    let bad = http_route("  - filters:\n    - type: URLRewrite\n    backendRefs: [{name: a, port: 80}]\n");
    reported(&bad, "PLC4201", 8);
    let grpc = "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - backendRefs:\n    - name: a\n      port: 80\n      filters: [{type: RequestHeaderModifier}]\n";
    reported(grpc, "PLC4201", 10);
    clean(&http_route("  - filters:\n    - type: URLRewrite\n      urlRewrite: {hostname: internal.example.com}\n    backendRefs: [{name: a, port: 80}]\n"));
}

#[test]
fn plc4202_filter_with_another_types_block() {
    let bad = http_route(
        "  - filters:\n    - type: ResponseHeaderModifier\n      responseHeaderModifier: {remove: [server]}\n      urlRewrite: {hostname: a.example.com}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    reported(&bad, "PLC4202", 10);
    not_reported(&bad, "PLC4201");
    clean(&http_route(
        "  - filters:\n    - type: ResponseHeaderModifier\n      responseHeaderModifier: {remove: [server]}\n    backendRefs: [{name: a, port: 80}]\n",
    ));
}

#[test]
fn plc4203_repeated_core_filter() {
    let bad = http_route(
        "  - filters:\n    - {type: CORS, cors: {allowOrigins: ['*']}}\n    - {type: CORS, cors: {allowOrigins: ['https://a.example.com']}}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    reported(&bad, "PLC4203", 9);
    // Mirrors may repeat.
    clean(&http_route(
        "  - filters:\n    - {type: RequestMirror, requestMirror: {backendRef: {name: m1, port: 80}}}\n    - {type: RequestMirror, requestMirror: {backendRef: {name: m2, port: 80}}}\n    backendRefs: [{name: a, port: 80}]\n",
    ));
}

#[test]
fn plc4204_redirect_and_rewrite_together() {
    let bad = http_route(
        "  - filters:\n    - {type: RequestRedirect, requestRedirect: {scheme: https}}\n    - {type: URLRewrite, urlRewrite: {hostname: b.example.com}}\n",
    );
    reported(&bad, "PLC4204", 9);
    clean(&http_route("  - filters:\n    - {type: RequestRedirect, requestRedirect: {scheme: https}}\n"));
}

#[test]
fn plc4205_redirect_with_backends() {
    let bad = http_route("  - filters:\n    - type: RequestRedirect\n      requestRedirect: {scheme: https}\n    backendRefs: [{name: a, port: 80}]\n");
    reported(&bad, "PLC4205", 9);
    // A redirect in a backend's own filters is not a rule-level redirect.
    not_reported(
        &http_route("  - backendRefs:\n    - name: a\n      port: 80\n      filters: [{type: RequestRedirect, requestRedirect: {scheme: https}}]\n"),
        "PLC4205",
    );
}

#[test]
fn plc4206_replace_prefix_match_needs_one_path_prefix_match() {
    let rewrite = "    filters:\n    - type: URLRewrite\n      urlRewrite:\n        path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}\n    backendRefs: [{name: a, port: 80}]\n";
    let exact = http_route(&format!("  - matches:\n    - path: {{type: Exact, value: /old}}\n{rewrite}"));
    let finding = reported(&exact, "PLC4206", 12);
    assert!(finding.message.contains("`Exact`"), "{finding:#?}");
    let two = http_route(&format!("  - matches:\n    - path: {{value: /a}}\n    - path: {{value: /b}}\n{rewrite}"));
    reported(&two, "PLC4206", 13);
    clean(&http_route(&format!("  - matches:\n    - path: {{type: PathPrefix, value: /old}}\n{rewrite}")));
    // Without matches the rule has the default single `PathPrefix /` match.
    clean(&http_route(&format!("  -\n{rewrite}")));
}

#[test]
fn plc4207_path_modifier_type_and_field_disagree() {
    let bad = http_route(
        "  - filters:\n    - type: URLRewrite\n      urlRewrite:\n        path: {type: ReplaceFullPath, replacePrefixMatch: /new}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    let found = lint(&bad);
    assert_eq!(found.iter().filter(|finding| finding.code == "PLC4207").count(), 2, "{found:#?}");
    clean(&http_route(
        "  - filters:\n    - type: URLRewrite\n      urlRewrite:\n        path: {type: ReplaceFullPath, replaceFullPath: /new}\n    backendRefs: [{name: a, port: 80}]\n",
    ));
}

#[test]
fn plc4208_mirror_percent_and_fraction() {
    let bad = http_route(
        "  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n        percent: 10\n        fraction: {numerator: 1}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    reported(&bad, "PLC4208", 12);
    clean(&http_route(
        "  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n        fraction: {numerator: 1, denominator: 3}\n    backendRefs: [{name: a, port: 80}]\n",
    ));
}

#[test]
fn plc4209_mirror_fraction_above_one() {
    let bad = http_route(
        "  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n        fraction: {numerator: 150}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    let finding = reported(&bad, "PLC4209", 11);
    assert!(finding.message.contains("150/100"), "{finding:#?}");
    clean(&http_route(
        "  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: m, port: 80}\n        fraction: {numerator: 150, denominator: 1000}\n    backendRefs: [{name: a, port: 80}]\n",
    ));
}

#[test]
fn plc4210_cors_wildcard_with_other_values() {
    let bad = http_route(
        "  - filters:\n    - type: CORS\n      cors:\n        allowOrigins: ['https://a.example.com', '*']\n        allowMethods: [GET, '*']\n    backendRefs: [{name: a, port: 80}]\n",
    );
    reported(&bad, "PLC4210", 10);
    reported(&bad, "PLC4210", 11);
    clean(&http_route(
        "  - filters:\n    - type: CORS\n      cors:\n        allowOrigins: ['*']\n        allowMethods: [GET, POST]\n        allowHeaders: ['*']\n    backendRefs: [{name: a, port: 80}]\n",
    ));
}

#[test]
fn plc4211_external_auth_protocol_and_block_disagree() {
    let bad = http_route(
        "  - filters:\n    - type: ExternalAuth\n      externalAuth:\n        protocol: GRPC\n        backendRef: {name: authz, port: 9000}\n        http: {path: /check}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    reported(&bad, "PLC4211", 12);
    reported(&bad, "PLC4211", 10);
    let good = http_route(
        "  - filters:\n    - type: ExternalAuth\n      externalAuth:\n        protocol: GRPC\n        backendRef: {name: authz, port: 9000}\n        grpc: {}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    clean(&good);
    // ...but it is an experimental-channel filter, which a note says.
    assert!(lint(&good).iter().any(|finding| finding.code == "PLC4900" && finding.line == 8));
}

#[test]
fn plc4212_header_values_with_control_characters() {
    let bad = http_route(
        "  - matches:\n    - headers: [{name: x-a, value: \"one\\ntwo\"}]\n    filters:\n    - type: RequestHeaderModifier\n      requestHeaderModifier: {set: [{name: x-b, value: \"a\\rb\"}]}\n    backendRefs: [{name: a, port: 80}]\n",
    );
    reported(&bad, "PLC4212", 8);
    reported(&bad, "PLC4212", 11);
    clean(&http_route("  - matches:\n    - headers: [{name: x-a, value: \"one\\ttwo\"}]\n    backendRefs: [{name: a, port: 80}]\n"));
}

// ---------------------------------------------------------------- matches (PLC43xx)

#[test]
fn plc4301_path_values() {
    for (value, reason) in
        [("api", "start with `/`"), ("/a//b", "`//`"), ("/a/./b", "`/./`"), ("/a/..", "`/..`"), ("/a%2Fb", "`%2F`"), ("/a#b", "`#`"), ("/a b", "` `")]
    {
        let bad = http_route(&format!("  - matches:\n    - path: {{type: Exact, value: '{value}'}}\n    backendRefs: [{{name: a, port: 80}}]\n"));
        let finding = reported(&bad, "PLC4301", 8);
        assert!(finding.message.contains(reason), "{value}: {finding:#?}");
    }
    clean(&http_route(
        "  - matches:\n    - path: {type: PathPrefix, value: '/api/%5Bv1%5D/~user'}\n    - path: {type: RegularExpression, value: '/a//b'}\n    backendRefs: [{name: a, port: 80}]\n",
    ));
}

#[test]
fn plc4302_backend_timeout_longer_than_request() {
    let bad = http_route("  - backendRefs: [{name: a, port: 80}]\n    timeouts: {request: 10s, backendRequest: 1m}\n");
    reported(&bad, "PLC4302", 8);
    clean(&http_route("  - backendRefs: [{name: a, port: 80}]\n    timeouts: {request: 1m, backendRequest: 10s}\n"));
    // `request: 0s` disables the request timeout.
    clean(&http_route("  - backendRefs: [{name: a, port: 80}]\n    timeouts: {request: 0s, backendRequest: 1m}\n"));
}

#[test]
fn plc4303_regular_expressions_that_do_not_compile() {
    let bad = http_route(
        "  - matches:\n    - path: {type: RegularExpression, value: '/api/(v1|v2'}\n      queryParams: [{type: RegularExpression, name: q, value: '[a-'}]\n    backendRefs: [{name: a, port: 80}]\n",
    );
    assert_eq!(reported(&bad, "PLC4303", 8).severity, Severity::Warning);
    reported(&bad, "PLC4303", 9);
    clean(&http_route("  - matches:\n    - path: {type: RegularExpression, value: '^/api/v[0-9]+/.*'}\n    backendRefs: [{name: a, port: 80}]\n"));
}

fn grpc_route(matches: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GRPCRoute\nmetadata: {{name: r}}\nspec:\n  parentRefs: [{{name: gw}}]\n  rules:\n  - matches:\n{matches}    backendRefs: [{{name: a, port: 50051}}]\n"
    )
}

#[test]
fn plc4304_grpc_method_match_without_service_or_method() {
    reported(&grpc_route("    - method: {type: Exact}\n"), "PLC4304", 8);
    clean(&grpc_route("    - method: {method: SayHello}\n"));
}

#[test]
fn plc4305_grpc_names() {
    let bad = grpc_route("    - method: {service: helloworld/Greeter, method: Say.Hello}\n");
    let found = lint(&bad);
    assert_eq!(found.iter().filter(|finding| finding.code == "PLC4305" && finding.line == 8).count(), 2, "{found:#?}");
    clean(&grpc_route("    - method: {service: .helloworld.Greeter, method: SayHello}\n    - method: {type: RegularExpression, service: 'helloworld\\..*'}\n"));
}

#[test]
fn plc4306_session_persistence_blocks() {
    let bad = http_route("  - backendRefs: [{name: a, port: 80}]\n    sessionPersistence:\n      type: Header\n      cookie: {name: session}\n");
    reported(&bad, "PLC4306", 10);
    reported(&bad, "PLC4306", 8);
    let permanent = http_route("  - backendRefs: [{name: a, port: 80}]\n    sessionPersistence:\n      cookie: {name: session, lifetimeType: Permanent}\n");
    reported(&permanent, "PLC4306", 9);
    let good = http_route(
        "  - backendRefs: [{name: a, port: 80}]\n    sessionPersistence:\n      absoluteTimeout: 24h\n      cookie: {name: session, lifetimeType: Permanent}\n",
    );
    clean(&good);
    assert!(lint(&good).iter().any(|finding| finding.code == "PLC4900"));
}

// ---------------------------------------------------------------- TLSRoute (PLC44xx)

#[test]
fn plc4401_tls_route_hostnames_required_from_v1alpha3() {
    let body = "kind: TLSRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: db, port: 5432}]}]\n";
    for version in ["v1", "v1alpha3"] {
        reported(&format!("apiVersion: gateway.networking.k8s.io/{version}\n{body}"), "PLC4401", 4);
    }
    clean(&format!("apiVersion: gateway.networking.k8s.io/v1alpha2\n{body}"));
}

#[test]
fn plc4402_tls_route_single_rule_from_v1alpha3() {
    let body = "kind: TLSRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [db.example.com]\n  rules:\n  - backendRefs: [{name: a, port: 5432}]\n  - backendRefs: [{name: b, port: 5432}]\n";
    reported(&format!("apiVersion: gateway.networking.k8s.io/v1\n{body}"), "PLC4402", 9);
    clean(&format!("apiVersion: gateway.networking.k8s.io/v1alpha2\n{body}"));
}

// ---------------------------------------------------------------- across objects (PLC45xx)

const CLASS: &str =
    "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: cilium}\nspec: {controllerName: io.cilium/gateway-controller}\n---\n";

#[test]
fn plc4501_gateway_class_not_found() {
    let bad = format!(
        "{CLASS}apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw}}\nspec:\n  gatewayClassName: cillium\n  listeners: [{{name: web, protocol: HTTP, port: 80}}]\n"
    );
    let finding = reported(&bad, "PLC4501", 10);
    assert_eq!(finding.help.as_deref(), Some("did you mean `cilium`?"));
    clean(&bad.replace("cillium", "cilium"));
    // Without any GatewayClass among the inputs, the class lives elsewhere.
    clean(&bad.replace(CLASS, ""));
}

/// A Gateway in `infra` with an HTTP listener for `*.example.com` (routes from `infra` only,
/// unless `allowed` says otherwise), then `rest`.
fn with_gateway(allowed: &str, rest: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: gw, namespace: infra}}\nspec:\n  gatewayClassName: cilium\n  listeners:\n  - name: web\n    protocol: HTTP\n    port: 80\n    hostname: '*.example.com'\n{allowed}---\n{rest}"
    )
}

fn route_in(namespace: &str, parent: &str, hostnames: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: {namespace}}}\nspec:\n  parentRefs: [{parent}]\n  hostnames: [{hostnames}]\n  rules: [{{backendRefs: [{{name: a, port: 80}}]}}]\n"
    )
}

#[test]
fn plc4502_parent_gateway_not_found() {
    let bad = with_gateway("", &route_in("infra", "{name: gw2}", "a.example.com"));
    let finding = reported(&bad, "PLC4502", 16);
    assert_eq!(finding.help.as_deref(), Some("did you mean `gw`?"));
    clean(&with_gateway("", &route_in("infra", "{name: gw}", "a.example.com")));
    // No Gateway at all in the parent's namespace: it lives elsewhere.
    clean(&with_gateway("", &route_in("infra", "{name: gw2, namespace: edge}", "a.example.com")));
}

#[test]
fn plc4503_section_name_or_port_selects_no_listener() {
    reported(&with_gateway("", &route_in("infra", "{name: gw, sectionName: https}", "a.example.com")), "PLC4503", 16);
    reported(&with_gateway("", &route_in("infra", "{name: gw, port: 443}", "a.example.com")), "PLC4503", 16);
    clean(&with_gateway("", &route_in("infra", "{name: gw, sectionName: web, port: 80}", "a.example.com")));
}

#[test]
fn plc4504_not_allowed_by_listeners() {
    let cross = route_in("shop", "{name: gw, namespace: infra}", "a.example.com");
    let finding = reported(&with_gateway("", &cross), "PLC4504", 16);
    assert!(finding.message.contains("own namespace `infra`"), "{finding:#?}");
    clean(&with_gateway("    allowedRoutes: {namespaces: {from: All}}\n", &cross));
    // A selector is evaluated against the Namespace objects of the inputs.
    let selector = "    allowedRoutes:\n      namespaces:\n        from: Selector\n        selector: {matchLabels: {gateway-access: 'true'}}\n";
    let namespace = |labels: &str| format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{{labels}}}}}\n---\n{cross}");
    assert!(lint(&with_gateway(selector, &namespace("team: a"))).iter().any(|finding| finding.code == "PLC4504"));
    clean(&with_gateway(selector, &namespace("gateway-access: 'true'")));
    // Without the Namespace object, the selector cannot be evaluated: nothing is said.
    clean(&with_gateway(selector, &cross));
    // Kinds: a TLSRoute on an HTTP listener.
    let tls = "apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\nmetadata: {name: t, namespace: infra}\nspec:\n  parentRefs: [{name: gw}]\n  hostnames: [db.example.com]\n  rules: [{backendRefs: [{name: db, port: 5432}]}]\n";
    let finding = reported(&with_gateway("", tls), "PLC4504", 16);
    assert!(finding.message.contains("takes HTTPRoute and GRPCRoute only"), "{finding:#?}");
}

#[test]
fn plc4505_no_matching_listener_hostname() {
    let finding = reported(&with_gateway("", &route_in("infra", "{name: gw}", "example.com, b.example.net")), "PLC4505", 16);
    assert!(finding.message.contains("`*.example.com` (listener `web`)"), "{finding:#?}");
    clean(&with_gateway("", &route_in("infra", "{name: gw}", "example.com, a.b.example.com")));
}

#[test]
fn plc4506_cross_namespace_reference_without_grant() {
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: shop}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: api, namespace: backends, port: 80}]}]\n---\n";
    let grant = |kind: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: backends}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: {kind}, namespace: shop}}]\n  to: [{{group: '', kind: Service}}]\n"
        )
    };
    reported(&format!("{route}{}", grant("GRPCRoute")), "PLC4506", 6);
    clean(&format!("{route}{}", grant("HTTPRoute")));
    // No grant at all in `backends`: the grants live elsewhere.
    clean(route);
    // Certificates of a Gateway.
    let gateway = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: infra}\nspec:\n  gatewayClassName: cilium\n  listeners:\n  - name: https\n    protocol: HTTPS\n    port: 443\n    tls: {certificateRefs: [{name: cert, namespace: certs}]}\n---\n";
    let secret_grant = |namespace: &str| {
        format!(
            "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {{name: g, namespace: certs}}\nspec:\n  from: [{{group: gateway.networking.k8s.io, kind: Gateway, namespace: {namespace}}}]\n  to: [{{group: '', kind: Secret, name: cert}}]\n"
        )
    };
    reported(&format!("{gateway}{}", secret_grant("edge")), "PLC4506", 10);
    clean(&format!("{gateway}{}", secret_grant("infra")));
}

#[test]
fn plc4507_backend_service_not_found() {
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: shop}\nspec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: storefrnt, port: 80}]}]\n---\n";
    let service = |name: &str| format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n  ports: [{{port: 80}}]\n");
    let finding = reported(&format!("{route}{}", service("storefront")), "PLC4507", 6);
    assert_eq!(finding.help.as_deref(), Some("did you mean `storefront`?"));
    clean(&format!("{route}{}", service("storefrnt")));
    clean(route);
}

// ---------------------------------------------------------------- notes (PLC4900)

#[test]
fn plc4900_experimental_fields_are_noted() {
    let text = http_route("  - backendRefs: [{name: a, port: 80}]\n    retry: {attempts: 3, codes: [503], backoff: 100ms}\n");
    let found = lint(&text);
    let notes: Vec<&Finding> = found.iter().filter(|finding| finding.code == "PLC4900").collect();
    assert_eq!(notes.len(), 1, "{found:#?}");
    assert_eq!((notes[0].severity, notes[0].line), (Severity::Note, 8));
    clean(&text);
    not_reported(&http_route("  - backendRefs: [{name: a, port: 80}]\n    timeouts: {request: 10s}\n"), "PLC4900");
}

// ---------------------------------------------------------------- schema details

#[test]
fn unknown_fields_say_where_they_belong() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches:\n    - path: {value: /}\n      backendRefs: [{name: a, port: 80}]\n";
    let finding = reported(text, "PLC2001", 9);
    assert!(finding.help.unwrap_or_default().starts_with("`backendRefs` belongs in `spec.rules[]`"));
}

#[test]
fn pattern_errors_explain_the_expected_form() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r}\nspec:\n  parentRefs: [{name: gw, sectionName: Web_1}]\n  hostnames: [Shop.Example.com]\n  rules:\n  - backendRefs: [{name: a, port: 80}]\n    timeouts: {request: 10 seconds}\n";
    let found = lint(text);
    for line in [5, 6, 9] {
        let finding = found.iter().find(|finding| finding.code == "PLC2005" && finding.line == line).unwrap_or_else(|| panic!("line {line}: {found:#?}"));
        let help = finding.help.as_deref().unwrap_or_default();
        assert!(!help.starts_with("the value must match the pattern"), "a written explanation, not a regex: {help}");
    }
}

#[test]
fn every_gateway_code_is_registered_and_explained() {
    let codes: Vec<&polc_compiler::Code> = polc_compiler::codes::all().into_iter().filter(|code| code.id.starts_with("PLC4")).collect();
    assert!(codes.len() >= 45, "{}", codes.len());
    for code in codes {
        assert!(code.explanation.contains("Fix:"), "{} explains the fix", code.id);
        assert!(!code.summary.ends_with('.'), "{}", code.id);
    }
}
