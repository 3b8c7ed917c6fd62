//! LB-IPAM blocks that Cilium cannot turn into an address range.
//!
//! A block is either `cidr`, or `start` with an optional inclusive `stop`. Cilium's operator
//! reads `cidr` when it is set (silently ignoring `start`/`stop`), otherwise parses `start`
//! and `stop` as addresses; a block it cannot parse makes the whole pool fail. Finds: blocks
//! with both forms or neither, `stop` without `start`, addresses that do not parse, a `stop`
//! below its `start`, `start` and `stop` of different families, and (as a warning) a `cidr`
//! with host bits set. Fix: write the block in one of the two forms with valid addresses.

use std::net::IpAddr;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumLoadBalancerIPPool;
use crate::path::Path;
use crate::schema_check::parse_cidr;

use super::ip_range::{address_value, cidr_range};

code!(BLOCK_SHAPE, "PLC5001", "lb-ipam-block-shape", Error, "an LB-IPAM block is not exactly a `cidr` or a `start` with an optional `stop`",
"Each item of `spec.blocks` of a CiliumLoadBalancerIPPool is one of two forms:

  blocks:
  - cidr: 10.0.10.0/24          # a prefix
  - start: 10.0.20.100          # a range, `stop` included
    stop: 10.0.20.200
  - start: 10.0.30.7            # a single address

A block with both `cidr` and `start`/`stop` is read as the `cidr` only: the range is silently dropped. A block with neither, or a `stop` without a `start`, cannot be parsed and Cilium's operator rejects the whole pool.

Fix: keep one form per block; split a block that has both into two blocks.");

code!(
    INVALID_ADDRESS,
    "PLC5002",
    "lb-ipam-invalid-address",
    Error,
    "an LB-IPAM `start` or `stop` is not an IP address",
    "`start` and `stop` are single IPv4 or IPv6 addresses (no prefix length, no zone). Cilium's operator cannot parse any other value, and rejects the pool.

Example:
  - start: 10.0.20.0/28        # a CIDR is not an address

Fix: write an address, or use `cidr:` for a prefix."
);

code!(RANGE_REVERSED, "PLC5003", "lb-ipam-range-reversed", Error, "an LB-IPAM range ends before it starts",
"A `start`/`stop` range is inclusive and must not be empty: `stop` must not be lower than `start`. Cilium's operator cannot build the range and rejects the pool.

Fix: swap `start` and `stop`.");

code!(
    RANGE_MIXED_FAMILIES,
    "PLC5004",
    "lb-ipam-range-mixed-families",
    Error,
    "an LB-IPAM range starts and stops in different address families",
    "`start` and `stop` of one block must both be IPv4 or both be IPv6. Cilium's operator cannot build a range across families and rejects the pool.

Fix: use two blocks, one per family."
);

code!(CIDR_HOST_BITS, "PLC5008", "lb-ipam-cidr-host-bits", Warning, "an LB-IPAM `cidr` has host bits set",
"A prefix such as `10.0.10.7/24` has bits set after its prefix length. Cilium masks them and uses the whole prefix `10.0.10.0/24`, which is rarely what the value suggests: either the whole network was meant, or a single address (`/32`) or a range (`start`/`stop`).

Fix: write the network address (`10.0.10.0/24`), or use `start`/`stop` for part of it.");

/// Reports malformed blocks of a pool.
pub fn check(pool: &CiliumLoadBalancerIPPool, cx: &mut CheckCx<'_>) {
    for (index, block) in pool.spec.blocks.iter().enumerate() {
        let path = Path::root().key("spec").key("blocks").index(index);
        match (&block.cidr, &block.start, &block.stop) {
            (Some(cidr), None, None) => check_host_bits(cidr, &path.key("cidr"), cx),
            (Some(cidr), start, _) => {
                let extra = if start.is_some() { "start" } else { "stop" };
                cx.report_key(
                    &BLOCK_SHAPE,
                    &path.key(extra),
                    format!("this block has both `cidr` and `{extra}`: Cilium uses `cidr: {cidr}` and ignores the range"),
                )
                .help = Some("split it into two blocks, one `- cidr: ...` and one `- start: ...`, or remove the form you did not mean".to_owned());
            }
            (None, None, Some(_)) => {
                cx.report_key(&BLOCK_SHAPE, &path.key("stop"), "this block has `stop` but no `start`").help =
                    Some("add `start:` with the first address of the range".to_owned());
            }
            (None, None, None) => {
                cx.report(&BLOCK_SHAPE, &path, "this block is empty: it needs `cidr` or `start`").help =
                    Some("write `- cidr: 10.0.10.0/24` or `- start: 10.0.10.100` with an optional `stop:`".to_owned());
            }
            (None, Some(start), stop) => {
                let start_address = parse_address(start, &path.key("start"), cx);
                let stop_address = stop.as_ref().and_then(|stop| parse_address(stop, &path.key("stop"), cx));
                if let (Some(start_address), Some(stop_address)) = (start_address, stop_address) {
                    check_range(start_address, stop_address, &path, cx);
                }
            }
        }
    }
}

fn parse_address(text: &str, path: &Path, cx: &mut CheckCx<'_>) -> Option<IpAddr> {
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    let help = if parse_cidr(text).is_some() {
        format!("a range is given by two addresses; for a prefix write `cidr: {text}` instead of `start`/`stop`")
    } else {
        "write a single IPv4 or IPv6 address, such as `10.0.20.100`".to_owned()
    };
    cx.report(&INVALID_ADDRESS, path, format!("`{text}` is not an IP address")).help = Some(help);
    None
}

fn check_range(start: IpAddr, stop: IpAddr, path: &Path, cx: &mut CheckCx<'_>) {
    let (start_family, start_value) = address_value(start);
    let (stop_family, stop_value) = address_value(stop);
    if start_family != stop_family {
        let family = |address: IpAddr| if address.is_ipv4() { "IPv4" } else { "IPv6" };
        cx.report(&RANGE_MIXED_FAMILIES, &path.key("stop"), format!("`stop` is {} but `start` is {}", family(stop), family(start))).help =
            Some("use one block per address family".to_owned());
    } else if stop_value < start_value {
        cx.report(&RANGE_REVERSED, &path.key("stop"), format!("`stop` `{stop}` is lower than `start` `{start}`: the range is empty")).help =
            Some(format!("swap them: `start: {stop}` and `stop: {start}`"));
    }
}

fn check_host_bits(cidr: &str, path: &Path, cx: &mut CheckCx<'_>) {
    let (Some((address, length)), Some(range)) = (parse_cidr(cidr), cidr_range(cidr)) else { return };
    let (_, value) = address_value(address);
    if value != range.first {
        let network = super::ip_range::address_from(range.family, range.first);
        let host = if address.is_ipv4() { 32 } else { 128 };
        let diagnostic = cx.report(&CIDR_HOST_BITS, path, format!("`{cidr}` has host bits set: the pool uses the whole prefix `{network}/{length}`"));
        diagnostic.help = Some(format!("write `{network}/{length}` for the whole network, or `{address}/{host}` for the single address"));
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(blocks: &str) -> Vec<(String, u32, Option<String>)> {
        let text = format!("apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: pool\nspec:\n  blocks:\n{blocks}");
        let mut sources = SourceMap::default();
        sources.add("pool.yaml", text);
        let parsed = parse(&sources, &Options::default());
        parsed.diagnostics.iter().map(|d| (d.code.id.to_owned(), d.location.as_ref().map_or(0, |l| l.span.start.line), d.help.clone())).collect()
    }

    #[test]
    fn well_formed_blocks_are_clean() {
        assert!(lint("  - cidr: 10.0.10.0/24\n  - start: 10.0.20.100\n    stop: 10.0.20.200\n  - start: 2001:db8::1\n").is_empty());
    }

    #[test]
    fn both_forms_in_one_block() {
        let found = lint("  - cidr: 10.0.10.0/24\n    start: 10.0.20.1\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0.as_str(), found[0].1), ("PLC5001", 8));
    }

    #[test]
    fn stop_without_start_and_empty_block() {
        let found = lint("  - stop: 10.0.20.1\n  - {}\n");
        assert_eq!(found.iter().map(|f| (f.0.as_str(), f.1)).collect::<Vec<_>>(), vec![("PLC5001", 7), ("PLC5001", 8)]);
    }

    #[test]
    fn invalid_addresses() {
        let found = lint("  - start: 10.0.20.0/28\n  - start: 10.0.0.1\n    stop: ten\n");
        assert_eq!(found.iter().map(|f| (f.0.as_str(), f.1)).collect::<Vec<_>>(), vec![("PLC5002", 7), ("PLC5002", 9)]);
        assert!(found[0].2.as_deref().unwrap_or_default().contains("cidr: 10.0.20.0/28"));
    }

    #[test]
    fn reversed_and_mixed_ranges() {
        let found = lint("  - start: 10.0.0.9\n    stop: 10.0.0.1\n  - start: 10.0.0.1\n    stop: 2001:db8::1\n");
        assert_eq!(found.iter().map(|f| (f.0.as_str(), f.1)).collect::<Vec<_>>(), vec![("PLC5003", 8), ("PLC5004", 10)]);
        assert_eq!(found[0].2.as_deref(), Some("swap them: `start: 10.0.0.1` and `stop: 10.0.0.9`"));
    }

    #[test]
    fn host_bits_warn() {
        let found = lint("  - cidr: 10.0.10.7/24\n  - cidr: 10.0.11.7/32\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].0.as_str(), found[0].1), ("PLC5008", 7));
        assert!(found[0].2.as_deref().unwrap_or_default().contains("`10.0.10.0/24`"));
    }
}
