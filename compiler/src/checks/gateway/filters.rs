//! The filter lists of HTTP and gRPC routes (per rule and per backend), and a
//! kind-independent summary of one filter for the checks that treat both alike.

use crate::model::gateway::{GRPCRoute, GRPCRouteFilter, HTTPRoute, HTTPRouteFilter};
use crate::path::Path;

/// What the filter checks need to know about one filter.
pub struct FilterFacts {
    /// The filter's `type`.
    pub type_name: &'static str,
    /// The configuration field its type requires.
    pub required_field: &'static str,
    /// The configuration fields that are set, with the type each belongs to.
    pub configured: Vec<(&'static str, &'static str)>,
    /// Whether the type may appear at most once per list.
    pub unique: bool,
}

impl From<&HTTPRouteFilter> for FilterFacts {
    fn from(filter: &HTTPRouteFilter) -> Self {
        FilterFacts {
            type_name: filter.filter_type.as_str(),
            required_field: filter.filter_type.field(),
            configured: filter.configured_fields().into_iter().map(|(field, filter_type)| (field, filter_type.as_str())).collect(),
            unique: filter.filter_type.is_unique(),
        }
    }
}

impl From<&GRPCRouteFilter> for FilterFacts {
    fn from(filter: &GRPCRouteFilter) -> Self {
        FilterFacts {
            type_name: filter.filter_type.as_str(),
            required_field: filter.filter_type.field(),
            configured: filter.configured_fields().into_iter().map(|(field, filter_type)| (field, filter_type.as_str())).collect(),
            unique: filter.filter_type.is_unique(),
        }
    }
}

/// Every filter list of an HTTP route: each rule's, then each of its backends'.
pub fn http_filter_lists(route: &HTTPRoute) -> Vec<(Path, &[HTTPRouteFilter])> {
    let mut lists: Vec<(Path, &[HTTPRouteFilter])> = Vec::new();
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        let rule_path = Path::root().key("spec").key("rules").index(rule_index);
        lists.push((rule_path.key("filters"), &rule.filters));
        for (backend_index, backend) in rule.backend_refs.iter().enumerate() {
            lists.push((rule_path.key("backendRefs").index(backend_index).key("filters"), &backend.filters));
        }
    }
    lists
}

/// Every filter list of a gRPC route: each rule's, then each of its backends'.
pub fn grpc_filter_lists(route: &GRPCRoute) -> Vec<(Path, Vec<FilterFacts>)> {
    let mut lists = Vec::new();
    for (rule_index, rule) in route.spec.rules.iter().enumerate() {
        let rule_path = Path::root().key("spec").key("rules").index(rule_index);
        lists.push((rule_path.key("filters"), rule.filters.iter().map(FilterFacts::from).collect()));
        for (backend_index, backend) in rule.backend_refs.iter().enumerate() {
            lists.push((rule_path.key("backendRefs").index(backend_index).key("filters"), backend.filters.iter().map(FilterFacts::from).collect()));
        }
    }
    lists
}
