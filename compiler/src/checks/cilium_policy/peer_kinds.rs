//! One rule element may name one kind of peer only (`fromEndpoints`, `fromCIDR`,
//! `fromEntities`...); Cilium refuses the whole policy otherwise ("combining X and Y is not
//! supported yet").
//!
//! An explicitly empty peer list (`fromEndpoints: []`) is not the same as no list: it selects no
//! peer at all, so the element matches nothing.
//!
//! Fix: split the element into one element per peer kind; elements of a section are OR-ed.
//! Remove an empty peer list, or fill it.

use super::{Element, backticked_list};
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    PEER_KINDS_COMBINED,
    "PLC3010",
    "peer-kinds-combined",
    Error,
    "a rule element combines two kinds of peers",
    "Each item of `ingress`, `ingressDeny`, `egress` or `egressDeny` may name one kind of peer: `fromEndpoints`, `fromCIDR`, `fromCIDRSet`, `fromEntities`, `fromNodes` or `fromGroups` (and on egress `toEndpoints`, `toCIDR`, `toCIDRSet`, `toEntities`, `toServices`, `toGroups`, `toNodes` or `toFQDNs`). Cilium refuses a policy that combines two of them (\"combining FromEndpoints and FromCIDR is not supported yet\"), and the whole policy then never takes effect.

Example:
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    fromCIDR: [10.0.0.0/8]

Fix: write one item per peer kind; the items of a section are alternatives (OR), and each may repeat the same `toPorts`:
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend}}]
  - fromCIDR: [10.0.0.0/8]"
);

code!(
    EMPTY_PEER_LIST,
    "PLC3016",
    "empty-peer-list",
    Warning,
    "an empty peer list selects no peer, so the rule element matches nothing",
    "Cilium treats a missing peer field and an empty one differently: without `fromEndpoints` an element matches every peer (on the ports of `toPorts`), but `fromEndpoints: []` selects no peer, and the element allows (or denies) nothing. The same holds for `fromNodes`, `fromEntities`, `fromCIDR` and `fromCIDRSet`, and their `to` forms.

Example:
  ingress:
  - fromEndpoints: []              # matches nothing
    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]

Fix: remove the empty list to match every peer, or list the peers."
);

/// Peer fields whose empty list selects nothing (Cilium checks exactly these).
const EMPTY_MEANS_NOTHING: &[&str] =
    &["fromEndpoints", "fromNodes", "fromEntities", "fromCIDR", "fromCIDRSet", "toEndpoints", "toNodes", "toEntities", "toCIDR", "toCIDRSet"];

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    for field in element.peer_fields() {
        if field.count == Some(0) && EMPTY_MEANS_NOTHING.contains(&field.name) {
            let verb = if element.is_deny() { "denies" } else { "allows" };
            cx.report(
                &EMPTY_PEER_LIST,
                &element.path.key(field.name),
                format!("`{}: []` selects no peer, so this `{}` item {verb} nothing", field.name, element.section()),
            )
            .help = Some(format!("remove `{}` to match every peer, or list the peers", field.name));
        }
    }
    combined(element, cx);
}

fn combined(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    let mut given: Vec<&'static str> =
        element.peer_fields().iter().filter(|field| field.count.is_some_and(|count| count > 0)).map(|field| field.name).collect();
    if given.len() < 2 {
        return;
    }
    // Name them in document order, and point at the second one.
    given.sort_by_key(|name| cx.key_location(&element.path.key(*name)).span.start.byte);
    let message = format!("combining {} in one `{}` item is not supported", backticked_list(&given), element.section());
    cx.report_key(&PEER_KINDS_COMBINED, &element.path.key(given[1]), message).help = Some(format!(
        "split this item into {} items of `{}`, one per peer kind, each with its own copy of `toPorts`; items are alternatives (OR)",
        given.len(),
        element.section()
    ));
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes, with_code};

    #[test]
    fn two_peer_kinds_are_an_error() {
        let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromEndpoints: [{}]\n    fromCIDR: [10.0.0.0/8]\n");
        assert_eq!(codes(&text), vec![("PLC3010", 10)]);
        let found = with_code(&text, "PLC3010");
        assert!(found[0].message.contains("`fromEndpoints` and `fromCIDR`"), "{}", found[0].message);
    }

    #[test]
    fn to_fqdns_with_to_endpoints_is_an_error() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toFQDNs: [{matchName: example.com}]\n    toEndpoints: [{}]\n");
        assert_eq!(codes(&text), vec![("PLC3071", 9), ("PLC3010", 10)]);
    }

    #[test]
    fn empty_peer_list_is_a_warning() {
        let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromEndpoints: []\n    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n");
        assert_eq!(codes(&text), vec![("PLC3016", 9)]);
    }

    #[test]
    fn one_peer_kind_with_ports_is_fine() {
        let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromCIDR: [10.0.0.0/8]\n    toPorts: [{ports: [{port: \"80\"}]}]\n");
        assert_eq!(codes(&text), vec![]);
    }
}
