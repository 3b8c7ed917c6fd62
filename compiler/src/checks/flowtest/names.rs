//! `PLC6007`: two flows of one FlowTest have the same `name`.
//!
//! A failing flow is reported by its name; two flows with one name cannot be told apart.
//! Fix: give each flow its own name.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::flowtest::FlowTest;
use crate::path::Path;

code!(
    FLOW_DUPLICATE_NAME,
    "PLC6007",
    "flow-duplicate-name",
    Error,
    "two flows of one FlowTest have the same name",
    "`polc test` reports a failing flow by its name, so the names of the flows of one FlowTest must differ.

Fix: rename one of the flows."
);

pub(super) fn check(object: &FlowTest, cx: &mut CheckCx<'_>) {
    let mut seen: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for (index, flow) in object.spec.flows.iter().enumerate() {
        let Some(name) = flow.name.as_deref() else { continue };
        match seen.get(name) {
            Some(first) => {
                let first_path = Path::root().key("spec").key("flows").index(*first).key("name");
                let first_location = cx.location(&first_path);
                let path = Path::root().key("spec").key("flows").index(index).key("name");
                let message = format!("flows {first} and {index} are both named `{name}`");
                let diagnostic = cx.report(&FLOW_DUPLICATE_NAME, &path, message);
                diagnostic.help = Some("give each flow its own name".to_owned());
                diagnostic.related.push(crate::diag::Related { location: first_location, message: "first used here".to_owned() });
            }
            None => {
                seen.insert(name, index);
            }
        }
    }
}
