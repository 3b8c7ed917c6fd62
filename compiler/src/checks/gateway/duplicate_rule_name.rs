//! `PLC4107` (warning): two rules of one route have the same `name`.
//!
//! Rule names identify rules in status and in policies that target them; the
//! experimental-channel CRDs reject repeats and the standard ones let them through. Fix: give
//! every rule a distinct name.

use std::collections::BTreeMap;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::path::Path;

code!(
    DUPLICATE_RULE_NAME,
    "PLC4107",
    "duplicate-rule-name",
    Warning,
    "two rules of a route have the same `name`",
    "A rule's `name` lets status and policies (for example a BackendTLSPolicy or a timeout policy with a `sectionName`) point at one rule. Two rules with the same name make that ambiguous. The experimental-channel CRDs reject it; the standard ones accept it.

Fix: give every named rule a distinct name."
);

/// `names` holds the `name` of each rule.
pub(super) fn check(names: &[Option<&str>], cx: &mut CheckCx<'_>) {
    let rules = Path::root().key("spec").key("rules");
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, name) in names.iter().enumerate() {
        let Some(name) = name else { continue };
        match first.get(name) {
            Some(&earlier) => {
                let related = Related { location: cx.location(&rules.index(earlier).key("name")), message: "first used here".to_owned() };
                let message = format!("rules {earlier} and {index} are both named `{name}`");
                let diagnostic = cx.report(&DUPLICATE_RULE_NAME, &rules.index(index).key("name"), message);
                diagnostic.help = Some("give every rule a distinct name".to_owned());
                diagnostic.related.push(related);
            }
            None => {
                first.insert(name, index);
            }
        }
    }
}
