//! `allowFirstLastIPs: No` on a pool where it changes nothing.
//!
//! `No` reserves the first and last address of each `cidr` block, and only of blocks with more
//! than two addresses (/31, /32, /127 and /128 are exempt); `start`/`stop` ranges are never
//! affected. When no block of the pool qualifies, the setting has no effect, which usually
//! means the author expected it to trim a range. Fix: drop the field, or shrink the ranges by
//! hand.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::{AllowFirstLastIps, CiliumLoadBalancerIPPool};
use crate::path::Path;

use super::lb_ipam_overlap::pool_ranges;

code!(FIRST_LAST_NO_EFFECT, "PLC5007", "lb-ipam-first-last-no-effect", Warning, "`allowFirstLastIPs: No` has no effect on this pool",
"With `allowFirstLastIPs: \"No\"`, LB-IPAM does not hand out the first and last address of each `cidr` block (the network and broadcast addresses of an IPv4 subnet). It applies only to `cidr` blocks with more than two addresses; `start`/`stop` ranges and /31, /32, /127, /128 prefixes keep every address.

Example:
  allowFirstLastIPs: \"No\"
  blocks:
  - start: 192.168.1.0       # still handed out
    stop: 192.168.1.255      # still handed out

Fix: remove `allowFirstLastIPs`, or leave the first and last address out of the range.");

/// Reports `allowFirstLastIPs: No` when no block is a CIDR of more than two addresses.
pub fn check(pool: &CiliumLoadBalancerIPPool, cx: &mut CheckCx<'_>) {
    if pool.spec.allow_first_last_ips != Some(AllowFirstLastIps::No) {
        return;
    }
    let ranges = pool_ranges(pool);
    if ranges.is_empty() || ranges.iter().any(|(_, range)| range.from_cidr && range.size() > 2) {
        return;
    }
    let path = Path::root().key("spec").key("allowFirstLastIPs");
    cx.report(
        &FIRST_LAST_NO_EFFECT,
        &path,
        "`allowFirstLastIPs: No` has no effect here: it only reserves addresses of `cidr` blocks larger than two addresses, and this pool has none",
    )
    .help = Some("remove `allowFirstLastIPs`, or leave the addresses you want to keep free out of the `start`/`stop` range".to_owned());
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(spec: &str) -> Vec<(&'static str, u32)> {
        let text = format!("apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: pool\nspec:\n{spec}");
        let mut sources = SourceMap::default();
        sources.add("pool.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn no_with_a_real_cidr_is_clean() {
        assert!(lint("  allowFirstLastIPs: \"No\"\n  blocks:\n  - cidr: 10.0.10.0/24\n  - start: 10.0.20.1\n").is_empty());
    }

    #[test]
    fn no_with_only_ranges_and_host_prefixes_warns() {
        assert_eq!(lint("  allowFirstLastIPs: \"No\"\n  blocks:\n  - cidr: 10.0.10.0/31\n  - start: 10.0.20.1\n    stop: 10.0.20.9\n"), vec![("PLC5007", 6)]);
    }

    #[test]
    fn yes_never_warns() {
        assert!(lint("  allowFirstLastIPs: \"Yes\"\n  blocks:\n  - start: 10.0.20.1\n").is_empty());
    }
}
