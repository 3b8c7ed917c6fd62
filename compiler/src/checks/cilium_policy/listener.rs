//! `listener` (redirect to a custom Envoy listener) is egress-only and cannot be combined with
//! L7 rules; `serverNames` cannot be combined with L7 rules unless the proxy terminates TLS.
//!
//! Fix: move the listener to an egress rule and drop its L7 rules; add `terminatingTLS` or drop
//! the L7 rules next to `serverNames`.

use super::Element;
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    LISTENER_ON_INGRESS,
    "PLC3050",
    "listener-on-ingress",
    Error,
    "`listener` is only supported on egress",
    "Redirecting traffic to a custom Envoy listener is only supported for egress; Cilium refuses the policy otherwise (\"Listener is not allowed on ingress\").

Fix: move the port rule with `listener` into an `egress` rule."
);

code!(
    LISTENER_WITH_L7_RULES,
    "PLC3051",
    "listener-with-l7-rules",
    Error,
    "`listener` cannot be combined with L7 `rules`",
    "A custom Envoy listener does its own processing; Cilium cannot enforce L7 rules on it and refuses the policy (\"Listener is not allowed with L7 rules\").

Fix: remove `rules` from this port rule, or remove `listener`."
);

code!(
    SERVER_NAMES_WITH_L7_RULES,
    "PLC3052",
    "server-names-with-l7-rules",
    Error,
    "`serverNames` is combined with L7 `rules` but TLS is not terminated",
    "To apply L7 rules to TLS traffic the proxy must terminate TLS (`terminatingTLS`); Cilium refuses `serverNames` together with L7 rules otherwise (\"ServerNames are not allowed with L7 rules without TLS termination\").

Fix: add `terminatingTLS` (and usually `originatingTLS`), or keep only `serverNames` to filter on SNI."
);

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    for (path, port_rule) in element.port_rules() {
        let has_l7 = port_rule.rules.as_ref().is_some_and(|rules| !rules.is_empty());
        if let Some(listener) = &port_rule.listener {
            if element.is_ingress() {
                cx.report_key(&LISTENER_ON_INGRESS, &path.key("listener"), format!("listener `{}` cannot be used on ingress", listener.name)).help =
                    Some("move this port rule into an `egress` rule".to_owned());
            }
            if has_l7 {
                cx.report_key(&LISTENER_WITH_L7_RULES, &path.key("rules"), format!("L7 rules cannot be combined with listener `{}`", listener.name)).help =
                    Some("remove `rules`, or remove `listener`".to_owned());
            }
        }
        if has_l7 && port_rule.server_names.as_ref().is_some_and(|names| !names.is_empty()) && port_rule.terminating_tls.is_none() {
            cx.report_key(&SERVER_NAMES_WITH_L7_RULES, &path.key("serverNames"), "`serverNames` with L7 rules needs `terminatingTLS`").help =
                Some("add `terminatingTLS` so the proxy can read the requests, or remove the L7 rules".to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    const LISTENER: &str = "listener: {envoyConfig: {kind: CiliumEnvoyConfig, name: envoy}, name: proxy}";

    #[test]
    fn listener_on_ingress_is_an_error() {
        let text = cnp(&format!("  endpointSelector: {{}}\n  ingress:\n  - toPorts:\n    - ports: [{{port: \"80\", protocol: TCP}}]\n      {LISTENER}\n"));
        assert_eq!(codes(&text), vec![("PLC3050", 11)]);
    }

    #[test]
    fn listener_with_l7_rules_is_an_error() {
        let text = cnp(&format!(
            "  endpointSelector: {{}}\n  egress:\n  - toPorts:\n    - ports: [{{port: \"80\", protocol: TCP}}]\n      {LISTENER}\n      rules: {{http: [{{}}]}}\n"
        ));
        assert_eq!(codes(&text), vec![("PLC3051", 12)]);
    }

    #[test]
    fn listener_on_egress_is_fine() {
        let text = cnp(&format!("  endpointSelector: {{}}\n  egress:\n  - toPorts:\n    - ports: [{{port: \"80\", protocol: TCP}}]\n      {LISTENER}\n"));
        assert_eq!(codes(&text), vec![]);
    }

    #[test]
    fn server_names_with_l7_rules_need_tls_termination() {
        let body = "  endpointSelector: {}\n  egress:\n  - toPorts:\n    - ports: [{port: \"443\", protocol: TCP}]\n      serverNames: [api.example.com]\n      rules: {http: [{}]}\n";
        assert_eq!(codes(&cnp(body)), vec![("PLC3052", 11)]);
        let terminated = format!("{body}      terminatingTLS: {{secret: {{name: tls}}}}\n");
        assert_eq!(codes(&cnp(&terminated)), vec![]);
    }
}
