//! PRIVILEGED (root): how long rendering and loading take as the rule count grows. For 10, 100,
//! 1,000 and 10,000 policy entries on one pod it renders the node, then loads it three times into
//! a test network with each backend and prints the median `ipset restore`, `iptables-restore`
//! and `ip6tables-restore` times. Run with `cargo bench -p polc-iptables --bench restore_scaling`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use polc_iptables::engine::{Backend, Cluster, Layout, is_root};
use polc_ir::{
    DirectionPolicy, Endpoint, EndpointId, EndpointKind, IdentityInfo, IdentityKind, IpPrefix, L4Match, Label, NumericIdentity, Peers, PolicyEntry, PolicyIr,
    PortRange, Protocol, RuleOrigin, RuleVerdict, Settings,
};

/// One pod whose ingress holds `n_entries` allows, each from one of `n_entries / 10` CIDR
/// identities to its own TCP port.
fn ir_with(n_entries: usize) -> PolicyIr {
    let n_identities = (n_entries / 10).max(1);
    let identities: Vec<IdentityInfo> = (0..n_identities)
        .map(|index| {
            let address = IpAddr::V4(Ipv4Addr::from(0x0AC8_0000u32 + index as u32));
            let prefix = IpPrefix::host(address);
            IdentityInfo {
                id: NumericIdentity::local(index as u32 + 1),
                kind: IdentityKind::Cidr { prefix },
                labels: [Label::new("cidr", prefix.to_string(), "")].into(),
            }
        })
        .collect();
    let entries: Vec<PolicyEntry> = (0..n_entries)
        .map(|index| PolicyEntry {
            verdict: RuleVerdict::Allow,
            peers: Peers::Identities([NumericIdentity::local((index % n_identities) as u32 + 1)].into()),
            l4: L4Match::protocol(Protocol::TCP, PortRange::single(1000 + (index % 60000) as u16)),
            l7: None,
            auth: None,
            pending_fqdns: Vec::new(),
            origin: RuleOrigin::Policy {
                kind: "CiliumNetworkPolicy".to_owned(),
                namespace: Some("default".to_owned()),
                name: "scale".to_owned(),
                rule_path: format!("spec.ingress[{index}]"),
                location: None,
            },
        })
        .collect();
    let pod = Endpoint {
        id: EndpointId(1),
        kind: EndpointKind::Pod { namespace: "default".to_owned(), name: "server".to_owned() },
        identity: NumericIdentity(256),
        node: Some("node-a".to_owned()),
        addresses: vec!["10.244.1.10".parse().unwrap(), "fd00::10".parse().unwrap()],
        ingress: DirectionPolicy { enforced: true, default_deny: true, entries, selected_by: Vec::new() },
        egress: DirectionPolicy::default(),
    };
    PolicyIr::new(Settings::default(), identities, Vec::new(), vec![pod], Vec::new())
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn main() {
    if !is_root() {
        eprintln!("restore_scaling: skipped, it needs root to create network namespaces and load iptables rules");
        return;
    }
    println!("| entries | IPv4 rules | set entries | render | backend | ipset restore | iptables-restore | ip6tables-restore |");
    println!("|---|---|---|---|---|---|---|---|");
    for n_entries in [10, 100, 1_000, 10_000] {
        let ir = ir_with(n_entries);
        let started = Instant::now();
        let rendering = polc_iptables::render_node(&ir, Some("node-a"));
        let render_time = started.elapsed();
        for backend in Backend::ALL {
            let cluster = match Cluster::new(&Layout::new(&ir, Vec::new()), backend) {
                Ok(cluster) => cluster,
                Err(error) => {
                    eprintln!("restore_scaling: {error}");
                    return;
                }
            };
            let mut ipset = Vec::new();
            let mut iptables = Vec::new();
            let mut ip6tables = Vec::new();
            for _ in 0..3 {
                match cluster.apply(&ir) {
                    Ok(stats) => {
                        ipset.push(stats.ipset);
                        iptables.push(stats.iptables);
                        ip6tables.push(stats.ip6tables);
                    }
                    Err(error) => {
                        eprintln!("restore_scaling: {error}");
                        return;
                    }
                }
            }
            println!(
                "| {n_entries} | {} | {} | {} | {} | {} | {} | {} |",
                rendering.stats.rules_ipv4,
                rendering.stats.set_entries,
                millis(render_time),
                backend.as_str(),
                millis(median(ipset)),
                millis(median(iptables)),
                millis(median(ip6tables))
            );
        }
    }
}
