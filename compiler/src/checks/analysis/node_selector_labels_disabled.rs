//! `PLC7006`: `fromNodes`/`toNodes` with labels select nothing unless the agent runs with
//! `enable-node-selector-labels`; polc models the default (off). Fix: use `fromEntities`/
//! `toEntities: [remote-node, host]`, or an empty node selector.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    NODE_SELECTOR_LABELS_DISABLED,
    "PLC7006",
    "node-selector-labels-disabled",
    Warning,
    "a `fromNodes`/`toNodes` selector with labels selects no node by default",
    "Cilium lowers `fromNodes`/`toNodes` to the `remote-node` identity narrowed by node labels. Nodes only carry their labels in their identity when the agent runs with `enable-node-selector-labels=true` (default false); without it a selector with labels selects nothing, and an empty one selects every remote node. polc models the default.

Fix: use `toEntities: [remote-node]` (and `host` for the local node), or an empty selector, or enable the option and keep in mind that polc does not model it."
);
