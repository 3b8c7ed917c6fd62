//! `PLC4009`: a Gateway address that is not of its type (an `IPAddress` that is not an IP
//! address, a `Hostname` that is not a host name); `PLC4010`: the same address requested
//! twice.
//!
//! The Gateway CRD rejects both. Fix: correct the value or its `type`, and list each address
//! once.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::model::gateway::{Gateway, HOSTNAME_PATTERN};
use crate::path::Path;

code!(
    INVALID_GATEWAY_ADDRESS,
    "PLC4009",
    "invalid-gateway-address",
    Error,
    "a Gateway address does not have the form its type requires",
    "`spec.addresses[].type` defaults to `IPAddress`, whose value must be an IPv4 or IPv6 address; a `Hostname` value must be a DNS name (optionally with a leading `*.`). The Gateway CRD rejects other values.

Example:
  addresses:
  - value: gateway.example.com      # type defaults to IPAddress

Fix: write the address, or set `type: Hostname` for a name."
);

code!(
    DUPLICATE_GATEWAY_ADDRESS,
    "PLC4010",
    "duplicate-gateway-address",
    Error,
    "a Gateway requests the same address twice",
    "Each `IPAddress` and each `Hostname` value may appear once in `spec.addresses`; the Gateway CRD rejects repeats.

Fix: remove the repeated address."
);

fn is_ip(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok()
}

static HOSTNAME: LazyLock<Option<regex::Regex>> = LazyLock::new(|| regex::Regex::new(HOSTNAME_PATTERN).ok());

fn is_hostname(text: &str) -> bool {
    HOSTNAME.as_ref().is_none_or(|pattern| pattern.is_match(text))
}

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    let addresses = Path::root().key("spec").key("addresses");
    let mut first: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (index, address) in gateway.spec.addresses.iter().enumerate() {
        let address_type = address.address_type();
        let Some(value) = address.value.as_deref() else { continue };
        let value_path = addresses.index(index).key("value");
        match address_type {
            "IPAddress" if !is_ip(value) => {
                let defaulted = if address.address_type.is_none() { " (the default type)" } else { "" };
                let message = format!("`{value}` is not an IP address, as address type `IPAddress`{defaulted} requires");
                let looks_numeric = value.chars().all(|c| c.is_ascii_digit() || c == '.');
                let help = if is_hostname(value) && !value.is_empty() && !looks_numeric {
                    "for a host name, set `type: Hostname`"
                } else {
                    "write an IPv4 address such as `192.0.2.10` or an IPv6 address such as `2001:db8::10`"
                };
                cx.report(&INVALID_GATEWAY_ADDRESS, &value_path, message).help = Some(help.to_owned());
                continue;
            }
            "Hostname" if !value.is_empty() && !is_hostname(value) => {
                let message = format!("`{value}` is not a host name, as address type `Hostname` requires");
                let help = if is_ip(value) { "for an IP address, use `type: IPAddress`" } else { crate::model::gateway::HOSTNAME_HELP };
                cx.report(&INVALID_GATEWAY_ADDRESS, &value_path, message).help = Some(help.to_owned());
                continue;
            }
            _ => {}
        }
        if !matches!(address_type, "IPAddress" | "Hostname") {
            continue;
        }
        match first.get(&(address_type, value)) {
            Some(&earlier) => {
                let related = Related { location: cx.location(&addresses.index(earlier).key("value")), message: "first requested here".to_owned() };
                let message = format!("address `{value}` is requested twice");
                let diagnostic = cx.report(&DUPLICATE_GATEWAY_ADDRESS, &value_path, message);
                diagnostic.help = Some("remove the repeated address".to_owned());
                diagnostic.related.push(related);
            }
            None => {
                first.insert((address_type, value), index);
            }
        }
    }
}
