//! `PLC4201`: a filter lacks the configuration block its `type` names; `PLC4202`: a filter
//! carries the configuration block of another type.
//!
//! A filter is a `type` plus exactly the block of that type; the route CRDs reject anything
//! else. Fix: add the block, or change `type` to match the block given.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::path::Path;

use super::filters::FilterFacts;

code!(
    FILTER_CONFIG_MISSING,
    "PLC4201",
    "filter-config-missing",
    Error,
    "a filter has no configuration block for its `type`",
    "Each filter `type` takes its settings from the field of the same name: `RequestHeaderModifier` from `requestHeaderModifier`, `RequestRedirect` from `requestRedirect`, `URLRewrite` from `urlRewrite`, `RequestMirror` from `requestMirror`, `CORS` from `cors`, `ExtensionRef` from `extensionRef`. The route CRDs reject a filter without it.

Example:
  filters:
  - type: RequestHeaderModifier

Fix: add the block next to `type`:
  - type: RequestHeaderModifier
    requestHeaderModifier:
      add: [{name: x-team, value: payments}]"
);

code!(
    FILTER_CONFIG_WRONG_TYPE,
    "PLC4202",
    "filter-config-wrong-type",
    Error,
    "a filter carries the configuration block of another filter type",
    "A filter carries only the block its `type` names; the route CRDs reject a block for any other type (for example `requestRedirect` on a `RequestHeaderModifier` filter).

Example:
  - type: RequestHeaderModifier
    requestRedirect: {scheme: https}

Fix: change `type` to the filter the block is for, or move the block into a filter of its own."
);

pub(super) fn check(list_path: &Path, filters: &[FilterFacts], cx: &mut CheckCx<'_>) {
    for (index, filter) in filters.iter().enumerate() {
        let filter_path = list_path.index(index);
        let has_own_block = filter.configured.iter().any(|(field, _)| *field == filter.required_field);
        let others: Vec<&(&str, &str)> = filter.configured.iter().filter(|(field, _)| *field != filter.required_field).collect();
        if !has_own_block {
            let message = format!("filter of type `{}` has no `{}` block", filter.type_name, filter.required_field);
            let help = match others.first() {
                Some((field, filter_type)) => format!(
                    "this filter sets `{field}`, which belongs to type `{filter_type}`: change `type` to `{filter_type}`, or add `{}` with the settings of a `{}` filter",
                    filter.required_field, filter.type_name
                ),
                None => format!("add `{}:` with the filter's settings next to `type: {}`", filter.required_field, filter.type_name),
            };
            let diagnostic = cx.report(&FILTER_CONFIG_MISSING, &filter_path.key("type"), message);
            diagnostic.help = Some(help);
        }
        for (field, filter_type) in others {
            let message = format!("`{field}` is set on a filter of type `{}`; it belongs to a `{filter_type}` filter", filter.type_name);
            let diagnostic = cx.report_key(&FILTER_CONFIG_WRONG_TYPE, &filter_path.key(*field), message);
            diagnostic.help =
                Some(format!("a filter carries only the block its `type` names: set `type: {filter_type}`, or move `{field}` into a filter of its own"));
            diagnostic.label = Some(format!("not a `{}` setting", filter.type_name));
        }
    }
}
