//! `PLC4203`: a filter type that may appear once per list appears twice.
//!
//! `RequestHeaderModifier`, `ResponseHeaderModifier`, `RequestRedirect`, `URLRewrite` and
//! `CORS` can each appear once in one filter list; the route CRDs reject repeats. Fix: merge
//! the two filters.

use std::collections::BTreeMap;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::path::Path;

use super::filters::FilterFacts;

code!(
    REPEATED_FILTER,
    "PLC4203",
    "repeated-filter",
    Error,
    "a filter type that may appear once appears twice in one filter list",
    "In one filter list (of a rule or of a backend) the core filters `RequestHeaderModifier`, `ResponseHeaderModifier`, `RequestRedirect`, `URLRewrite` and `CORS` may each appear once; the route CRDs reject repeats, because the order in which two of them would apply is not defined. `RequestMirror` and `ExtensionRef` may repeat.

Example:
  filters:
  - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: a, value: '1'}]}}
  - {type: RequestHeaderModifier, requestHeaderModifier: {add: [{name: b, value: '2'}]}}

Fix: merge them: one `RequestHeaderModifier` can set, add and remove several headers."
);

pub(super) fn check(list_path: &Path, filters: &[FilterFacts], cx: &mut CheckCx<'_>) {
    let mut first: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, filter) in filters.iter().enumerate() {
        if !filter.unique {
            continue;
        }
        match first.get(filter.type_name) {
            Some(&earlier) => {
                let related = Related { location: cx.location(&list_path.index(earlier).key("type")), message: "first used here".to_owned() };
                let message = format!("filter type `{}` appears more than once in this filter list (items {earlier} and {index})", filter.type_name);
                let help = match filter.type_name {
                    "RequestHeaderModifier" | "ResponseHeaderModifier" => "merge the two filters: one filter can `set`, `add` and `remove` several headers",
                    _ => "keep one of the two filters",
                };
                let diagnostic = cx.report(&REPEATED_FILTER, &list_path.index(index).key("type"), message);
                diagnostic.help = Some(help.to_owned());
                diagnostic.related.push(related);
            }
            None => {
                first.insert(filter.type_name, index);
            }
        }
    }
}
