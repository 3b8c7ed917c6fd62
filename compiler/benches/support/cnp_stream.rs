//! A realistic stream of CiliumNetworkPolicy documents for benchmarks: L3 (endpoints,
//! namespaces, CIDRs with exceptions, entities), L4 (ports, ranges, protocols), L7 (HTTP
//! methods, paths and headers; DNS patterns with FQDN egress) and deny rules, varied by index.
//! Shared by `compiler/benches/lint_throughput.rs` and `cli/benches/lint_end_to_end.rs`.

use std::fmt::Write;

const TEAMS: &[&str] = &["payments", "search", "checkout", "identity", "catalog", "billing", "ledger"];
const TIERS: &[&str] = &["frontend", "api", "worker", "db", "cache"];

/// One policy document (without the `---` separator), varied by `index`.
pub fn policy(index: usize) -> String {
    let team = TEAMS[index % TEAMS.len()];
    let tier = TIERS[index % TIERS.len()];
    let peer = TIERS[(index + 1) % TIERS.len()];
    let port = 1024 + (index * 7) % 50_000;
    let mut out = String::new();
    let _ = write!(
        out,
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: {team}-{tier}-{index}
  namespace: {team}
  labels:
    app.kubernetes.io/part-of: {team}
    policy-index: \"{index}\"
spec:
  description: \"allow {peer} to reach {tier} in {team}\"
  endpointSelector:
    matchLabels:
      app: {tier}
      team: {team}
"
    );
    match index % 5 {
        // L3 + L4.
        0 => {
            let _ = write!(
                out,
                "  ingress:
  - fromEndpoints:
    - matchLabels:
        app: {peer}
        k8s:io.kubernetes.pod.namespace: {team}
    toPorts:
    - ports:
      - port: \"{port}\"
        protocol: TCP
      - port: \"{}\"
        endPort: {}
        protocol: UDP
",
                port + 1,
                port + 10
            );
        }
        // L7 HTTP.
        1 => {
            let _ = write!(
                out,
                "  ingress:
  - fromEndpoints:
    - matchLabels:
        app: {peer}
    toPorts:
    - ports:
      - port: \"8080\"
        protocol: TCP
      rules:
        http:
        - method: GET
          path: \"/api/v1/{team}/.*\"
        - method: POST
          path: \"/api/v1/{team}/orders\"
          headers:
          - \"X-Request-Source: {peer}\"
"
            );
        }
        // Egress to CIDRs with exceptions, entities, and DNS-aware FQDN egress.
        2 => {
            let _ = write!(
                out,
                "  egress:
  - toCIDRSet:
    - cidr: 10.{}.0.0/16
      except:
      - 10.{}.{}.0/24
    - cidr: 2001:db8:{:x}::/48
  - toEntities:
    - kube-apiserver
    - host
  - toEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: kube-system
        k8s-app: kube-dns
    toPorts:
    - ports:
      - port: \"53\"
        protocol: ANY
      rules:
        dns:
        - matchPattern: \"*.{team}.example.com\"
  - toFQDNs:
    - matchName: api.{team}.example.com
    - matchPattern: \"*.cdn.example.net\"
    toPorts:
    - ports:
      - port: \"443\"
        protocol: TCP
",
                index % 256,
                index % 256,
                index % 200,
                index % 65_536
            );
        }
        // Deny rules next to allow rules.
        3 => {
            let _ = write!(
                out,
                "  ingress:
  - fromEntities:
    - cluster
  ingressDeny:
  - fromCIDR:
    - 192.0.2.{}/32
    - 198.51.100.0/24
    toPorts:
    - ports:
      - port: \"22\"
        protocol: TCP
  egressDeny:
  - toEntities:
    - world
",
                index % 256
            );
        }
        // Several rules, namespace selectors and expressions.
        _ => {
            let _ = write!(
                out,
                "  ingress:
  - fromEndpoints:
    - matchExpressions:
      - key: app
        operator: In
        values: [{peer}, {tier}]
      - key: canary
        operator: DoesNotExist
  - fromEndpoints:
    - matchLabels:
        k8s:io.kubernetes.pod.namespace: monitoring
        app: prometheus
    toPorts:
    - ports:
      - port: \"9090\"
        protocol: TCP
  egress:
  - toEndpoints:
    - matchLabels:
        app: {peer}
    toPorts:
    - ports:
      - port: \"{port}\"
        protocol: TCP
      - port: \"{}\"
        protocol: SCTP
",
                port + 2
            );
        }
    }
    out
}

/// `count` policy documents as one YAML stream.
pub fn stream(count: usize) -> String {
    let mut out = String::new();
    for index in 0..count {
        out.push_str("---\n");
        out.push_str(&policy(index));
    }
    out
}
