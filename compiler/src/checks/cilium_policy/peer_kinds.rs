//! One rule element may name one kind of peer only (`fromEndpoints`, `fromCIDR`,
//! `fromEntities`...); Cilium refuses the whole policy otherwise ("combining X and Y is not
//! supported yet").
//!
//! Fix: split the element into one element per peer kind; elements of a section are OR-ed.

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

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    let mut given: Vec<&'static str> = element.peer_fields().iter().filter(|field| field.count.is_some_and(|count| count > 0)).map(|field| field.name).collect();
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
    fn one_peer_kind_with_ports_is_fine() {
        let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromCIDR: [10.0.0.0/8]\n    toPorts: [{ports: [{port: \"80\"}]}]\n");
        assert_eq!(codes(&text), vec![]);
    }
}
