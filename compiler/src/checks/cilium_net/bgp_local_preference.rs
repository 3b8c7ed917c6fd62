//! BGP v2 local preferences outside the 32-bit range of the attribute.
//!
//! `attributes.localPreference` of a CiliumBGPAdvertisement is a 64-bit integer in the CRD,
//! with no bounds, but the BGP LOCAL_PREF attribute is an unsigned 32-bit number (RFC 4271):
//! Cilium truncates anything outside 0..4294967295 to 32 bits, so the value announced is not
//! the one written. Fix: use a value from 0 to 4294967295.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_net::CiliumBGPAdvertisement;
use crate::path::Path;

code!(LOCAL_PREFERENCE_OUT_OF_RANGE, "PLC5313", "bgp-local-preference-out-of-range", Warning, "a BGP local preference does not fit the 32-bit attribute",
"BGP's LOCAL_PREF path attribute is an unsigned 32-bit number. The CiliumBGPAdvertisement CRD accepts any 64-bit integer for `attributes.localPreference`, and the value is cut to 32 bits when it is announced: `-1` becomes 4294967295, `4294967396` becomes 100.

Fix: use a value from 0 to 4294967295 (the default is 100; higher is preferred).");

/// Reports local preferences outside 0..=4294967295.
pub fn check(advertisement: &CiliumBGPAdvertisement, cx: &mut CheckCx<'_>) {
    for (index, item) in advertisement.spec.advertisements.iter().enumerate() {
        let Some(value) = item.attributes.as_ref().and_then(|attributes| attributes.local_preference) else { continue };
        if (0..=i64::from(u32::MAX)).contains(&value) {
            continue;
        }
        let path = Path::root().key("spec").key("advertisements").index(index).key("attributes").key("localPreference");
        let announced = value as u32;
        cx.report(&LOCAL_PREFERENCE_OUT_OF_RANGE, &path, format!("`{value}` does not fit the 32-bit local preference: it would be announced as {announced}"))
            .help = Some("use a value from 0 to 4294967295; 100 is the default and higher values are preferred".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    fn lint(value: &str) -> Vec<(&'static str, u32, String)> {
        let text = format!(
            "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: PodCIDR\n    attributes:\n      localPreference: {value}\n"
        );
        let mut sources = SourceMap::default();
        sources.add("bgp.yaml", text);
        parse(&sources, &Options::default())
            .diagnostics
            .iter()
            .map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line), d.message.clone()))
            .collect()
    }

    #[test]
    fn values_in_range_are_clean() {
        assert!(lint("0").is_empty());
        assert!(lint("150").is_empty());
        assert!(lint("4294967295").is_empty());
    }

    #[test]
    fn values_out_of_range_warn() {
        assert_eq!(lint("-1"), vec![("PLC5313", 9, "`-1` does not fit the 32-bit local preference: it would be announced as 4294967295".to_owned())]);
        assert_eq!(lint("4294967396").iter().map(|f| f.0).collect::<Vec<_>>(), vec!["PLC5313"]);
    }
}
