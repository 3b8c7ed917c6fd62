//! Analysis of policies against the inventory (codes `PLC7000`–`PLC7999`): what lowering to
//! the IR and resolving FlowTest flows find — names that resolve to nothing, peers polc cannot
//! resolve offline, and limits of the identity and endpoint spaces.
//!
//! These findings need the whole inventory, so they are not produced by the front end's
//! per-object checks: [`crate::lower::lower`] and [`crate::semantics`] produce them, one module
//! per finding here.

pub mod cidr_group_unresolved;
pub mod cidr_zero_prefix_single_stack;
pub mod flow_endpoint_not_found;
pub mod flow_to_service_address;
pub mod fqdn_selects_nothing;
pub mod groups_unsupported;
pub mod host_policy_without_host_firewall;
pub mod identity_space_exhausted;
pub mod named_port_unresolved;
pub mod node_selector_labels_disabled;
pub mod policy_selects_nothing;
pub mod service_not_found;

use crate::diag::Code;

pub static CODES: &[&Code] = &[
    &flow_endpoint_not_found::FLOW_ENDPOINT_NOT_FOUND,
    &fqdn_selects_nothing::FQDN_SELECTS_NOTHING,
    &named_port_unresolved::NAMED_PORT_UNRESOLVED,
    &policy_selects_nothing::POLICY_SELECTS_NOTHING,
    &service_not_found::SERVICE_NOT_FOUND,
    &node_selector_labels_disabled::NODE_SELECTOR_LABELS_DISABLED,
    &cidr_group_unresolved::CIDR_GROUP_UNRESOLVED,
    &groups_unsupported::GROUPS_UNSUPPORTED,
    &host_policy_without_host_firewall::HOST_POLICY_WITHOUT_HOST_FIREWALL,
    &identity_space_exhausted::IDENTITY_SPACE_EXHAUSTED,
    &flow_to_service_address::FLOW_TO_SERVICE_ADDRESS,
    &cidr_zero_prefix_single_stack::CIDR_ZERO_PREFIX_SINGLE_STACK,
];
