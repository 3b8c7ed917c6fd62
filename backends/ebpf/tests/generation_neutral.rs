//! The programs of two generations differ in nothing that decides a verdict.
//!
//! While the agent switches an endpoint from one generation to the next, a packet can meet the
//! program of one generation and the maps of the other (the program links and the generation
//! selector are not one write). `from_ir` makes that harmless: every direction is default-deny
//! in the program (a direction that allows by default carries an allow-all key in its maps) and
//! the ipcache holds `world` at `/0`, so the verdict and the remote identity come from the maps.
//! This test judges packets with the program constants of generation A and the maps of
//! generation B, against B's own constants and maps, over generated pairs of policy sets (the
//! cluster's dual-stack setting may change between them too). The userspace model stands for
//! the kernel here; the three-engine tests show the two agree.

mod ir_cases;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ir_cases::{AuthModes, Case, PodSpec};
use polc_ebpf::compile::{CompileOptions, compile};
use polc_ebpf::layout::Direction;
use polc_ebpf::model::DatapathModel;
use polc_ebpf::packet::{PacketSpec, build_frame};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CASES: u32 = 96;

/// Case `b`'s policies on case `a`'s pods (same endpoints, same addresses, same identities).
fn second_generation(a: &Case, b: &Case) -> Case {
    let pods = a
        .pods
        .iter()
        .zip(b.pods.iter().cycle())
        .map(|(pod, other)| PodSpec { identity: pod.identity, node: pod.node, ingress: other.ingress.clone(), egress: other.egress.clone() })
        .collect();
    Case { dual_stack: b.dual_stack, pods, hosts: b.hosts.clone(), flows: a.flows.clone() }
}

fn peers(ir: &polc_ir::PolicyIr) -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = ir.endpoints.iter().flat_map(|endpoint| endpoint.addresses.iter().copied()).collect();
    addresses.extend([
        IpAddr::V4(Ipv4Addr::new(203, 0, 113, 5)),
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)),
        IpAddr::V4(Ipv4Addr::new(8, 8, 8, 8)),
        IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 5)),
        IpAddr::V6(Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111)),
    ]);
    addresses
}

fn packets(local: IpAddr, remote: IpAddr, direction: Direction) -> Vec<Vec<u8>> {
    let (source, destination) = match direction {
        Direction::Ingress => (remote, local),
        Direction::Egress => (local, remote),
    };
    let mut specs = Vec::new();
    for port in [22, 53, 80, 443, 1024, 8080] {
        specs.push(PacketSpec::tcp(source, destination, port));
        specs.push(PacketSpec::udp(source, destination, port));
    }
    specs.push(PacketSpec::sctp(source, destination, 80));
    specs.push(PacketSpec::icmp(source, destination, if source.is_ipv4() { 8 } else { 128 }, 0));
    specs.iter().filter_map(|spec| build_frame(spec).ok()).collect()
}

fn check(a: &Case, b: &Case) -> Result<usize, String> {
    let b = second_generation(a, b);
    let (ir_a, ir_b) = (a.ir(), b.ir());
    let options = CompileOptions::default();
    let compiled_a = compile(&ir_a, &options, &|_| None).map_err(|error| error.to_string())?;
    let compiled_b = compile(&ir_b, &options, &|_| None).map_err(|error| error.to_string())?;
    let addresses = peers(&ir_b);
    let mut judged = 0;
    for node in &compiled_b.nodes {
        for endpoint in &node.endpoints {
            let Some((_, old)) = compiled_a.endpoint(endpoint.id) else {
                return Err(format!("endpoint {} is missing from the first generation", endpoint.shown));
            };
            let own = DatapathModel::new(endpoint.config, &endpoint.policy, &node.ipcache);
            let mixed = DatapathModel::new(old.config, &endpoint.policy, &node.ipcache);
            for local in &endpoint.addresses {
                for remote in addresses.iter().filter(|remote| remote.is_ipv4() == local.is_ipv4() && *remote != local) {
                    for direction in [Direction::Ingress, Direction::Egress] {
                        for frame in packets(*local, *remote, direction) {
                            let (expected, seen) = (own.evaluate(direction, &frame), mixed.evaluate(direction, &frame));
                            if expected.reason.is_drop() != seen.reason.is_drop() || expected.remote_identity != seen.remote_identity {
                                return Err(format!(
                                    "{} {direction:?} {local} <-> {remote}: generation B's maps with A's program give {seen:?}, with B's program {expected:?}",
                                    endpoint.shown
                                ));
                            }
                            judged += 1;
                        }
                    }
                }
            }
        }
    }
    Ok(judged)
}

#[test]
fn a_program_of_one_generation_gives_the_other_generations_verdicts_with_its_maps() {
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    let judged = std::cell::Cell::new(0usize);
    let pair = (ir_cases::case(1, AuthModes::Every), ir_cases::case(1, AuthModes::Every));
    let result = runner.run(&pair, |(a, b)| {
        judged.set(judged.get() + check(&a, &b).map_err(TestCaseError::fail)?);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    eprintln!("{} packets judged alike by both programs", judged.get());
    assert!(judged.get() > (CASES as usize) * 100, "only {} packets", judged.get());
}
