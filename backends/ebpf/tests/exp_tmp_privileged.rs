mod common;
use polc_ebpf::kernel::Datapath;
use polc_ebpf::packet::{PacketSpec, build_frame};
use polc_ebpf::*;
#[test]
fn exp_privileged() {
  for hash in [false, true] {
    let config = DatapathConfig { enable_conntrack: false, emit_drop_events: false, policy_map_hash: hash, ..DatapathConfig::default() };
    let d = Datapath::load(&config).unwrap();
    let ipc = IpcacheImage::build(&[IpcacheEntry { prefix: IpPrefix::host(common::v4(10,0,0,0)), identity: 256 }], 0).unwrap();
    let frame = build_frame(&PacketSpec::tcp(common::v4(10,0,0,0), common::v4(10,99,0,1), 8080)).unwrap();
    for n in [0usize, 10, 1000, 16000, 65000] {
        let mut entries = vec![PolicyEntry::allow(256, Direction::Ingress, 6, 8080, 16)];
        let mut id = 300u32;
        while entries.len() < n { id += 1; entries.push(PolicyEntry::allow(id, Direction::Ingress, 6, (id % 60000) as u16 + 1, 16)); }
        entries.truncate(n.max(1));
        d.install(&PolicyMapImage::build(&entries).unwrap(), &ipc).unwrap();
        let mut s: Vec<u128> = (0..7).map(|_| d.time_per_packet(Direction::Ingress, &frame, 200000).unwrap().as_nanos()).collect();
        s.sort();
        println!("hash={hash} n={n} best={} median={}", s[0], s[3]);
    }
}
}
