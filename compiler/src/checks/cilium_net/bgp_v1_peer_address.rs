//! BGP v1 neighbors whose `peerAddress` is not a single host.
//!
//! A `CiliumBGPPeeringPolicy` neighbor's `peerAddress` is written in CIDR notation, and the CRD
//! says it must be a host prefix: `/32` for IPv4, `/128` for IPv6. Cilium peers with the
//! address part and ignores the length, so `10.0.0.0/24` peers with `10.0.0.0`, which is
//! never what was meant. Fix: write the neighbor's address with `/32` or `/128`.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumBGPPeeringPolicy;
use crate::path::Path;
use crate::schema_check::parse_cidr;

code!(PEER_ADDRESS_NOT_HOST, "PLC5202", "bgp-v1-peer-address-not-host", Error, "a BGP v1 `peerAddress` is not a /32 or /128 prefix",
"In a CiliumBGPPeeringPolicy, `neighbors[].peerAddress` is one neighbor's address in CIDR notation, with a host prefix length: `/32` for IPv4, `/128` for IPv6. A shorter prefix does not mean \"every router in this subnet\": Cilium takes the address part and peers with it.

Example:
  neighbors:
  - peerAddress: 10.0.0.0/24     # peers with 10.0.0.0

Fix: write the neighbor's own address with `/32` (`10.0.0.1/32`) or `/128`.");

/// Reports every neighbor whose address is not a host prefix.
pub fn check(policy: &CiliumBGPPeeringPolicy, cx: &mut CheckCx<'_>) {
    let Some(spec) = &policy.spec else { return };
    for (router_index, router) in spec.virtual_routers.iter().enumerate() {
        for (neighbor_index, neighbor) in router.neighbors.iter().enumerate() {
            let Some((address, length)) = parse_cidr(&neighbor.peer_address) else { continue };
            let host = if address.is_ipv4() { 32 } else { 128 };
            if length == host {
                continue;
            }
            let path = Path::root().key("spec").key("virtualRouters").index(router_index).key("neighbors").index(neighbor_index).key("peerAddress");
            cx.report(&PEER_ADDRESS_NOT_HOST, &path, format!("`{}` is a /{length} prefix: a neighbor address must be a /{host}", neighbor.peer_address)).help =
                Some(format!("write the neighbor's own address as `{address}/{host}`"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(address: &str) -> Vec<(&'static str, u32, Option<String>)> {
        let text = format!(
            "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n  - localASN: 64512\n    neighbors:\n    - peerAddress: \"{address}\"\n      peerASN: 64512\n"
        );
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text);
        parse(&sources, &Options::default())
            .diagnostics
            .iter()
            .map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line), d.help.clone()))
            .collect()
    }

    #[test]
    fn host_prefixes_are_clean() {
        assert!(lint("10.0.0.1/32").is_empty());
        assert!(lint("fc00:f853:ccd:e793::50/128").is_empty());
    }

    #[test]
    fn wider_prefixes_are_errors() {
        assert_eq!(lint("10.0.0.1/24"), vec![("PLC5202", 9, Some("write the neighbor's own address as `10.0.0.1/32`".to_owned()))]);
        assert_eq!(lint("fd00::1/64").iter().map(|f| f.0).collect::<Vec<_>>(), vec!["PLC5202"]);
    }

    #[test]
    fn a_bare_address_is_a_schema_error() {
        assert_eq!(lint("10.0.0.1").iter().map(|f| f.0).collect::<Vec<_>>(), vec!["PLC2010"]);
    }
}
