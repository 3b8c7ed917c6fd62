//! `PLC7007`: `cidrGroupRef`/`cidrGroupSelector` refer to CiliumCIDRGroup objects, a kind polc
//! does not read; the entry selects nothing in polc's evaluation. Fix: write the prefixes as
//! `cidr` entries to have them evaluated.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    CIDR_GROUP_UNRESOLVED,
    "PLC7007",
    "cidr-group-unresolved",
    Warning,
    "a CIDR group reference cannot be resolved",
    "`cidrGroupRef` and `cidrGroupSelector` name CiliumCIDRGroup objects. polc does not read that kind yet, so the entry selects no address in `polc trace` and `polc test`, and flows to those addresses are decided by the other rules.

Fix: to have the prefixes evaluated, write them as `cidr` entries."
);
