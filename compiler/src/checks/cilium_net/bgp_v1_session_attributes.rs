//! BGP v1 settings that Cilium ignores for the kind of session they are on.
//!
//! In a `CiliumBGPPeeringPolicy`, `advertisedPathAttributes[].localPreference` only applies to
//! iBGP neighbors (`peerASN` equal to the router's `localASN`), `eBGPMultihopTTL` only to eBGP
//! neighbors, and `serviceAdvertisements` only to the services `serviceSelector` selects
//! (none when it is absent). Each is accepted and then silently has no effect. Fix: remove the
//! setting, or correct the ASNs or the selector it depends on.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumBGPPeeringPolicy;
use crate::path::Path;

code!(LOCAL_PREFERENCE_EBGP, "PLC5203", "bgp-local-preference-ebgp", Warning, "a BGP local preference is set for an eBGP neighbor, which ignores it",
"LOCAL_PREF is only exchanged between iBGP peers (RFC 4271); Cilium applies `advertisedPathAttributes[].localPreference` only to neighbors whose `peerASN` equals the virtual router's `localASN`, and ignores it for eBGP neighbors.

Example:
  - localASN: 64512
    neighbors:
    - peerASN: 65000              # eBGP
      advertisedPathAttributes:
      - selectorType: PodCIDR
        localPreference: 150      # ignored

Fix: remove `localPreference`, or use communities or AS-path policy on the peer to steer eBGP traffic.");

code!(MULTIHOP_IBGP, "PLC5204", "bgp-multihop-ibgp", Warning, "`eBGPMultihopTTL` is set for an iBGP neighbor, which ignores it",
"`eBGPMultihopTTL` sets the TTL of packets to eBGP neighbors that are more than one hop away. Cilium ignores it for iBGP neighbors (`peerASN` equal to `localASN`), which may be any number of hops away anyway.

Fix: remove `eBGPMultihopTTL` from the iBGP neighbor, or correct `peerASN` if the neighbor is in another AS.");

code!(SERVICE_ADVERTISEMENTS_UNSELECTED, "PLC5205", "bgp-v1-service-advertisements-unselected", Warning, "`serviceAdvertisements` of a BGP v1 router are set but no service is selected",
"A BGP v1 virtual router advertises the addresses listed in `serviceAdvertisements` only for the services its `serviceSelector` selects. Without `serviceSelector`, no service is selected and nothing is advertised.

Fix: add `serviceSelector` (an empty `matchExpressions` trick selects every service: `{matchExpressions: [{key: somekey, operator: NotIn, values: [never-used-value]}]}`), or remove `serviceAdvertisements`.");

/// Reports settings that do not apply to the session they are on.
pub fn check(policy: &CiliumBGPPeeringPolicy, cx: &mut CheckCx<'_>) {
    let Some(spec) = &policy.spec else { return };
    for (router_index, router) in spec.virtual_routers.iter().enumerate() {
        let router_path = Path::root().key("spec").key("virtualRouters").index(router_index);
        if router.service_selector.is_none() && router.service_advertisements.as_ref().is_some_and(|addresses| !addresses.is_empty()) {
            cx.report_key(
                &SERVICE_ADVERTISEMENTS_UNSELECTED,
                &router_path.key("serviceAdvertisements"),
                "`serviceAdvertisements` has no effect: without `serviceSelector` no service is advertised",
            )
            .help = Some("add a `serviceSelector` that selects the services to advertise".to_owned());
        }
        for (neighbor_index, neighbor) in router.neighbors.iter().enumerate() {
            let neighbor_path = router_path.key("neighbors").index(neighbor_index);
            let internal = neighbor.peer_asn == router.local_asn;
            if internal && neighbor.ebgp_multihop_ttl.is_some_and(|ttl| ttl > 1) {
                let message = format!(
                    "`eBGPMultihopTTL` is ignored: neighbor `{}` is an iBGP peer (`peerASN` {} equals `localASN`)",
                    neighbor.peer_address, neighbor.peer_asn
                );
                cx.report_key(&MULTIHOP_IBGP, &neighbor_path.key("eBGPMultihopTTL"), message).help =
                    Some("remove `eBGPMultihopTTL`, or correct `peerASN` if the neighbor is in another AS".to_owned());
            }
            if internal {
                continue;
            }
            for (attribute_index, attributes) in neighbor.advertised_path_attributes.iter().enumerate() {
                if attributes.local_preference.is_none() {
                    continue;
                }
                let path = neighbor_path.key("advertisedPathAttributes").index(attribute_index).key("localPreference");
                let message = format!(
                    "`localPreference` is ignored: neighbor `{}` is an eBGP peer (`peerASN` {} differs from `localASN` {})",
                    neighbor.peer_address, neighbor.peer_asn, router.local_asn
                );
                cx.report_key(&LOCAL_PREFERENCE_EBGP, &path, message).help =
                    Some("local preference only applies inside one AS; remove it, or use communities to influence the peer".to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(router: &str) -> Vec<(&'static str, u32)> {
        let text = format!("apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n{router}");
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    const PATH_ATTRIBUTES: &str = "      advertisedPathAttributes:\n      - selectorType: PodCIDR\n        localPreference: 150\n";

    #[test]
    fn local_preference_on_ibgp_is_clean() {
        assert!(lint(&format!("  - localASN: 64512\n    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 64512\n{PATH_ATTRIBUTES}")).is_empty());
    }

    #[test]
    fn local_preference_on_ebgp_warns() {
        assert_eq!(
            lint(&format!("  - localASN: 64512\n    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 65000\n{PATH_ATTRIBUTES}")),
            vec![("PLC5203", 13)]
        );
    }

    #[test]
    fn multihop_on_ibgp_warns_and_on_ebgp_is_clean() {
        let neighbors = "    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 64512\n      eBGPMultihopTTL: 10\n    - peerAddress: 10.0.0.2/32\n      peerASN: 65000\n      eBGPMultihopTTL: 10\n";
        assert_eq!(lint(&format!("  - localASN: 64512\n{neighbors}")), vec![("PLC5204", 11)]);
    }

    #[test]
    fn service_advertisements_without_selector_warn() {
        let neighbors = "    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 64512\n";
        assert_eq!(lint(&format!("  - localASN: 64512\n    serviceAdvertisements: [ClusterIP]\n{neighbors}")), vec![("PLC5205", 8)]);
        assert!(
            lint(&format!("  - localASN: 64512\n    serviceSelector: {{matchLabels: {{app: web}}}}\n    serviceAdvertisements: [ClusterIP]\n{neighbors}"))
                .is_empty()
        );
    }
}
