//! The FlowTest checks (`PLC6001`–`PLC6007`) and the inventory checks (`PLC61xx`, `PLC62xx`),
//! and the leniency of the inventory models towards `kubectl get -o yaml` dumps.

use polc_compiler::{Options, Parsed, SourceMap, parse};

fn lint(text: &str) -> Parsed {
    let mut sources = SourceMap::new();
    sources.add("input.yaml", text);
    parse(&sources, &Options::default())
}

fn found(parsed: &Parsed) -> Vec<(&'static str, u32)> {
    parsed
        .diagnostics
        .iter()
        .map(|diagnostic| (diagnostic.code.id, diagnostic.location.as_ref().map(|location| location.span.start.line).unwrap_or(0)))
        .collect()
}

const HEADER: &str = "apiVersion: polc/v1alpha1\nkind: FlowTest\nmetadata: {name: t}\nspec:\n  flows:\n";

#[test]
fn a_valid_flowtest_has_no_findings() {
    let parsed = lint(&format!(
        "{HEADER}  - {{from: default/frontend, to: prod/backend, port: 8080, expect: allow}}
  - {{from: 203.0.113.7, to: 'node:node-a', port: 22, protocol: TCP, expect: deny}}
  - {{from: 'fd00::1', to: default/db, protocol: ICMPv6, expect: deny}}
  - {{from: default/client, to: kube-system/coredns, port: 53, protocol: UDP, dns: {{query: example.com}}, expect: allow}}
  - name: get
    from: default/client
    to: default/backend
    port: 8080
    http: {{method: GET, path: /api, host: api.example.com, headers: {{x-team: a}}}}
    expect: allow
"
    ));
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_eq!(parsed.objects.len(), 1);
}

#[test]
fn flow_ends_must_be_a_pod_an_address_or_a_node() {
    let parsed = lint(&format!(
        "{HEADER}  - {{from: frontend, to: prod/backend, port: 80, expect: allow}}
  - {{from: default/frontend, to: 10.0.0.0/8, port: 80, expect: allow}}
  - {{from: 'node:Node_A', to: Default/x, port: 80, expect: allow}}
"
    ));
    let codes = found(&parsed);
    assert_eq!(codes, vec![("PLC6001", 6), ("PLC6001", 7), ("PLC6001", 8), ("PLC6001", 8)], "{:?}", parsed.diagnostics);
    let first = &parsed.diagnostics[0];
    assert!(first.message.contains("`frontend`"), "{}", first.message);
    assert!(first.help.as_deref().unwrap_or("").contains("default/frontend"));
    assert!(parsed.diagnostics[1].message.contains("CIDR"), "{}", parsed.diagnostics[1].message);
}

#[test]
fn ports_are_checked_per_protocol() {
    let parsed = lint(&format!(
        "{HEADER}  - {{from: default/a, to: default/b, expect: allow}}
  - {{from: default/a, to: default/b, port: 0, protocol: UDP, expect: allow}}
  - {{from: default/a, to: default/b, port: 300, protocol: ICMP, expect: deny}}
"
    ));
    assert_eq!(found(&parsed), vec![("PLC6002", 6), ("PLC6002", 7), ("PLC6003", 8)], "{:?}", parsed.diagnostics);
    // A port above 65535 is a schema error (the object is then not checked further).
    let parsed = lint(&format!("{HEADER}  - {{from: default/a, to: default/b, port: 70000, expect: deny}}\n"));
    assert_eq!(found(&parsed), vec![("PLC2006", 6)]);
}

#[test]
fn l7_requests_must_fit_the_protocol() {
    let parsed = lint(&format!(
        "{HEADER}  - {{from: default/a, to: default/b, port: 80, protocol: UDP, http: {{path: /x}}, expect: allow}}
  - {{from: default/a, to: default/b, port: 53, protocol: ICMP, dns: {{query: a.b}}, expect: allow}}
  - {{from: default/a, to: default/b, port: 53, http: {{path: x}}, dns: {{query: a.b}}, expect: allow}}
"
    ));
    let codes: Vec<&str> = found(&parsed).into_iter().map(|(code, _)| code).collect();
    assert_eq!(codes, vec!["PLC6004", "PLC6004", "PLC6006", "PLC6005"], "{:?}", parsed.diagnostics);
}

#[test]
fn flow_names_are_unique_within_a_flowtest() {
    let parsed = lint(&format!(
        "{HEADER}  - {{name: a, from: default/a, to: default/b, port: 80, expect: allow}}
  - {{name: a, from: default/a, to: default/b, port: 81, expect: allow}}
"
    ));
    assert_eq!(found(&parsed), vec![("PLC6007", 7)]);
    assert_eq!(parsed.diagnostics[0].related.len(), 1);
}

#[test]
fn a_flowtest_rejects_unknown_fields_and_bad_expectations() {
    let parsed = lint(&format!(
        "{HEADER}  - {{from: default/a, to: default/b, port: 80, expected: allow}}\n  - {{from: default/a, to: default/b, port: 80, expect: maybe}}\n"
    ));
    let codes: Vec<&str> = found(&parsed).into_iter().map(|(code, _)| code).collect();
    assert!(codes.contains(&"PLC2001"), "{codes:?}");
    assert!(codes.contains(&"PLC2003"), "{codes:?}");
    assert!(codes.contains(&"PLC2004"), "{codes:?}");
}

/// A trimmed but real-shaped `kubectl get pod -o yaml` dump: many fields polc does not model.
const POD_DUMP: &str = "apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: \"2026-01-10T10:00:00Z\"
  generateName: web-7c9d8f6b5-
  labels:
    app: web
    pod-template-hash: 7c9d8f6b5
  name: web-7c9d8f6b5-abcde
  namespace: default
  ownerReferences:
  - apiVersion: apps/v1
    blockOwnerDeletion: true
    controller: true
    kind: ReplicaSet
    name: web-7c9d8f6b5
    uid: 0b6c3f1e-0000-4000-8000-000000000001
  resourceVersion: \"12345\"
  uid: 0b6c3f1e-0000-4000-8000-000000000002
spec:
  containers:
  - image: nginx:1.27
    imagePullPolicy: IfNotPresent
    name: web
    ports:
    - containerPort: 8080
      name: http
      protocol: TCP
    resources: {}
    terminationMessagePath: /dev/termination-log
    volumeMounts:
    - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      name: kube-api-access
      readOnly: true
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  nodeName: node-a
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  serviceAccount: web
  serviceAccountName: web
  tolerations:
  - effect: NoExecute
    key: node.kubernetes.io/not-ready
    operator: Exists
    tolerationSeconds: 300
status:
  conditions:
  - lastProbeTime: null
    lastTransitionTime: \"2026-01-10T10:00:01Z\"
    status: \"True\"
    type: Ready
  containerStatuses:
  - containerID: containerd://abc
    image: docker.io/library/nginx:1.27
    name: web
    ready: true
    restartCount: 0
    started: true
    state:
      running:
        startedAt: \"2026-01-10T10:00:01Z\"
  hostIP: 192.168.10.11
  hostIPs:
  - ip: 192.168.10.11
  phase: Running
  podIP: 10.244.1.99
  podIPs:
  - ip: 10.244.1.99
  qosClass: BestEffort
  startTime: \"2026-01-10T10:00:00Z\"
";

#[test]
fn inventory_dumps_with_unmodelled_fields_are_accepted() {
    let parsed = lint(POD_DUMP);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    let node_dump = "apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {kubernetes.io/hostname: node-a}
  annotations: {node.alpha.kubernetes.io/ttl: \"0\"}
spec:
  podCIDR: 10.244.1.0/24
  podCIDRs: [10.244.1.0/24]
  providerID: kind://docker/kind/node-a
status:
  addresses:
  - {address: 192.168.10.11, type: InternalIP}
  - {address: node-a, type: Hostname}
  allocatable: {cpu: \"8\", memory: 16Gi}
  nodeInfo: {kubeletVersion: v1.33.0, architecture: amd64}
";
    assert!(lint(node_dump).diagnostics.is_empty());
}

#[test]
fn modelled_inventory_fields_are_still_typed() {
    let parsed = lint("apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default}\nstatus: {podIP: not-an-ip}\n");
    assert_eq!(found(&parsed), vec![("PLC2010", 4)]);
    let parsed = lint("apiVersion: v1\nkind: Node\nmetadata: {name: node-1}\nspec: {podCIDRs: [10.0.0.0/33]}\n");
    assert_eq!(found(&parsed).first().map(|(code, _)| *code), Some("PLC2010"), "{:?}", parsed.diagnostics);
}

#[test]
fn addresses_that_disagree_within_an_object() {
    let parsed = lint(
        "apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
status: {podIP: 10.0.0.1, podIPs: [{ip: 10.0.0.2}]}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
spec: {podCIDR: 10.1.0.0/24, podCIDRs: [10.2.0.0/24]}
status: {addresses: [{type: InternalIP, address: node-1.example.com}]}
---
apiVersion: v1
kind: Service
metadata: {name: s, namespace: default}
spec: {clusterIP: 10.96.0.300}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: e, namespace: default}
addressType: IPv4
endpoints: [{addresses: ['fd00::1']}]
",
    );
    let codes: Vec<&str> = found(&parsed).into_iter().map(|(code, _)| code).collect();
    assert_eq!(codes, vec!["PLC6101", "PLC6102", "PLC6103", "PLC6104", "PLC6105"], "{:?}", parsed.diagnostics);
}

#[test]
fn ambiguous_named_ports_are_a_warning() {
    let parsed = lint(
        "apiVersion: v1
kind: Pod
metadata: {name: p, namespace: default}
spec:
  containers:
  - name: a
    ports: [{name: http, containerPort: 8080}]
  - name: b
    ports: [{name: http, containerPort: 15000}, {name: admin, containerPort: 9000}]
",
    );
    assert_eq!(found(&parsed), vec![("PLC6106", 9)]);
    assert!(!parsed.has_errors());
}

#[test]
fn cross_object_inventory_findings() {
    let parsed = lint(
        "apiVersion: v1
kind: Namespace
metadata: {name: default}
---
apiVersion: v1
kind: Node
metadata: {name: node-a}
spec: {podCIDRs: [10.244.1.0/24]}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: default}
spec: {nodeName: node-a}
status: {podIP: 10.244.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: default}
spec: {nodeName: node-a}
status: {podIP: 10.244.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: other}
spec: {nodeName: node-z}
status: {podIP: 10.9.9.9}
---
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: default}
spec: {nodeName: node-a}
status: {podIP: 10.250.0.1}
---
apiVersion: v1
kind: Namespace
metadata: {name: default}
",
    );
    let codes: Vec<(&str, u32)> = found(&parsed);
    assert!(codes.contains(&("PLC6202", 20)), "{codes:?}");
    assert!(codes.contains(&("PLC6203", 25)), "{codes:?}");
    assert!(codes.contains(&("PLC6204", 24)), "{codes:?}");
    assert!(codes.contains(&("PLC6205", 32)), "{codes:?}");
    assert!(codes.contains(&("PLC6201", 36)), "{codes:?}");
    assert_eq!(codes.len(), 5, "{codes:?}");
}
