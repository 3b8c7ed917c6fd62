//! `PLC4006`: two listeners of one Gateway have the same port, protocol and hostname.
//!
//! Traffic must select exactly one listener; the Gateway CRD rejects listeners that cannot be
//! told apart. Fix: give one of them another port or hostname, or merge them.

use std::collections::BTreeMap;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::model::gateway::Gateway;
use crate::path::Path;

code!(
    LISTENERS_NOT_DISTINCT,
    "PLC4006",
    "listeners-not-distinct",
    Error,
    "two listeners of a Gateway have the same port, protocol and hostname",
    "Every request or connection must select exactly one listener. Two listeners with the same port, protocol and hostname (or both without hostname) cannot be told apart, and the Gateway CRD rejects them.

Example:
  - {name: web, protocol: HTTP, port: 80}
  - {name: web-2, protocol: HTTP, port: 80}

Fix: give one listener a different `hostname` or `port`, or merge the two; routes can select several listeners with several `parentRefs`."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    let mut first: BTreeMap<(i32, &str, Option<&str>), usize> = BTreeMap::new();
    for (index, listener) in gateway.spec.listeners.iter().enumerate() {
        let key = (listener.port, listener.protocol.as_str(), listener.hostname());
        let Some(&earlier) = first.get(&key) else {
            first.insert(key, index);
            continue;
        };
        let earlier_name = &gateway.spec.listeners[earlier].name;
        let hosts = match listener.hostname() {
            Some(hostname) => format!("host name `{hostname}`"),
            None => "every host name".to_owned(),
        };
        let message = format!(
            "listeners `{earlier_name}` and `{}` both serve `{}` on port {} for {hosts}: they cannot be told apart",
            listener.name, listener.protocol, listener.port
        );
        let listeners = Path::root().key("spec").key("listeners");
        let related = Related { location: cx.location(&listeners.index(earlier)), message: format!("listener `{earlier_name}` defined here") };
        let diagnostic = cx.report(&LISTENERS_NOT_DISTINCT, &listeners.index(index), message);
        diagnostic.help = Some("give one of them a different `hostname` or `port`, or merge them into one listener".to_owned());
        diagnostic.related.push(related);
    }
}
