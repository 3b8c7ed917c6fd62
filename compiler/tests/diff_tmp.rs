use std::fmt::Write;
use polc_compiler::diff::diff;
use polc_compiler::lower::{LowerOptions, Lowered, lower};
use polc_compiler::{Options, SourceMap, parse};
const PODS: usize = 1_000;
const NAMESPACES: usize = 10;
const NODES: usize = 4;

fn inventory() -> String {
    let mut out = String::new();
    for namespace in 0..NAMESPACES {
        let _ = write!(out, "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{namespace}, labels: {{team: team-{namespace}}}}}\n");
    }
    for node in 0..NODES {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Node\nmetadata: {{name: node-{node}}}\nspec: {{podCIDRs: [10.{node}.0.0/16]}}\nstatus: {{addresses: [{{type: InternalIP, address: 192.168.1.{}}}]}}\n",
            node + 1
        );
    }
    for pod in 0..PODS {
        let node = pod % NODES;
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: svc-{pod}, namespace: ns-{}, labels: {{app: svc-{pod}, tier: tier-{}}}}}\nspec:\n  nodeName: node-{node}\n  containers: [{{name: main, image: app, ports: [{{name: http, containerPort: 8080, protocol: TCP}}]}}]\nstatus: {{phase: Running, podIP: 10.{node}.{}.{}}}\n",
            pod % NAMESPACES,
            pod % 5,
            pod / 250,
            pod % 250 + 1
        );
    }
    out
}

/// The selector of pod `pod` from any namespace.
fn selector(pod: usize) -> String {
    format!("{{matchLabels: {{app: svc-{pod}, k8s:io.kubernetes.pod.namespace: ns-{}}}}}", pod % NAMESPACES)
}

/// The policy of pod `pod`: three rules; `changed` gives the new version. Pod `i` takes
/// traffic from pods `i-1` and `i-7` on port 8080 and sends to `i+1` and `i+7` on that port.
fn policy(pod: usize, changed: bool) -> String {
    let namespace = pod % NAMESPACES;
    let moved = changed && pod % 20 == 0;
    let dropped = changed && pod % 50 == 1;
    let ingress_port = if moved { 9090 } else { 8080 };
    let mut out = format!(
        "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: svc-{pod}, namespace: ns-{namespace}}}\nspec:\n  endpointSelector: {{matchLabels: {{app: svc-{pod}}}}}\n  ingress:\n  - fromEndpoints: [{}, {}]\n    toPorts: [{{ports: [{{port: \"{ingress_port}\", protocol: TCP}}]}}]\n  egress:\n  - toEndpoints: [{}, {}]\n    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]\n",
        selector((pod + PODS - 1) % PODS),
        selector((pod + PODS - 7) % PODS),
        selector((pod + 1) % PODS),
        selector((pod + 7) % PODS),
    );
    if !dropped {
        match pod % 3 {
            0 => {
                let _ = write!(
                    out,
                    "  - toCIDRSet: [{{cidr: 172.16.{}.0/24, except: [172.16.{}.128/25]}}]\n    toPorts: [{{ports: [{{port: \"{}\", protocol: TCP}}]}}]\n",
                    pod % 32,
                    pod % 32,
                    1000 + pod % 50
                );
            }
            1 => {
                let _ = write!(out, "  - toEntities: [kube-apiserver]\n    toPorts: [{{ports: [{{port: \"6443\", protocol: TCP}}]}}]\n");
            }
            _ => {
                let _ = write!(out, "  egressDeny:\n  - toEntities: [world]\n    toPorts: [{{ports: [{{port: \"25\", protocol: TCP}}]}}]\n");
            }
        }
    }
    if moved {
        let _ = write!(out, "  ingressDeny:\n  - fromEndpoints: [{}]\n", selector((pod + PODS - 1) % PODS));
    }
    out
}

fn version(changed: bool) -> SourceMap {
    let mut sources = SourceMap::new();
    sources.add("inventory.yaml", inventory());
    let mut policies = String::new();
    for pod in 0..PODS {
        policies.push_str(&policy(pod, changed));
    }
    if changed {
        // Every pod: the world may reach port 443; pods may reach a database network (a new
        // prefix, which moves the numbers of the CIDR identities after it).
        policies.push_str(
            "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: public-https}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n  egress:\n  - toCIDR: [10.99.0.0/16]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n",
        );
    }
    sources.add("policies.yaml", policies);
    sources
}

fn compile(sources: &SourceMap) -> Lowered {
    let parsed = parse(sources, &Options::default());
    lower(&parsed.objects, &LowerOptions::default())
}


#[test]
fn tmp() {
    let o = compile(&version(false));
    let n = compile(&version(true));
    eprintln!("diags {} {}", o.diagnostics.len(), n.diagnostics.len());
    let t = std::time::Instant::now();
    let d = diff(&o.ir, &n.ir);
    eprintln!("{:?} {:?} groups {} pairs {} entries {}", t.elapsed(), d.stats, d.flows.len(), d.changed_endpoint_pairs(), d.entries.len());
    for f in d.flows.iter().take(5) { eprintln!("{:?} -> {:?} {:?} {} {}", f.sources.iter().map(|i| d.ends[*i].describe()).collect::<Vec<_>>(), f.destinations.iter().take(3).map(|i| d.ends[*i].describe()).collect::<Vec<_>>(), f.ports.iter().map(|p| d.port_classes.classes()[*p].describe()).collect::<Vec<_>>(), f.old, f.new); }
}
