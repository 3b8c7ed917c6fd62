//! `PLC7008`: `fromGroups`/`toGroups` (cloud provider security groups) resolve addresses through
//! a cloud API at run time; polc cannot, so they select nothing. Fix: use CIDR rules to have the
//! addresses evaluated.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    GROUPS_UNSUPPORTED,
    "PLC7008",
    "groups-unsupported",
    Warning,
    "`fromGroups`/`toGroups` select nothing offline",
    "Cloud groups (`aws.securityGroupsIds`, `aws.labels`...) are resolved by the Cilium operator through the cloud provider's API. polc evaluates offline and cannot resolve them, so the rule selects no address in `polc trace` and `polc test`.

Fix: use `toCIDR`/`toCIDRSet` (or `fromCIDR`) for the addresses you want evaluated."
);
