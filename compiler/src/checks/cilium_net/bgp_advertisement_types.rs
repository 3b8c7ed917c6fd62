//! CiliumBGPAdvertisement entries whose fields do not fit their `advertisementType`.
//!
//! The CRD's CEL rules: `service` is required for type `Service` and, at `cilium.io/v2`, not
//! allowed for other types; `interface` is required for `Interface` and not allowed for other
//! types; `selector` is not allowed for `PodCIDR`. At `cilium.io/v2alpha1`, `service` on
//! another type is accepted and ignored (a warning here). A `Service` or `CiliumPodIPPool`
//! advertisement without `selector` selects no object and advertises nothing (a warning).
//! Fix: add or remove the fields the message names.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::{AdvertisementType, CiliumBGPAdvertisement};
use crate::path::Path;

use super::is_v2alpha1;

code!(
    FIELDS_FOR_TYPE,
    "PLC5307",
    "bgp-advertisement-fields-for-type",
    Error,
    "a BGP advertisement's fields do not match its `advertisementType`",
    "The CiliumBGPAdvertisement CRD ties fields to `advertisementType` with CEL rules:
- `Service` requires `service` (with `addresses`); at `cilium.io/v2` other types must not have `service`;
- `Interface` requires `interface` (with `name`); other types must not have `interface`;
- `PodCIDR` must not have `selector` (it always advertises the node's own PodCIDR).

Example:
  advertisements:
  - advertisementType: Service          # `service.addresses` missing
    selector: {matchLabels: {bgp: blue}}

Fix: add the block the type needs, e.g. `service: {addresses: [LoadBalancerIP]}`, or remove the one it does not take."
);

code!(SELECTS_NOTHING, "PLC5308", "bgp-advertisement-selects-nothing", Warning, "a BGP advertisement has no `selector`, so it advertises nothing",
"For `Service` and `CiliumPodIPPool` advertisements, `selector` chooses the services or pools whose addresses are advertised. Without it, nothing is selected and nothing is advertised.

Fix: add a `selector`. To select every object, use an expression that always holds: `selector: {matchExpressions: [{key: somekey, operator: NotIn, values: [never-used-value]}]}`.");

code!(
    FIELD_IGNORED,
    "PLC5314",
    "bgp-advertisement-field-ignored",
    Warning,
    "a BGP advertisement field is ignored for its `advertisementType`",
    "At `cilium.io/v2alpha1`, a `service` block on an advertisement whose type is not `Service` is accepted, but Cilium ignores it (`cilium.io/v2` rejects it).

Fix: remove the `service` block, or change `advertisementType` to `Service`."
);

/// Reports fields that do not fit the advertisement type, and advertisements that select nothing.
pub fn check(advertisement: &CiliumBGPAdvertisement, cx: &mut CheckCx<'_>) {
    let alpha = is_v2alpha1(cx.api_version);
    for (index, item) in advertisement.spec.advertisements.iter().enumerate() {
        let path = Path::root().key("spec").key("advertisements").index(index);
        let kind = item.advertisement_type;
        let name = kind.as_str();
        match (kind == AdvertisementType::Service, item.service.is_some()) {
            (true, false) => {
                cx.report(&FIELDS_FOR_TYPE, &path.key("advertisementType"), "`advertisementType: Service` requires `service`").help =
                    Some("add `service: {addresses: [LoadBalancerIP]}` (and `ClusterIP`, `ExternalIP` as needed) to this item".to_owned());
            }
            (false, true) if alpha => {
                cx.report_key(&FIELD_IGNORED, &path.key("service"), format!("`service` is ignored for `advertisementType: {name}`")).help =
                    Some("remove `service`, or change `advertisementType` to `Service`".to_owned());
            }
            (false, true) => {
                cx.report_key(&FIELDS_FOR_TYPE, &path.key("service"), format!("`service` is not allowed for `advertisementType: {name}`")).help =
                    Some("remove `service`, or change `advertisementType` to `Service`".to_owned());
            }
            _ => {}
        }
        // At v2alpha1, `Interface` and `interface` are reported by `api_version_fields`.
        if !alpha {
            match (kind == AdvertisementType::Interface, item.interface.is_some()) {
                (true, false) => {
                    cx.report(&FIELDS_FOR_TYPE, &path.key("advertisementType"), "`advertisementType: Interface` requires `interface`").help =
                        Some("add `interface: {name: <local interface>}` to this item".to_owned());
                }
                (false, true) => {
                    cx.report_key(&FIELDS_FOR_TYPE, &path.key("interface"), format!("`interface` is not allowed for `advertisementType: {name}`")).help =
                        Some("remove `interface`, or change `advertisementType` to `Interface`".to_owned());
                }
                _ => {}
            }
        }
        match kind {
            AdvertisementType::PodCidr if item.selector.is_some() => {
                cx.report_key(&FIELDS_FOR_TYPE, &path.key("selector"), "`selector` is not allowed for `advertisementType: PodCIDR`").help =
                    Some("remove `selector`: a PodCIDR advertisement always advertises the node's own PodCIDR".to_owned());
            }
            AdvertisementType::Service | AdvertisementType::CiliumPodIPPool if item.selector.is_none() => {
                let objects = if kind == AdvertisementType::Service { "services" } else { "CiliumPodIPPools" };
                cx.report(
                    &SELECTS_NOTHING,
                    &path.key("advertisementType"),
                    format!("this `{name}` advertisement has no `selector`: it selects no {objects} and advertises nothing"),
                )
                .help = Some(format!(
                    "add a `selector` for the {objects} to advertise; `{{matchExpressions: [{{key: somekey, operator: NotIn, values: [never-used-value]}}]}}` selects all of them"
                ));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(version: &str, items: &str) -> Vec<(&'static str, u32)> {
        let text = format!("apiVersion: cilium.io/{version}\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n{items}");
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn well_formed_advertisements_are_clean() {
        let items = "  - advertisementType: PodCIDR\n  - advertisementType: Service\n    service: {addresses: [LoadBalancerIP]}\n    selector: {matchLabels: {bgp: blue}}\n  - advertisementType: CiliumPodIPPool\n    selector: {matchLabels: {pool: blue}}\n";
        assert!(lint("v2", items).is_empty());
        assert!(lint("v2alpha1", items).is_empty());
        assert!(lint("v2", "  - advertisementType: Interface\n    interface: {name: lo}\n").is_empty());
    }

    #[test]
    fn service_needs_service() {
        assert_eq!(lint("v2", "  - advertisementType: Service\n    selector: {matchLabels: {bgp: blue}}\n"), vec![("PLC5307", 7)]);
    }

    #[test]
    fn service_on_other_types() {
        let items = "  - advertisementType: PodCIDR\n    service: {addresses: [ClusterIP]}\n";
        assert_eq!(lint("v2", items), vec![("PLC5307", 8)]);
        assert_eq!(lint("v2alpha1", items), vec![("PLC5314", 8)]);
    }

    #[test]
    fn interface_rules() {
        assert_eq!(lint("v2", "  - advertisementType: Interface\n"), vec![("PLC5307", 7)]);
        assert_eq!(lint("v2", "  - advertisementType: PodCIDR\n    interface: {name: lo}\n"), vec![("PLC5307", 8)]);
    }

    #[test]
    fn pod_cidr_takes_no_selector() {
        assert_eq!(lint("v2alpha1", "  - advertisementType: PodCIDR\n    selector: {matchLabels: {a: b}}\n"), vec![("PLC5307", 8)]);
    }

    #[test]
    fn missing_selector_selects_nothing() {
        assert_eq!(lint("v2", "  - advertisementType: Service\n    service: {addresses: [LoadBalancerIP]}\n"), vec![("PLC5308", 7)]);
        assert_eq!(lint("v2", "  - advertisementType: CiliumPodIPPool\n"), vec![("PLC5308", 7)]);
        assert!(lint("v2", "  - advertisementType: CiliumPodIPPool\n    selector: {}\n").is_empty());
    }
}
