//! BPF_PROG_TEST_RUN time per packet at 10, 1,000, 16,000 and 65,000 policy entries.
//!
//! Run as root: `cargo bench -p polc-ebpf --bench test_run_per_packet`. The figure is the
//! kernel's own average per repetition (BPF_PROG_TEST_RUN `duration`), the best of several
//! batches. Targets: under 150 ns per packet, and flat (largest / smallest < 1.5). The lookup
//! modes are measured (LPM tries; HASH policy probes with the LPM ipcache; HASH policy probes
//! with the host-entry HASH ipcache), with connection tracking and drop events off and on,
//! and the ipcache's share is shown separately.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc_ebpf::kernel::{Datapath, running_as_root};
use polc_ebpf::packet::{PacketSpec, build_frame};
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage, port_range_blocks};

const SIZES: [usize; 4] = [10, 1_000, 16_000, 65_000];
const REPEAT: u32 = 200_000;
const BATCHES: usize = 7;
const SENDER_IDENTITY: u32 = 256;
const IPCACHE_ADDRESSES: u32 = 1_000;

/// A deterministic pseudo-random sequence (64-bit LCG), so every run builds the same images.
struct Sequence(u64);

impl Sequence {
    fn next(&mut self) -> u32 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }
}

/// `count` distinct entries over many identities, ports, ranges and both directions; the
/// sender's identity always has its exact TCP/8080 allow.
fn policy_entries(count: usize) -> Vec<PolicyEntry> {
    let mut sequence = Sequence(7);
    let mut entries = vec![PolicyEntry::allow(SENDER_IDENTITY, Direction::Ingress, 6, 8080, 16), PolicyEntry::allow(0, Direction::Ingress, 17, 53, 16)];
    let mut identity = 300u32;
    while entries.len() < count {
        identity += 1 + sequence.next() % 3;
        let direction = if sequence.next().is_multiple_of(4) { Direction::Egress } else { Direction::Ingress };
        let protocol = [6u8, 17, 132][(sequence.next() % 3) as usize];
        match sequence.next() % 5 {
            0 => {
                let first = 1024 + (sequence.next() % 30_000) as u16;
                for block in port_range_blocks(first, first + (sequence.next() % 2_000) as u16) {
                    entries.push(PolicyEntry::allow(identity, direction, protocol, block.port, block.prefix_len));
                }
            }
            1 => entries.push(PolicyEntry::allow(identity, direction, protocol, 0, 0)),
            _ => entries.push(PolicyEntry::allow(identity, direction, protocol, (1 + sequence.next() % 65_000) as u16, 16)),
        }
    }
    entries.truncate(count);
    entries
}

/// `addresses` IPv4 and `addresses` IPv6 host entries; the senders are the first of each.
fn ipcache(addresses: u32) -> IpcacheImage {
    let mut entries = Vec::new();
    for index in 0..addresses {
        let address = Ipv4Addr::from(0x0a00_0000 + index);
        entries.push(IpcacheEntry { prefix: IpPrefix::host(IpAddr::V4(address)), identity: SENDER_IDENTITY + index });
        let address = Ipv6Addr::from(0xfd00_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(index));
        entries.push(IpcacheEntry { prefix: IpPrefix::host(IpAddr::V6(address)), identity: SENDER_IDENTITY + index });
    }
    IpcacheImage::build(&entries, 0).expect("ipcache builds")
}

fn best_ns(datapath: &Datapath, frame: &[u8]) -> f64 {
    let mut samples: Vec<f64> = (0..BATCHES)
        .map(|_| datapath.time_per_packet(Direction::Ingress, frame, REPEAT).map(|duration| duration.as_nanos() as f64).unwrap_or(f64::NAN))
        .collect();
    samples.sort_by(|left, right| left.total_cmp(right));
    samples[0]
}

fn ratio(row: &[f64]) -> f64 {
    let max = row.iter().cloned().fold(f64::MIN, f64::max);
    let min = row.iter().cloned().fold(f64::MAX, f64::min);
    max / min
}

fn main() {
    if !running_as_root() {
        eprintln!("skipping the BPF_PROG_TEST_RUN benchmark: it loads BPF programs and needs root");
        return;
    }
    let sender_v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0));
    let sender_v6 = IpAddr::V6(Ipv6Addr::from(0xfd00_0000_0000_0000_0000_0000_0000_0000u128));
    let endpoint_v4 = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));
    let endpoint_v6 = IpAddr::V6(Ipv6Addr::from(0xfd99_0000_0000_0000_0000_0000_0000_0001u128));
    let packets = [
        ("ipv4 tcp allowed (l3)", build_frame(&PacketSpec::tcp(sender_v4, endpoint_v4, 8080))),
        ("ipv6 tcp allowed (l3)", build_frame(&PacketSpec::tcp(sender_v6, endpoint_v6, 8080))),
        ("ipv4 udp allowed (l4-only)", build_frame(&PacketSpec::udp(sender_v4, endpoint_v4, 53))),
        ("ipv4 tcp denied (default)", build_frame(&PacketSpec::tcp(sender_v4, endpoint_v4, 8081))),
        ("ipv4 tcp from world (no entry)", build_frame(&PacketSpec::tcp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), endpoint_v4, 8080))),
    ];
    let quiet = DatapathConfig { enable_conntrack: false, emit_drop_events: false, ..DatapathConfig::default() };
    let lpm = DatapathConfig { policy_map_hash: false, ipcache_host_hash: false, ..quiet };
    let hash_policy = DatapathConfig { policy_map_hash: true, ipcache_host_hash: false, ..quiet };
    let hash_both = DatapathConfig { policy_map_hash: true, ipcache_host_hash: true, ..quiet };
    let loud = |config: DatapathConfig| DatapathConfig { enable_conntrack: true, emit_drop_events: true, ..config };
    let configs = [
        ("LPM trie policy and ipcache, policy only", lpm),
        ("HASH policy probes, LPM ipcache, policy only", hash_policy),
        ("HASH policy probes, host HASH ipcache, policy only", hash_both),
        ("LPM trie policy and ipcache, conntrack and drop events on", loud(lpm)),
        ("HASH policy probes, host HASH ipcache, conntrack and drop events on", loud(hash_both)),
    ];
    let default = DatapathConfig::default();
    let is_default = |config: &DatapathConfig| config.policy_map_hash == default.policy_map_hash && config.ipcache_host_hash == default.ipcache_host_hash;
    let ipcache_image = ipcache(IPCACHE_ADDRESSES);
    println!("BPF_PROG_TEST_RUN ns per packet (best of {BATCHES} batches of {REPEAT}); ipcache {} host entries", ipcache_image.len());
    let images: Vec<PolicyMapImage> = SIZES.iter().map(|size| PolicyMapImage::build(&policy_entries(*size)).expect("policy builds")).collect();
    println!("policy entries per image: {:?}", images.iter().map(PolicyMapImage::len).collect::<Vec<_>>());
    for (config_name, config) in configs {
        let datapath = Datapath::load(&config).expect("datapath loads");
        println!("\nconfiguration: {config_name}{}", if is_default(&config) { " (the default lookup modes)" } else { "" });
        print!("{:<30}", "policy entries");
        for size in SIZES {
            print!("{size:>10}");
        }
        println!("{:>10}", "max/min");
        let mut table = vec![Vec::new(); packets.len()];
        for image in &images {
            datapath.install(image, &ipcache_image).expect("install");
            for (row, (_, frame)) in packets.iter().enumerate() {
                let frame = frame.as_ref().expect("frame builds");
                table[row].push(best_ns(&datapath, frame));
            }
        }
        for ((name, _), row) in packets.iter().zip(&table) {
            print!("{name:<30}");
            for value in row {
                print!("{value:>10.0}");
            }
            println!("{:>10.2}", ratio(row));
        }
        let worst = table.iter().flatten().cloned().fold(f64::MIN, f64::max);
        let worst_ratio = table.iter().map(|row| ratio(row)).fold(f64::MIN, f64::max);
        println!(
            "worst {worst:.0} ns ({} 150 ns), worst max/min {worst_ratio:.2} ({} 1.5)",
            if worst < 150.0 { "under" } else { "over" },
            if worst_ratio < 1.5 { "under" } else { "over" }
        );
    }

    // How much of the figure is the ipcache (LPM trie) rather than the policy.
    println!("\nipcache size effect: ipv4 tcp allowed, 65,000 policy entries, policy only");
    let largest = images.last().expect("images");
    for (config_name, config) in [configs[0], configs[1], configs[2]] {
        let datapath = Datapath::load(&config).expect("datapath loads");
        print!("{config_name:<52}");
        for addresses in [1u32, 1_000, 10_000] {
            datapath.install(largest, &ipcache(addresses)).expect("install");
            let frame = packets[0].1.as_ref().expect("frame builds");
            print!("  ipcache {:>6}: {:>4.0} ns", addresses * 2, best_ns(&datapath, frame));
        }
        println!();
    }
}
