//! A `toFQDNs` item or a DNS rule gives exactly one of `matchName` and `matchPattern` (a CRD
//! `oneOf`; Cilium refuses both together).
//!
//! Fix: keep `matchName` for one exact name, `matchPattern` for a wildcard pattern.

use super::{Element, ElementKind};
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::FqdnSelector;
use crate::path::Path;

code!(
    FQDN_SELECTOR_NOT_EXACTLY_ONE,
    "PLC3070",
    "fqdn-selector-not-exactly-one",
    Error,
    "a DNS name selector needs exactly one of `matchName` and `matchPattern`",
    "Each item of `toFQDNs` and of DNS rules (`rules.dns`) names either one exact name (`matchName: api.example.com`) or a pattern with `*` wildcards (`matchPattern: \"*.example.com\"`). The CRD requires exactly one of them, and Cilium refuses both together (\"only one of MatchName or MatchPattern is allowed\").

Fix: keep one of the two fields; write a second item for the other."
);

fn check_selector(selector: &FqdnSelector, at: &Path, cx: &mut CheckCx<'_>) {
    match (&selector.match_name, &selector.match_pattern) {
        (Some(_), Some(_)) => {
            cx.report_key(&FQDN_SELECTOR_NOT_EXACTLY_ONE, &at.key("matchPattern"), "`matchName` and `matchPattern` cannot both be given").help =
                Some("keep one of them, and write a second item for the other".to_owned());
        }
        (None, None) => {
            cx.report(&FQDN_SELECTOR_NOT_EXACTLY_ONE, at, "this DNS selector has neither `matchName` nor `matchPattern`").help =
                Some("add `matchName: example.com` for one name, or `matchPattern: \"*.example.com\"` for a pattern".to_owned());
        }
        _ => {}
    }
}

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    if let ElementKind::Egress(rule) = element.kind {
        for (index, selector) in rule.to_fqdns.iter().flatten().enumerate() {
            check_selector(selector, &element.path.key("toFQDNs").index(index), cx);
        }
    }
    for (path, port_rule) in element.port_rules() {
        let dns = port_rule.rules.as_ref().and_then(|rules| rules.dns.as_ref());
        for (index, selector) in dns.into_iter().flatten().enumerate() {
            check_selector(selector, &path.key("rules").key("dns").index(index), cx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    /// Findings other than the missing DNS rule (these policies have no DNS rule on purpose).
    fn without_dns_warning(text: &str) -> Vec<(&'static str, u32)> {
        codes(text).into_iter().filter(|(code, _)| *code != "PLC3071").collect()
    }

    #[test]
    fn both_or_neither_are_errors() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toFQDNs:\n    - {matchName: a.com, matchPattern: \"*.a.com\"}\n    - {}\n");
        assert_eq!(without_dns_warning(&text), vec![("PLC3070", 10), ("PLC3070", 11)]);
    }

    #[test]
    fn one_of_them_is_fine() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toFQDNs:\n    - matchName: a.com\n    - matchPattern: \"*.a.com\"\n");
        assert_eq!(without_dns_warning(&text), vec![]);
    }
}
