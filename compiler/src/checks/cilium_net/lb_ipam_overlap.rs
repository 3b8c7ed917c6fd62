//! Blocks of one LB-IPAM pool that overlap each other.
//!
//! Cilium's operator marks a pool whose own ranges overlap with the condition
//! `cilium.io/PoolConflict` (reason `cidr_overlap`) and disables every range of the pool, so
//! no service gets an address from it. Fix: remove the duplicated addresses from one of the
//! blocks.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumLoadBalancerIPPool;
use crate::path::Path;

use super::ip_range::{AddressRange, block_range};

code!(OVERLAPPING_BLOCKS, "PLC5005", "lb-ipam-overlapping-blocks", Error, "two blocks of one LB-IPAM pool overlap",
"Cilium's operator checks the ranges of every pool. When two ranges of the same pool overlap, it sets the condition `cilium.io/PoolConflict` (reason `cidr_overlap`) on the pool and disables all of its ranges: the pool hands out no address at all.

Example:
  blocks:
  - cidr: 10.0.10.0/24
  - start: 10.0.10.200       # inside the /24 above
    stop: 10.0.11.10

Fix: make the blocks disjoint, or merge them into one.");

/// The well-formed ranges of a pool, with the index of their block.
pub fn pool_ranges(pool: &CiliumLoadBalancerIPPool) -> Vec<(usize, AddressRange)> {
    pool.spec.blocks.iter().enumerate().filter_map(|(index, block)| block_range(block).map(|range| (index, range))).collect()
}

/// The first pair of overlapping ranges of a pool, earlier block first.
pub fn first_internal_overlap(ranges: &[(usize, AddressRange)]) -> Option<((usize, AddressRange), (usize, AddressRange))> {
    ranges
        .iter()
        .enumerate()
        .find_map(|(position, later)| ranges[..position].iter().find(|earlier| earlier.1.overlaps(&later.1)).map(|earlier| (*earlier, *later)))
}

/// Reports every block that overlaps an earlier block of the same pool.
pub fn check(pool: &CiliumLoadBalancerIPPool, cx: &mut CheckCx<'_>) {
    let ranges = pool_ranges(pool);
    for (position, (later_index, later)) in ranges.iter().enumerate() {
        let Some((earlier_index, earlier)) = ranges[..position].iter().find(|(_, earlier)| earlier.overlaps(later)) else { continue };
        let blocks = Path::root().key("spec").key("blocks");
        let related = cx.location(&blocks.index(*earlier_index));
        let diagnostic = cx.report(
            &OVERLAPPING_BLOCKS,
            &blocks.index(*later_index),
            format!("block {later_index} (`{later}`) overlaps block {earlier_index} (`{earlier}`) of the same pool: Cilium disables the whole pool"),
        );
        diagnostic.related.push(crate::diag::Related { location: related, message: "overlapping block".to_owned() });
        diagnostic.help = Some("remove the shared addresses from one of the blocks, or merge the blocks".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(blocks: &str) -> Vec<(&'static str, u32)> {
        let text = format!("apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: pool\nspec:\n  blocks:\n{blocks}");
        let mut sources = SourceMap::default();
        sources.add("pool.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn disjoint_blocks_are_clean() {
        assert!(lint("  - cidr: 10.0.10.0/24\n  - cidr: 10.0.11.0/24\n  - start: 10.0.12.0\n    stop: 10.0.12.9\n  - cidr: ::a00:a00/120\n").is_empty());
    }

    #[test]
    fn overlapping_blocks_are_errors() {
        let found = lint("  - cidr: 10.0.10.0/24\n  - start: 10.0.10.200\n    stop: 10.0.11.10\n  - start: 10.0.10.255\n");
        assert_eq!(found, vec![("PLC5005", 8), ("PLC5005", 10)]);
    }
}
