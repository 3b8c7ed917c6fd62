//! `PLC4101`: a route lists the same parent twice, once with and once without `sectionName`;
//! `PLC4102`: a route lists the same parent and section twice.
//!
//! The route CRDs reject both (a parent listed more than once needs a distinct `sectionName`
//! each time). Fix: name a listener in every reference to that parent, or merge them.

use std::collections::BTreeMap;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::model::gateway::ParentReference;
use crate::path::Path;

code!(
    PARENT_SECTION_NAME_REQUIRED,
    "PLC4101",
    "parent-section-name-required",
    Error,
    "a route refers to the same parent several times, not always with a `sectionName`",
    "A route may attach to several listeners of one Gateway by listing the Gateway once per listener, each time with the listener's `sectionName`. A reference without `sectionName` already attaches to every listener, so the route CRDs reject mixing it with references to single listeners of the same parent.

Example:
  parentRefs:
  - name: gateway
  - name: gateway
    sectionName: https

Fix: give every reference to that parent a `sectionName`, or keep one reference without it."
);

code!(
    DUPLICATE_PARENT_REF,
    "PLC4102",
    "duplicate-parent-ref",
    Error,
    "a route refers to the same parent and section twice",
    "Each reference to a parent must name a different listener (`sectionName`); the route CRDs reject two references to the same parent with the same (or no) `sectionName`. The standard channel does not tell references apart by `port`.

Example:
  parentRefs:
  - {name: gateway, sectionName: http}
  - {name: gateway, sectionName: http}

Fix: remove the repeated reference, or give it the `sectionName` of another listener."
);

type ParentKey<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

fn parent_key(reference: &ParentReference) -> ParentKey<'_> {
    (reference.group(), reference.kind(), reference.namespace.as_deref().filter(|namespace| !namespace.is_empty()), reference.name.as_str())
}

fn describe(reference: &ParentReference) -> String {
    match &reference.namespace {
        Some(namespace) => format!("{} `{namespace}/{}`", reference.kind(), reference.name),
        None => format!("{} `{}`", reference.kind(), reference.name),
    }
}

pub(super) fn check(parent_refs: &[ParentReference], cx: &mut CheckCx<'_>) {
    let list = Path::root().key("spec").key("parentRefs");
    let mut by_parent: BTreeMap<ParentKey<'_>, Vec<usize>> = BTreeMap::new();
    for (index, reference) in parent_refs.iter().enumerate() {
        by_parent.entry(parent_key(reference)).or_default().push(index);
    }
    let mut findings: Vec<(usize, usize, bool)> = Vec::new();
    for indexes in by_parent.values() {
        let Some(&first) = indexes.first() else { continue };
        let first_has_section = parent_refs[first].section_name().is_some();
        for (position, &index) in indexes.iter().enumerate().skip(1) {
            let has_section = parent_refs[index].section_name().is_some();
            if has_section != first_has_section {
                let without = if has_section { first } else { index };
                let with = if has_section { index } else { first };
                findings.push((without, with, false));
                continue;
            }
            let repeated = indexes[..position].iter().find(|&&earlier| parent_refs[earlier].section_name() == parent_refs[index].section_name());
            if let Some(&earlier) = repeated {
                findings.push((index, earlier, true));
            }
        }
    }
    // One finding per reference.
    findings.sort();
    findings.dedup_by_key(|finding| finding.0);
    for (index, other, duplicate) in findings {
        let reference = &parent_refs[index];
        let related = Related { location: cx.location(&list.index(other)), message: "the other reference to the same parent".to_owned() };
        let diagnostic = if duplicate {
            let section = match reference.section_name() {
                Some(section) => format!(" and section `{section}`"),
                None => String::new(),
            };
            let message = format!("`spec.parentRefs[{index}]` repeats `spec.parentRefs[{other}]`: the same {}{section}", describe(reference));
            let differs_by_port = reference.port != parent_refs[other].port;
            let diagnostic = cx.report(&DUPLICATE_PARENT_REF, &list.index(index), message);
            diagnostic.help = Some(if differs_by_port {
                "the standard channel does not tell parent references apart by `port`: use `sectionName` to pick each listener".to_owned()
            } else {
                "remove the repeated reference, or give it the `sectionName` of another listener".to_owned()
            });
            diagnostic
        } else {
            let message = format!(
                "the parent {} is listed more than once, and `spec.parentRefs[{index}]` has no `sectionName`: every reference to a repeated parent needs one",
                describe(reference)
            );
            let diagnostic = cx.report(&PARENT_SECTION_NAME_REQUIRED, &list.index(index), message);
            diagnostic.help = Some(
                "add `sectionName` with the listener's name to this reference, or remove the references that name single listeners (this one already attaches to all)"
                    .to_owned(),
            );
            diagnostic
        };
        diagnostic.related.push(related);
    }
}
