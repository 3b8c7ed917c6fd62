//! `PLC7010`: more distinct label sets (or CIDR prefixes, or endpoints) than Cilium's identity
//! (or endpoint ID) space holds; the rest get no identity. Fix: reduce the label cardinality
//! (volatile labels such as build IDs make one identity per pod).

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    IDENTITY_SPACE_EXHAUSTED,
    "PLC7010",
    "identity-space-exhausted",
    Error,
    "the inventory needs more identities or endpoint IDs than exist",
    "A cluster allocates endpoint identities from 256 to 65535 (with the default 255 connected clusters), node-local CIDR identities from `1 << 24 | 1` to `1 << 24 | 0xFFFFFF`, and endpoint IDs from 1 to 65535 per node. Pods with equal identity labels share an identity; a label that differs on every pod (a hash, a build ID) gives each pod its own.

Fix: drop volatile labels from pods, or add them to the label filter's ignore list."
);
