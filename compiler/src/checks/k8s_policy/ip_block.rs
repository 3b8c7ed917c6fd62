//! `ipBlock.except` prefixes lie strictly inside `ipBlock.cidr`, in the same address family;
//! a prefix with host bits set means less than it shows.
//!
//! Fix: list only prefixes strictly inside `cidr`; clear the host bits.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::k8s_policy::NetworkPolicyPeer;
use crate::path::Path;

use super::syntax::Prefix;

code!(
    EXCEPT_NOT_INSIDE,
    "PLC3505",
    "network-policy-except-not-inside-cidr",
    Error,
    "an `ipBlock.except` prefix is not strictly inside `ipBlock.cidr`",
    "The API server requires every `except` prefix to be a strict subset of `cidr`: inside it, of the same family, and longer (\"must be a strict subset of `cidr`\"). Excepting all of `cidr` is not allowed either; remove the peer instead.

Example:
  ipBlock:
    cidr: 10.0.0.0/16
    except: [10.0.0.0/16, 192.168.0.0/24]

Fix: list only prefixes strictly inside `cidr`, or widen `cidr`."
);

code!(
    CIDR_HOST_BITS,
    "PLC3506",
    "network-policy-cidr-host-bits-set",
    Warning,
    "an `ipBlock` prefix has bits set after its prefix length",
    "In `10.1.2.3/8` only the first 8 bits count: the prefix means `10.0.0.0/8`, which is rarely what was meant. Recent Kubernetes versions warn about such prefixes too.

Fix: write the prefix with its host bits cleared, or correct the length."
);

fn host_bits(text: &str, at: &Path, cx: &mut CheckCx<'_>) {
    let Some(canonical) = Prefix::parse(text).and_then(|prefix| prefix.canonical_if_different()) else { return };
    cx.report(&CIDR_HOST_BITS, at, format!("`{text}` has bits set after its prefix length: it means `{canonical}`")).help =
        Some(format!("write `{canonical}`, or correct the prefix length if a narrower range was meant"));
}

pub(super) fn check(peer: &NetworkPolicyPeer, at: &Path, cx: &mut CheckCx<'_>) {
    let Some(block) = &peer.ip_block else { return };
    let block_path = at.key("ipBlock");
    host_bits(&block.cidr, &block_path.key("cidr"), cx);
    let Some(cidr) = Prefix::parse(&block.cidr) else { return };
    for (index, text) in block.except.iter().flatten().enumerate() {
        let except_path = block_path.key("except").index(index);
        let Some(except) = Prefix::parse(text) else { continue };
        host_bits(text, &except_path, cx);
        let problem = if !cidr.same_family(&except) {
            Some(format!("`{text}` is not of the same address family as `{}`", block.cidr))
        } else if !cidr.contains(&except) {
            Some(format!("`{text}` is not inside `{}`", block.cidr))
        } else if except.length == cidr.length {
            Some(format!("`{text}` is all of `{}`: an exception must be strictly smaller", block.cidr))
        } else {
            None
        };
        if let Some(message) = problem {
            cx.report(&EXCEPT_NOT_INSIDE, &except_path, message).help = Some("list only prefixes strictly inside `cidr`, or widen `cidr`".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{codes, netpol};

    #[test]
    fn except_outside_or_equal_is_an_error() {
        let text = netpol(
            "  podSelector: {}\n  egress:\n  - to:\n    - ipBlock:\n        cidr: 10.0.0.0/16\n        except:\n        - 10.0.0.0/16\n        - 10.1.0.0/24\n        - fd00::/64\n",
        );
        assert_eq!(codes(&text), vec![("PLC3505", 13), ("PLC3505", 14), ("PLC3505", 15)]);
    }

    #[test]
    fn host_bits_are_a_warning() {
        let text = netpol("  podSelector: {}\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.1.2.3/8}\n");
        assert_eq!(codes(&text), vec![("PLC3506", 10)]);
    }

    #[test]
    fn valid_block_is_fine() {
        let text = netpol("  podSelector: {}\n  egress:\n  - to:\n    - ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 169.254.169.254/32]}\n");
        assert_eq!(codes(&text), vec![]);
    }
}
