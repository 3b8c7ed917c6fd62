//! ICMP rules: `icmps` cannot share a rule element with `toPorts`, and each type is a number
//! from 0 to 255 or a name Cilium knows for the field's family.
//!
//! Fix: put ICMP and port rules in separate elements; use a number or a name of the family.

use super::Element;
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::{IcmpFamily, IcmpType};

code!(
    ICMP_WITH_TO_PORTS,
    "PLC3060",
    "icmp-with-to-ports",
    Error,
    "`icmps` and `toPorts` are given in the same rule element",
    "Cilium refuses a rule element that has both (\"the ICMPs block may only be present without ToPorts. Define a separate rule to use ToPorts\").

Example:
  ingress:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]
    icmps: [{fields: [{type: EchoRequest}]}]

Fix: write two elements with the same peers, one with `toPorts` and one with `icmps`."
);

code!(
    ICMP_TYPE_UNKNOWN,
    "PLC3061",
    "icmp-type-unknown",
    Error,
    "an ICMP type is not a number from 0 to 255 nor a type name of its family",
    "An ICMP type is a number from 0 to 255 or a CamelCase name; the names differ between ICMPv4 and ICMPv6 (`PacketTooBig` is ICMPv6 only, `Timestamp` ICMPv4 only, and `EchoRequest` is 8 in ICMPv4 but 128 in ICMPv6). The `family` field (default `IPv4`) decides which table is used, and Cilium refuses a name that is not in it (\"ICMP type ... not found\"). The CRD's pattern misspells `ExtendedEchoReply` as `ExtendedEcho Reply`, so that name is rejected by the API server: use its number.

Fix: use a name of the family, add `family: IPv6`, or give the number."
);

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    let Some((icmps_path, icmps)) = element.icmps() else { return };
    if !icmps.is_empty() && element.to_ports_count().is_some_and(|count| count > 0) {
        cx.report_key(&ICMP_WITH_TO_PORTS, &icmps_path, format!("this `{}` item has both `icmps` and `toPorts`", element.section())).help =
            Some("write two items with the same peers: one with `toPorts`, one with `icmps`".to_owned());
    }
    for (rule_index, icmp_rule) in icmps.iter().enumerate() {
        for (field_index, field) in icmp_rule.fields.iter().flatten().enumerate() {
            let type_path = icmps_path.index(rule_index).key("fields").index(field_index).key("type");
            let family = field.family();
            let other = match family {
                IcmpFamily::IPv4 => IcmpFamily::IPv6,
                IcmpFamily::IPv6 => IcmpFamily::IPv4,
            };
            if field.icmp_type.number(family).is_some() {
                if let IcmpType::Name(name) = &field.icmp_type
                    && name == "ExtendedEchoReply"
                {
                    let number = family.type_number(name).unwrap_or_default();
                    cx.report(&ICMP_TYPE_UNKNOWN, &type_path, "the CRD's pattern misspells `ExtendedEchoReply`, so the API server rejects this name").help =
                        Some(format!("write the number instead: `type: {number}`"));
                }
                continue;
            }
            let (message, help) = match &field.icmp_type {
                IcmpType::Number(number) => {
                    (format!("ICMP type `{number}` is out of range: types go from 0 to 255"), "use a type number from 0 to 255".to_owned())
                }
                IcmpType::Name(name) if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() => {
                    let trimmed = name.trim_start_matches('0');
                    match trimmed.parse::<u8>() {
                        Ok(number) if trimmed.len() < name.len() => {
                            (format!("ICMP type `{name}` has a leading zero, which the CRD's pattern does not allow"), format!("write `type: {number}`"))
                        }
                        _ => (format!("ICMP type `{name}` is out of range: types go from 0 to 255"), "use a type number from 0 to 255".to_owned()),
                    }
                }
                IcmpType::Name(name) => match other.type_number(name) {
                    Some(number) => (
                        format!("`{name}` is an {} type, but this field's family is {}", other.as_str(), family.as_str()),
                        format!("add `family: {}` (it is type {number} there), or use the {} name", other.as_str(), family.as_str()),
                    ),
                    None => {
                        let names: Vec<&str> = family.type_names().iter().map(|(known, _)| *known).collect();
                        let guess = crate::schema_check::did_you_mean(name, names.iter().copied());
                        let help = match guess {
                            Some(guess) => format!("did you mean `{guess}`?"),
                            None => format!("{} type names: {}", family.as_str(), names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")),
                        };
                        (format!("`{name}` is not an {} type name", family.as_str()), help)
                    }
                },
            };
            cx.report(&ICMP_TYPE_UNKNOWN, &type_path, message).help = Some(help);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn icmps_with_to_ports_is_an_error() {
        let text = cnp("  endpointSelector: {}\n  ingress:\n  - toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n    icmps: [{fields: [{type: 8}]}]\n");
        assert_eq!(codes(&text), vec![("PLC3060", 10)]);
    }

    #[test]
    fn unknown_types_are_errors() {
        let text = cnp(
            "  endpointSelector: {}\n  egress:\n  - icmps:\n    - fields:\n      - type: PacketTooBig\n      - {family: IPv6, type: Timestamp}\n      - type: 256\n      - type: EchoRequets\n      - type: ExtendedEchoReply\n      - type: \"08\"\n      - type: \"300\"\n",
        );
        let lines: Vec<u32> = (11..=17).collect();
        assert_eq!(codes(&text), lines.iter().map(|line| ("PLC3061", *line)).collect::<Vec<_>>());
    }

    #[test]
    fn known_types_are_fine() {
        let text = cnp(
            "  endpointSelector: {}\n  egress:\n  - icmps:\n    - fields:\n      - type: EchoRequest\n      - {family: IPv6, type: PacketTooBig}\n      - type: 0\n      - type: \"255\"\n",
        );
        assert_eq!(codes(&text), vec![]);
    }
}
