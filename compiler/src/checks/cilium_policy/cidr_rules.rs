//! CIDR peers: a `fromCIDRSet`/`toCIDRSet` item names exactly one of `cidr`, `cidrGroupRef` and
//! `cidrGroupSelector`; every `except` prefix lies inside `cidr` and has its family; `except`
//! does not work with CIDR groups; and a prefix with host bits set means less than it shows.
//!
//! Fix: one source per item; exceptions inside the allowed prefix; prefixes written with their
//! host bits cleared.

use super::Element;
use crate::checks::CheckCx;
use crate::checks::k8s_policy::syntax::Prefix;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::path::Path;

code!(
    CIDR_SET_SOURCE,
    "PLC3012",
    "cidr-set-source-not-exactly-one",
    Error,
    "a CIDR set item needs exactly one of `cidr`, `cidrGroupRef` and `cidrGroupSelector`",
    "Each item of `fromCIDRSet`/`toCIDRSet` names its addresses one way: a prefix (`cidr`), a CiliumCIDRGroup by name (`cidrGroupRef`) or CiliumCIDRGroups by label (`cidrGroupSelector`). The CRD says so with a `oneOf`, and Cilium refuses the policy otherwise.

Example:
  toCIDRSet:
  - cidr: 10.0.0.0/8
    cidrGroupRef: corporate

Fix: write one item per source:
  toCIDRSet:
  - cidr: 10.0.0.0/8
  - cidrGroupRef: corporate"
);

code!(
    CIDR_EXCEPT_OUTSIDE,
    "PLC3013",
    "cidr-except-outside",
    Error,
    "an `except` prefix does not lie inside its `cidr`",
    "`except` carves prefixes out of `cidr`. Cilium refuses a policy whose exception is not inside the allowed prefix (\"allow CIDR prefix ... does not contain exclude CIDR prefix ...\"), which includes an exception of the other address family or one that is broader than `cidr`.

Example:
  toCIDRSet:
  - cidr: 10.0.0.0/16
    except: [10.1.0.0/24, 10.0.0.0/8]

Fix: list only prefixes inside `cidr`, or widen `cidr`."
);

code!(
    CIDR_HOST_BITS,
    "PLC3014",
    "cidr-host-bits-set",
    Warning,
    "a CIDR prefix has bits set after its prefix length",
    "In `10.1.2.3/8` only the first 8 bits count: the prefix means `10.0.0.0/8`, all of 10.x.x.x, which is rarely what was meant. Usually either the length is wrong (`10.1.2.3/32`, one address) or the address is (`10.0.0.0/8`).

Fix: write the prefix with its host bits cleared, or correct the length."
);

code!(
    CIDR_EXCEPT_WITH_GROUP,
    "PLC3015",
    "cidr-except-with-group",
    Warning,
    "`except` has no effect together with a CIDR group",
    "Cilium only applies `except` to the `cidr` of the same item; together with `cidrGroupRef` or `cidrGroupSelector` it is not supported, and the exceptions are not carved out of the group.

Fix: list the exceptions in an `egressDeny`/`ingressDeny` rule with `toCIDR`/`fromCIDR`, or use `cidr` with `except`."
);

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    for (path, cidr) in element.cidrs() {
        host_bits(&path, cidr, cx);
    }
    for (path, rule) in element.cidr_sets() {
        let sources: Vec<&str> =
            [("cidr", rule.cidr.is_some()), ("cidrGroupRef", rule.cidr_group_ref.is_some()), ("cidrGroupSelector", rule.cidr_group_selector.is_some())]
                .into_iter()
                .filter(|(_, given)| *given)
                .map(|(name, _)| name)
                .collect();
        match sources.as_slice() {
            [] => {
                cx.report(&CIDR_SET_SOURCE, &path, "this CIDR set item has none of `cidr`, `cidrGroupRef` and `cidrGroupSelector`").help =
                    Some("add `cidr: a.b.c.d/n`, or name a CiliumCIDRGroup with `cidrGroupRef`".to_owned());
            }
            [_] => {}
            [_, second, ..] => {
                cx.report_key(
                    &CIDR_SET_SOURCE,
                    &path.key(*second),
                    format!("this CIDR set item gives {}; only one is allowed", super::backticked_list(&sources)),
                )
                .help = Some("write one item per source".to_owned());
            }
        }
        let Some(cidr_text) = &rule.cidr else {
            let group = rule.cidr_group_ref.is_some() || rule.cidr_group_selector.is_some();
            if group && rule.except.as_ref().is_some_and(|except| !except.is_empty()) {
                cx.report_key(&CIDR_EXCEPT_WITH_GROUP, &path.key("except"), "`except` is not applied to CIDR groups").help =
                    Some("deny the excepted prefixes in an `ingressDeny`/`egressDeny` rule instead".to_owned());
            }
            continue;
        };
        host_bits(&path.key("cidr"), cidr_text, cx);
        let Some(cidr) = Prefix::parse(cidr_text) else { continue };
        for (index, except_text) in rule.except.iter().flatten().enumerate() {
            let except_path = path.key("except").index(index);
            let Some(except) = Prefix::parse(except_text) else { continue };
            host_bits(&except_path, except_text, cx);
            if cidr.contains(&except) {
                continue;
            }
            let (message, help) = if !cidr.same_family(&except) {
                (
                    format!("`{except_text}` is not of the same address family as `{cidr_text}`"),
                    "put exceptions of the other family in an item of their own with a `cidr` of that family".to_owned(),
                )
            } else if except.length < cidr.length {
                (format!("`{except_text}` is broader than `{cidr_text}`"), "an exception must be a part of `cidr`: narrow it, or widen `cidr`".to_owned())
            } else {
                (format!("`{except_text}` is not inside `{cidr_text}`"), "list only prefixes inside `cidr`, or widen `cidr`".to_owned())
            };
            cx.report(&CIDR_EXCEPT_OUTSIDE, &except_path, message).help = Some(help);
        }
    }
}

fn host_bits(path: &Path, text: &str, cx: &mut CheckCx<'_>) {
    let Some(canonical) = Prefix::parse(text).and_then(|prefix| prefix.canonical_if_different()) else { return };
    cx.report(&CIDR_HOST_BITS, path, format!("`{text}` has bits set after its prefix length: it means `{canonical}`")).help =
        Some(format!("write `{canonical}`, or correct the prefix length if a narrower range was meant"));
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn two_sources_are_an_error() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toCIDRSet:\n    - cidr: 10.0.0.0/8\n      cidrGroupRef: corp\n");
        assert_eq!(codes(&text), vec![("PLC3012", 11)]);
    }

    #[test]
    fn no_source_is_an_error() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toCIDRSet:\n    - except: [10.0.0.0/8]\n");
        assert!(codes(&text) == vec![("PLC3012", 10)], "{:?}", codes(&text));
    }

    #[test]
    fn except_outside_is_an_error() {
        let text = cnp(
            "  endpointSelector: {}\n  egress:\n  - toCIDRSet:\n    - cidr: 10.0.0.0/16\n      except:\n      - 10.1.0.0/24\n      - 10.0.0.0/8\n      - fd00::/64\n",
        );
        assert_eq!(codes(&text), vec![("PLC3013", 12), ("PLC3013", 13), ("PLC3013", 14)]);
    }

    #[test]
    fn host_bits_are_a_warning() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toCIDR: [10.1.2.3/8]\n");
        assert_eq!(codes(&text), vec![("PLC3014", 9)]);
    }

    #[test]
    fn except_with_group_is_a_warning() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toCIDRSet:\n    - cidrGroupRef: corp\n      except: [10.0.0.0/8]\n");
        assert_eq!(codes(&text), vec![("PLC3015", 11)]);
    }

    #[test]
    fn valid_cidr_sets_are_fine() {
        let text = cnp(
            "  endpointSelector: {}\n  egress:\n  - toCIDRSet:\n    - cidr: 0.0.0.0/0\n      except: [10.0.0.0/8, 192.168.0.0/16]\n    - cidr: 10.0.0.0/8\n      except: [10.0.0.0/8]\n",
        );
        assert_eq!(codes(&text), vec![]);
    }
}
