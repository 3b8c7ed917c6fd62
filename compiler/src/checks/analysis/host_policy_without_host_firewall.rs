//! `PLC7009`: a `nodeSelector` (host) policy has no effect because polc was told the host
//! firewall is off (`--host-firewall=false`). Fix: enable it, or drop the host policy.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    HOST_POLICY_WITHOUT_HOST_FIREWALL,
    "PLC7009",
    "host-policy-without-host-firewall",
    Note,
    "a host policy has no effect without the host firewall",
    "Rules with `nodeSelector` apply to the nodes themselves, and only when the agent runs with `enable-host-firewall`. polc assumes the host firewall is on (a host policy would be pointless otherwise) unless told `--host-firewall=false`; with it off, host policies are not enforced.

Fix: enable the host firewall, or remove the host policy."
);
