//! Synthetic clusters for the resolution benchmarks: an inventory (namespaces, nodes, pods with
//! named container ports) and CiliumNetworkPolicies, NetworkPolicies and clusterwide policies
//! over it, with label selectors (`matchLabels` and `matchExpressions`), cross-namespace peers,
//! single ports, named ports, port ranges, CIDR sets with exceptions, entities and deny rules.
//! Shared by `compiler/benches/resolve.rs` and `compiler/benches/large_cluster.rs`.

use std::fmt::Write;
use std::time::Duration;

/// The shape of one synthetic cluster.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    pub namespaces: usize,
    pub nodes: usize,
    pub pods: usize,
    /// Pods per deployment (pods of one deployment and version share an identity); 1 gives
    /// every pod its own identity.
    pub replicas: usize,
    /// Versions per deployment (each is its own identity).
    pub versions: usize,
    /// Namespaced policies: CiliumNetworkPolicies (one rule each), and a NetworkPolicy for every
    /// fifth when `network_policies` is set.
    pub policies: usize,
    pub network_policies: bool,
    /// Clusterwide policies, on top of `policies`.
    pub clusterwide: usize,
}

/// Cilium's benchmark shape: 1,000 identities (one pod each) and 3,000 policy rules.
pub const RESOLVE: Shape = Shape { namespaces: 10, nodes: 4, pods: 1_000, replicas: 1, versions: 1, policies: 3_000, network_policies: false, clusterwide: 0 };

/// A large cluster: 50,000 pods (5,000 deployments of 10 replicas in 2 versions, so 10,000
/// identities) in 500 namespaces on 200 nodes, and 10,000 policies.
pub const LARGE: Shape =
    Shape { namespaces: 500, nodes: 200, pods: 50_000, replicas: 10, versions: 2, policies: 9_990, network_policies: true, clusterwide: 10 };

impl Shape {
    /// The deployments (apps) of the cluster.
    pub fn apps(&self) -> usize {
        self.pods.div_ceil(self.replicas)
    }

    /// The namespace of app `app`.
    fn namespace_of(&self, app: usize) -> usize {
        app % self.namespaces
    }
}

/// The inventory: namespaces, nodes and pods, as `kubectl get -o yaml` would give them.
pub fn inventory(shape: &Shape) -> String {
    let mut out = String::new();
    for namespace in 0..shape.namespaces {
        let env = if namespace % 4 == 0 { "staging" } else { "prod" };
        let _ =
            write!(out, "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{namespace}, labels: {{team: team-{}, env: {env}}}}}\n", namespace % 37);
    }
    for node in 0..shape.nodes {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Node\nmetadata: {{name: node-{node}, labels: {{kubernetes.io/hostname: node-{node}, zone: z{}}}}}\nspec: {{podCIDRs: [10.{}.{}.0/22]}}\nstatus: {{addresses: [{{type: InternalIP, address: 192.168.{}.{}}}]}}\n",
            node % 3,
            node / 64,
            (node % 64) * 4,
            node / 250,
            node % 250 + 1
        );
    }
    for pod in 0..shape.pods {
        let app = pod / shape.replicas;
        let replica = pod % shape.replicas;
        let version = replica % shape.versions;
        let node = pod % shape.nodes;
        let slot = pod / shape.nodes;
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: app-{app}-{replica}\n  namespace: ns-{}\n  labels: {{app: app-{app}, tier: tier-{}, version: v{version}, pod-template-hash: h{pod:x}}}\nspec:\n  nodeName: node-{node}\n  serviceAccountName: sa-{}\n  containers:\n  - name: main\n    image: registry.example/app:{version}\n    ports: [{{name: http, containerPort: 8080, protocol: TCP}}, {{name: metrics, containerPort: 9090, protocol: TCP}}]\nstatus: {{phase: Running, podIP: 10.{}.{}.{}}}\n",
            shape.namespace_of(app),
            (app / shape.namespaces) % 5,
            app % 7,
            node / 64,
            (node % 64) * 4 + slot / 250,
            slot % 250 + 1
        );
    }
    out
}

/// A selector of the pods of app `app`, written from another namespace.
fn app_in(shape: &Shape, app: usize) -> String {
    format!("{{matchLabels: {{app: app-{app}, k8s:io.kubernetes.pod.namespace: ns-{}}}}}", shape.namespace_of(app))
}

/// Namespaced policy `index`: it belongs to the namespace of app `index % apps`.
fn policy(shape: &Shape, index: usize) -> String {
    let apps = shape.apps();
    let app = index % apps;
    let namespace = shape.namespace_of(app);
    let neighbour = (app + shape.namespaces) % apps;
    let far = (app * 7 + 3) % apps;
    if shape.network_policies && index % 5 == 4 {
        // A NetworkPolicy: ingress from a tier of the namespace and from a labelled namespace,
        // egress to a far app and to an ipBlock.
        return format!(
            "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: np-{index}, namespace: ns-{namespace}}}\nspec:\n  podSelector: {{matchLabels: {{app: app-{app}}}}}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - from:\n    - podSelector: {{matchLabels: {{tier: tier-{}}}}}\n    - namespaceSelector: {{matchLabels: {{team: team-{}}}}}\n      podSelector: {{matchLabels: {{tier: tier-{}}}}}\n    ports: [{{port: 8080, protocol: TCP}}, {{port: 30000, endPort: 30099, protocol: TCP}}]\n  egress:\n  - to:\n    - namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: ns-{}}}}}\n      podSelector: {{matchLabels: {{app: app-{far}}}}}\n    ports: [{{port: http}}]\n  - to:\n    - ipBlock: {{cidr: 172.{}.{}.0/24, except: [172.{}.{}.128/25]}}\n    ports: [{{port: 443}}]\n",
            (index + 1) % 5,
            (index + 3) % 37,
            index % 5,
            shape.namespace_of(far),
            16 + index % 16,
            index % 200,
            16 + index % 16,
            index % 200,
        );
    }
    let subject = match index % 3 {
        0 => format!("{{matchLabels: {{app: app-{app}}}}}"),
        1 => format!("{{matchLabels: {{tier: tier-{}}}}}", index % 5),
        _ => {
            format!("{{matchExpressions: [{{key: app, operator: In, values: [app-{app}, app-{neighbour}]}}, {{key: version, operator: NotIn, values: [v9]}}]}}")
        }
    };
    let mut out = format!(
        "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: cnp-{index}, namespace: ns-{namespace}}}\nspec:\n  endpointSelector: {subject}\n  ingress:\n  - fromEndpoints:\n    - {{matchLabels: {{app: app-{neighbour}}}}}\n    - {{matchLabels: {{tier: tier-{}}}}}\n    - {}\n    toPorts:\n    - ports:\n",
        (index + 2) % 5,
        app_in(shape, far),
    );
    match index % 4 {
        0 => out.push_str("      - {port: \"8080\", protocol: TCP}\n      - {port: \"8443\", protocol: TCP}\n"),
        1 => out.push_str("      - {port: http, protocol: TCP}\n"),
        2 => {
            let first = 10_000 + (index % 50) * 100;
            let _ = writeln!(out, "      - {{port: \"{first}\", endPort: {}, protocol: TCP}}", first + 99);
        }
        _ => out.push_str("      - {port: \"9090\"}\n"),
    }
    let _ = write!(out, "  egress:\n  - toEndpoints: [{}]\n    toPorts: [{{ports: [{{port: \"5432\", protocol: TCP}}]}}]\n", app_in(shape, far));
    match index % 6 {
        0 => {
            let _ = write!(
                out,
                "  - toCIDRSet: [{{cidr: 172.{}.{}.0/24, except: [172.{}.{}.0/26]}}]\n    toPorts: [{{ports: [{{port: \"443\", protocol: TCP}}]}}]\n",
                16 + index % 16,
                index % 200,
                16 + index % 16,
                index % 200,
            );
        }
        1 => out.push_str("  - toEntities: [kube-apiserver]\n    toPorts: [{ports: [{port: \"6443\", protocol: TCP}]}]\n"),
        2 => out.push_str("  - toEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n"),
        _ => {}
    }
    if index.is_multiple_of(7) {
        let _ = write!(
            out,
            "  ingressDeny:\n  - fromEndpoints: [{{matchLabels: {{tier: tier-{}}}}}]\n    toPorts: [{{ports: [{{port: \"22\", protocol: TCP}}]}}]\n",
            (index + 4) % 5
        );
    }
    if index.is_multiple_of(11) {
        let _ = write!(out, "  egressDeny:\n  - toCIDR: [172.{}.{}.64/26]\n", 16 + index % 16, index % 200);
    }
    out
}

/// Clusterwide policy `index`: DNS for every pod, a shared monitoring scrape, a world deny.
fn clusterwide(index: usize) -> String {
    match index % 3 {
        0 => format!(
            "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: ccnp-dns-{index}}}\nspec:\n  endpointSelector: {{}}\n  egress:\n  - toEndpoints: [{{matchLabels: {{k8s:io.kubernetes.pod.namespace: ns-0, tier: tier-0}}}}]\n    toPorts: [{{ports: [{{port: \"53\", protocol: ANY}}]}}]\n"
        ),
        1 => format!(
            "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: ccnp-scrape-{index}}}\nspec:\n  endpointSelector: {{matchLabels: {{version: v{}}}}}\n  ingress:\n  - fromEndpoints: [{{matchLabels: {{k8s:io.kubernetes.pod.namespace: ns-1, tier: tier-1}}}}]\n    toPorts: [{{ports: [{{port: metrics}}]}}]\n",
            index % 2
        ),
        _ => format!(
            "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: ccnp-deny-{index}}}\nspec:\n  endpointSelector: {{matchExpressions: [{{key: tier, operator: In, values: [tier-{}]}}]}}\n  egressDeny:\n  - toEntities: [world]\n    toPorts: [{{ports: [{{port: \"25\", protocol: TCP}}, {{port: \"6000\", endPort: 6063}}]}}]\n",
            index % 5
        ),
    }
}

/// Every policy of the shape, as one stream.
pub fn policies(shape: &Shape) -> String {
    let mut out = String::new();
    for index in 0..shape.policies {
        out.push_str(&policy(shape, index));
    }
    for index in 0..shape.clusterwide {
        out.push_str(&clusterwide(index));
    }
    out
}

/// The process's CPU time so far (user + system, all threads), from `/proc/self/stat`, whose
/// clock ticks are 10 ms; `None` where the platform does not say. Steadier than wall time on a
/// shared machine.
pub fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name is in parentheses and may hold spaces; utime and stime follow it as the
    // 12th and 13th fields.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Writes the inputs of `shape` as `inventory.yaml` and `policies.yaml` into the directory named
/// by `POLC_BENCH_DUMP`, when it is set, so that they can be given to `polc lint` or `polc test`.
pub fn dump_if_asked(inventory: &str, policies: &str) {
    let Some(directory) = std::env::var_os("POLC_BENCH_DUMP") else { return };
    let directory = std::path::PathBuf::from(directory);
    let written = std::fs::create_dir_all(&directory)
        .and_then(|()| std::fs::write(directory.join("inventory.yaml"), inventory))
        .and_then(|()| std::fs::write(directory.join("policies.yaml"), policies));
    match written {
        Ok(()) => eprintln!("inputs written to {}", directory.display()),
        Err(error) => eprintln!("cannot write the inputs to {}: {error}", directory.display()),
    }
}
