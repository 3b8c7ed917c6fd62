//! L2 announcement policies that announce no address.
//!
//! A CiliumL2AnnouncementPolicy announces a service's load balancer addresses only with
//! `loadBalancerIPs: true` and its external IPs only with `externalIPs: true`; both default to
//! false. With neither set, the policy selects nodes and services but answers no ARP or NDP
//! request. Fix: set `loadBalancerIPs: true` (and/or `externalIPs: true`).

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumL2AnnouncementPolicy;
use crate::path::Path;

code!(NOTHING_ANNOUNCED, "PLC5102", "l2-nothing-announced", Warning, "an L2 announcement policy announces neither load balancer IPs nor external IPs",
"`loadBalancerIPs` and `externalIPs` choose which addresses of the selected services are announced; both are false when absent. A policy with neither set to true has no effect.

Example:
  spec:
    interfaces: [^eth0$]      # nothing is announced

Fix: add `loadBalancerIPs: true` to announce LoadBalancer addresses (the usual case), and `externalIPs: true` for `spec.externalIPs` of services.");

/// Reports a policy where neither `loadBalancerIPs` nor `externalIPs` is true.
pub fn check(policy: &CiliumL2AnnouncementPolicy, cx: &mut CheckCx<'_>) {
    let spec = policy.spec.as_ref();
    let load_balancer_ips = spec.and_then(|spec| spec.load_balancer_ips).unwrap_or(false);
    let external_ips = spec.and_then(|spec| spec.external_ips).unwrap_or(false);
    if load_balancer_ips || external_ips {
        return;
    }
    let path = match spec {
        Some(spec) if spec.load_balancer_ips.is_some() => Path::root().key("spec").key("loadBalancerIPs"),
        Some(spec) if spec.external_ips.is_some() => Path::root().key("spec").key("externalIPs"),
        Some(_) => Path::root().key("spec"),
        None => Path::root().key("kind"),
    };
    cx.report(&NOTHING_ANNOUNCED, &path, "this policy announces nothing: neither `loadBalancerIPs` nor `externalIPs` is true").help =
        Some("add `loadBalancerIPs: true` under `spec` (and `externalIPs: true` to announce external IPs)".to_owned());
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(spec: &str) -> Vec<(&'static str, u32)> {
        let text = format!("apiVersion: cilium.io/v2alpha1\nkind: CiliumL2AnnouncementPolicy\nmetadata:\n  name: l2\n{spec}");
        let mut sources = SourceMap::default();
        sources.add("l2.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn announcing_policies_are_clean() {
        assert!(lint("spec:\n  loadBalancerIPs: true\n").is_empty());
        assert!(lint("spec:\n  externalIPs: true\n  loadBalancerIPs: false\n").is_empty());
    }

    #[test]
    fn silent_policies_warn() {
        assert_eq!(lint("spec:\n  loadBalancerIPs: false\n"), vec![("PLC5102", 6)]);
        assert_eq!(lint("spec:\n  interfaces: [^eth0$]\n"), vec![("PLC5102", 6)]);
        assert_eq!(lint(""), vec![("PLC5102", 2)]);
    }
}
