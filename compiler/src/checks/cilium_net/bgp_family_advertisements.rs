//! BGP v2 peer config families whose `advertisements` selector matches no CiliumBGPAdvertisement
//! among the inputs.
//!
//! A CiliumBGPPeerConfig family sends the routes of the CiliumBGPAdvertisements whose labels its
//! `advertisements` selector matches. A selector that matches none (often a label typo such as
//! `advertise: bgp` against `advertise: "bgp-v2"`) means the session comes up and advertises
//! nothing. polc reports it when the inputs contain at least one CiliumBGPAdvertisement. Fix:
//! make the selector match the advertisements' `metadata.labels`.

use std::collections::BTreeMap;

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::kinds::Resource;
use crate::path::Path;

code!(FAMILY_SELECTS_NO_ADVERTISEMENT, "PLC5312", "bgp-family-selects-no-advertisement", Warning, "a BGP peer config family selects no CiliumBGPAdvertisement among the inputs",
"`spec.families[].advertisements` of a CiliumBGPPeerConfig is a label selector over CiliumBGPAdvertisement objects. When it matches none of them, peers using this config advertise nothing in that family.

polc reports this when the inputs contain CiliumBGPAdvertisements but none matches; with no CiliumBGPAdvertisement in the inputs it assumes they are applied separately.

Example:
  families:
  - afi: ipv4
    safi: unicast
    advertisements:
      matchLabels: {advertise: bgp}     # the advertisement is labeled `advertise: bgp-v2`

Fix: make the selector match the `metadata.labels` of the advertisements to send.");

/// Reports family selectors that match no advertisement.
pub fn check(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let advertisements: Vec<(&str, &BTreeMap<String, String>)> = objects
        .iter()
        .filter(|object| matches!(object.resource, Resource::CiliumBGPAdvertisement(_)))
        .map(|object| (object.name(), &object.resource.metadata().labels))
        .collect();
    if advertisements.is_empty() {
        return;
    }
    for object in objects {
        let Resource::CiliumBGPPeerConfig(config) = &object.resource else { continue };
        for (index, family) in config.spec.families.iter().enumerate() {
            let Some(selector) = &family.advertisements else { continue };
            if advertisements.iter().any(|(_, labels)| selector.matches(labels)) {
                continue;
            }
            let path = Path::root().key("spec").key("families").index(index).key("advertisements");
            let labeled: Vec<String> = advertisements
                .iter()
                .filter(|(_, labels)| !labels.is_empty())
                .map(|(name, labels)| format!("`{name}` ({})", labels.iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(", ")))
                .collect();
            let help = if labeled.is_empty() {
                "no CiliumBGPAdvertisement in the inputs has labels: add `metadata.labels` that this selector matches".to_owned()
            } else {
                format!("match the labels of an advertisement: {}", labeled.join("; "))
            };
            let message = format!(
                "this `advertisements` selector of CiliumBGPPeerConfig `{}` matches no CiliumBGPAdvertisement: the family advertises nothing",
                object.name()
            );
            diagnostics.push(object.diagnostic(&FAMILY_SELECTS_NO_ADVERTISEMENT, &path, message).with_help(help));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    const PEER: &str = "apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: peer\nspec:\n  families:\n  - afi: ipv4\n    safi: unicast\n    advertisements:\n      matchLabels:\n        advertise: bgp\n  - afi: ipv6\n    safi: unicast\n";

    fn advertisement(label: &str) -> String {
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: adverts\n  labels:\n    advertise: {label}\nspec:\n  advertisements:\n  - advertisementType: PodCIDR\n"
        )
    }

    fn lint(documents: &[String]) -> Vec<(&'static str, u32)> {
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", documents.join("---\n"));
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    #[test]
    fn matching_or_absent_advertisements_are_clean() {
        assert!(lint(&[PEER.to_owned(), advertisement("bgp")]).is_empty());
        assert!(lint(&[PEER.to_owned()]).is_empty());
    }

    #[test]
    fn unmatched_selectors_warn() {
        assert_eq!(lint(&[PEER.to_owned(), advertisement("bgp-v2")]), vec![("PLC5312", 10)]);
    }
}
