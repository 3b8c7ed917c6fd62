//! `PLC7002`: a `toFQDNs` rule selects no address offline: Cilium learns the addresses of
//! FQDN peers from DNS answers at run time, and polc has none. Flows to those names are
//! therefore decided by the other rules. Nothing to fix; the note says why a flow to such an
//! address is denied by polc.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    FQDN_SELECTS_NOTHING,
    "PLC7002",
    "fqdn-selects-nothing",
    Note,
    "a `toFQDNs` rule selects no address until DNS answers are known",
    "Cilium resolves `toFQDNs` names through its DNS proxy: only the addresses seen in DNS answers, while they are valid, are allowed. polc evaluates offline and knows no DNS answers, so in `polc trace` and `polc test` such a rule allows no address; flows to those names are decided by the other rules (usually the default deny).

Example:
  egress:
  - toFQDNs: [{matchName: api.github.com}]

Nothing to fix. To test traffic to such a destination, test the DNS lookup (a flow with `dns: {query: ...}` to the DNS server) or give a `toCIDR` rule for the address."
);
