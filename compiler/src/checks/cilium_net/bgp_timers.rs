//! BGP keepalive timers larger than the hold timer.
//!
//! A BGP speaker must send a KEEPALIVE before its peer's hold timer expires, so the keepalive
//! interval cannot exceed the hold time. The `CiliumBGPPeerConfig` CRD enforces
//! `keepAliveTimeSeconds <= holdTimeSeconds` with a CEL rule on `spec.timers` (the API server
//! fills the defaults, keepalive 30 and hold 90, before it evaluates the rule), and BGP v1
//! checks the same rule per neighbor when it reads a `CiliumBGPPeeringPolicy`. Fix: lower the
//! keepalive time (a third of the hold time is usual) or raise the hold time.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::{BgpNeighbor, CiliumBGPPeerConfig};
use crate::path::Path;

code!(KEEPALIVE_EXCEEDS_HOLD, "PLC5201", "bgp-keepalive-exceeds-hold", Error, "the BGP keepalive time is larger than the hold time",
"`keepAliveTimeSeconds` must not be larger than `holdTimeSeconds`: the peer would tear the session down before the next keepalive arrives. Absent values count with their defaults, keepalive 30 and hold 90, so `holdTimeSeconds: 9` alone breaks the rule.

CiliumBGPPeerConfig enforces this with a CEL rule (`keepAliveTimeSeconds can not be larger than holdTimeSeconds`); BGP v1 rejects such a neighbor when it validates the CiliumBGPPeeringPolicy.

Example:
  timers:
    holdTimeSeconds: 9          # keepAliveTimeSeconds defaults to 30

Fix: set `keepAliveTimeSeconds` to at most `holdTimeSeconds`; a third of it is usual (`holdTimeSeconds: 9`, `keepAliveTimeSeconds: 3`).");

const DEFAULT_KEEPALIVE: i32 = 30;
const DEFAULT_HOLD: i32 = 90;

fn check_pair(keepalive: Option<i32>, hold: Option<i32>, path: &Path, cx: &mut CheckCx<'_>) {
    let keepalive_value = keepalive.unwrap_or(DEFAULT_KEEPALIVE);
    let hold_value = hold.unwrap_or(DEFAULT_HOLD);
    if keepalive_value <= hold_value {
        return;
    }
    let shown = |name: &str, value: i32, given: Option<i32>| {
        if given.is_some() { format!("`{name}` ({value})") } else { format!("`{name}` ({value}, the default)") }
    };
    let message = format!(
        "{} is larger than {}: the keepalive time cannot exceed the hold time",
        shown("keepAliveTimeSeconds", keepalive_value, keepalive),
        shown("holdTimeSeconds", hold_value, hold)
    );
    let at = if keepalive.is_some() { path.key("keepAliveTimeSeconds") } else { path.key("holdTimeSeconds") };
    let suggestion = (hold_value / 3).max(1);
    cx.report(&KEEPALIVE_EXCEEDS_HOLD, &at, message).help =
        Some(format!("set `keepAliveTimeSeconds: {suggestion}` (a third of the hold time), or raise `holdTimeSeconds` to at least {keepalive_value}"));
}

/// The CEL rule on `spec.timers` of a CiliumBGPPeerConfig.
pub fn check_peer_config(config: &CiliumBGPPeerConfig, cx: &mut CheckCx<'_>) {
    if let Some(timers) = &config.spec.timers {
        check_pair(timers.keep_alive_time_seconds, timers.hold_time_seconds, &Path::root().key("spec").key("timers"), cx);
    }
}

/// The same rule on one BGP v1 neighbor at `path`.
pub fn check_v1_neighbor(neighbor: &BgpNeighbor, path: &str, cx: &mut CheckCx<'_>) {
    check_pair(neighbor.keep_alive_time_seconds, neighbor.hold_time_seconds, &Path::parse(path), cx);
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(text: String) -> Vec<(&'static str, u32, String)> {
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text);
        parse(&sources, &Options::default())
            .diagnostics
            .iter()
            .map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line), d.message.clone()))
            .collect()
    }

    fn peer_config(timers: &str) -> String {
        format!("apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: peer\nspec:\n  timers:\n{timers}")
    }

    #[test]
    fn timers_within_the_rule_are_clean() {
        assert!(lint(peer_config("    holdTimeSeconds: 9\n    keepAliveTimeSeconds: 3\n")).is_empty());
        assert!(lint(peer_config("    holdTimeSeconds: 30\n")).is_empty());
        assert!(lint(peer_config("    connectRetryTimeSeconds: 5\n")).is_empty());
    }

    #[test]
    fn keepalive_above_hold_is_an_error() {
        let found = lint(peer_config("    holdTimeSeconds: 9\n    keepAliveTimeSeconds: 10\n"));
        assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), vec![("PLC5201", 8)]);
    }

    #[test]
    fn defaults_count() {
        let found = lint(peer_config("    holdTimeSeconds: 9\n"));
        assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), vec![("PLC5201", 7)]);
        assert_eq!(found[0].2, "`keepAliveTimeSeconds` (30, the default) is larger than `holdTimeSeconds` (9): the keepalive time cannot exceed the hold time");
        let found = lint(peer_config("    keepAliveTimeSeconds: 100\n"));
        assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), vec![("PLC5201", 7)]);
    }

    #[test]
    fn v1_neighbors_follow_the_same_rule() {
        let policy = "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n  - localASN: 64512\n    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 64512\n      holdTimeSeconds: 9\n      keepAliveTimeSeconds: 3\n    - peerAddress: 10.0.0.2/32\n      peerASN: 64512\n      holdTimeSeconds: 20\n";
        let found = lint(policy.to_owned());
        assert_eq!(found.iter().map(|f| (f.0, f.1)).collect::<Vec<_>>(), vec![("PLC5201", 15)]);
    }
}
