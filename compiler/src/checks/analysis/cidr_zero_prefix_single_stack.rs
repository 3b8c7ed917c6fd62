//! `PLC7012`: in a single-stack cluster every `/0` prefix is the whole world, so a rule with
//! both `0.0.0.0/0` (with `except`) and `::/0` selects the excepted IPv4 addresses through the
//! `::/0` entry. Fix: drop the entry of the family the cluster does not run, or give it the same
//! exceptions; in a dual-stack cluster, tell polc so (`--dual-stack`).

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    CIDR_ZERO_PREFIX_SINGLE_STACK,
    "PLC7012",
    "cidr-zero-prefix-single-stack",
    Warning,
    "another `/0` entry of the rule selects what this `except` keeps out",
    "Cilium turns a `/0` prefix into a world label. In a dual-stack cluster that is the label of the prefix's family (`world-ipv4`, `world-ipv6`); in a single-stack cluster (Cilium's default) it is `world`, every outside address of both families. So when one rule lists `0.0.0.0/0` with exceptions and also `::/0`, the `::/0` entry selects the excepted IPv4 addresses again.

Example (single-stack cluster):
  toCIDRSet:
  - cidr: 0.0.0.0/0
    except: [10.0.0.0/8]
  - cidr: ::/0                # also every IPv4 address, 10.0.0.0/8 included

Fix: remove the entry of the family the cluster does not run, or give both entries the same exceptions. If the cluster is dual-stack, run polc with `--dual-stack`."
);
