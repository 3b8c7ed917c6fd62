//! LB-IPAM pools whose ranges overlap another pool's.
//!
//! Cilium's operator compares the ranges of every pair of pools. When two pools overlap, it
//! marks the newer one (the later `metadata.creationTimestamp`) with the condition
//! `cilium.io/PoolConflict` (reason `cidr_overlap`) and disables all of its ranges, so that
//! pool hands out nothing until the overlap is gone. polc warns on the pool Cilium would mark.
//! Objects without a timestamp (or with equal ones) are ordered by their place in the inputs:
//! the later one counts as newer. Pools that already overlap themselves (`PLC5005`) are left
//! out, as Cilium leaves out pools it has already marked, and so are inputs with the same name
//! (two versions of one cluster-scoped object). Fix: make the pools disjoint.

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::kinds::Resource;
use crate::path::Path;

use super::ip_range::AddressRange;
use super::lb_ipam_overlap::{first_internal_overlap, pool_ranges};

code!(POOL_CONFLICT, "PLC5006", "lb-ipam-pool-conflict", Warning, "an LB-IPAM pool overlaps an older pool and gets no addresses",
"When the ranges of two CiliumLoadBalancerIPPools overlap, Cilium's operator marks the newer pool (by `metadata.creationTimestamp`) with the condition `cilium.io/PoolConflict`, reason `cidr_overlap`, and disables all its ranges: services that can only use that pool stay without an address.

polc decides which pool is newer from `creationTimestamp` when both have one; otherwise (no timestamp, or the same one) the pool that comes later in the inputs is taken as the newer one.

Example:
  name: blue-pool   blocks: [{cidr: 20.0.10.0/24}]
  name: red-pool    blocks: [{cidr: 20.0.10.0/24}]    # conflicts with blue-pool

Fix: give each pool its own addresses; use `serviceSelector` on one pool rather than two pools with the same block.");

/// Seconds and nanoseconds since the Unix epoch of an RFC 3339 timestamp
/// (`2024-05-01T10:00:00Z`, `2024-05-01T12:00:00.5+02:00`).
pub fn parse_timestamp(text: &str) -> Option<(i64, u32)> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if bytes.len() < 20 || bytes[4] != b'-' || bytes[7] != b'-' || !matches!(bytes[10], b'T' | b't' | b' ') || bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut nanos: u32 = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut value: u64 = 0;
        for (position, digit) in fraction.bytes().take(digits).enumerate() {
            if position < 9 {
                value = value * 10 + u64::from(digit - b'0');
            }
        }
        for _ in digits..9 {
            value *= 10;
        }
        nanos = u32::try_from(value).ok()?;
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            let hours: i64 = rest[1..3].parse().ok()?;
            let minutes: i64 = rest[4..6].parse().ok()?;
            sign * (hours * 3600 + minutes * 60)
        }
    };
    // Days from the civil date (proleptic Gregorian calendar).
    let shifted_year = if month <= 2 { year - 1 } else { year };
    let era = shifted_year.div_euclid(400);
    let year_of_era = shifted_year - era * 400;
    let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some((days * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds, nanos))
}

struct Pool<'a> {
    object: &'a Object,
    /// Position among all objects: the tie-breaker.
    position: usize,
    created: Option<(i64, u32)>,
    ranges: Vec<(usize, AddressRange)>,
}

/// Whether `a` is newer than `b`: the later timestamp when both are known and differ, else the
/// later position in the inputs.
fn is_newer(a: &Pool<'_>, b: &Pool<'_>) -> bool {
    match (a.created, b.created) {
        (Some(a_created), Some(b_created)) if a_created != b_created => a_created > b_created,
        _ => a.position > b.position,
    }
}

/// Warns on every pool that overlaps an older pool.
pub fn check(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let pools: Vec<Pool<'_>> = objects
        .iter()
        .enumerate()
        .filter_map(|(position, object)| match &object.resource {
            Resource::CiliumLoadBalancerIPPool(pool) => {
                let ranges = pool_ranges(pool);
                // A pool that conflicts with itself is already marked (PLC5005).
                if first_internal_overlap(&ranges).is_some() {
                    return None;
                }
                let created = pool.metadata.creation_timestamp.as_deref().and_then(parse_timestamp);
                Some(Pool { object, position, created, ranges })
            }
            _ => None,
        })
        .collect();
    for newer in &pools {
        // Two inputs with the same name are two versions of one object, not two pools.
        let others = pools.iter().filter(|other| !std::ptr::eq(*other, newer) && other.object.name() != newer.object.name());
        let older = others.filter(|other| is_newer(newer, other)).find_map(|older| {
            newer.ranges.iter().find_map(|(newer_block, newer_range)| {
                older
                    .ranges
                    .iter()
                    .find(|(_, older_range)| newer_range.overlaps(older_range))
                    .map(|(older_block, older_range)| (older, *newer_block, *newer_range, *older_block, *older_range))
            })
        });
        let Some((older, newer_block, newer_range, older_block, older_range)) = older else { continue };
        let blocks = Path::root().key("spec").key("blocks");
        let message = format!(
            "pool `{}` overlaps the older pool `{}`: range `{newer_range}` overlaps `{older_range}`; Cilium marks this pool with `cilium.io/PoolConflict` (reason `cidr_overlap`) and allocates nothing from it",
            newer.object.name(),
            older.object.name()
        );
        let help = if newer_range == older_range {
            "both pools have the same block: keep it in one pool, and use `serviceSelector` to choose which services get addresses from it".to_owned()
        } else {
            "give each pool its own addresses".to_owned()
        };
        diagnostics.push(
            newer
                .object
                .diagnostic(&POOL_CONFLICT, &blocks.index(newer_block), message)
                .with_help(help)
                .with_related(older.object.location(&blocks.index(older_block)), format!("range of the older pool `{}`", older.object.name())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;
    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(parse_timestamp("2024-03-01T00:00:00Z"), Some((1_709_251_200, 0)));
        assert_eq!(parse_timestamp("2024-03-01T02:00:00.25+02:00"), Some((1_709_251_200, 250_000_000)));
        assert_eq!(parse_timestamp("2024-02-30"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("2024-03-01T00:00:00"), None);
    }

    fn pool(name: &str, created: Option<&str>, cidr: &str) -> String {
        let created = created.map(|c| format!("  creationTimestamp: \"{c}\"\n")).unwrap_or_default();
        format!("apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: {name}\n{created}spec:\n  blocks:\n  - cidr: {cidr}\n")
    }

    fn lint(documents: &[String]) -> Vec<(String, u32, u32)> {
        let mut sources = SourceMap::default();
        for (index, document) in documents.iter().enumerate() {
            sources.add(format!("pool-{index}.yaml"), document.clone());
        }
        parse(&sources, &Options::default())
            .diagnostics
            .iter()
            .map(|d| {
                let location = d.location.as_ref().expect("located");
                (format!("{}:{}", d.code.id, d.message.split('`').nth(1).unwrap_or_default()), location.source.0, location.span.start.line)
            })
            .collect()
    }

    #[test]
    fn disjoint_pools_are_clean() {
        assert!(lint(&[pool("a", None, "10.0.0.0/24"), pool("b", None, "10.0.1.0/24")]).is_empty());
    }

    #[test]
    fn the_later_input_is_newer_without_timestamps() {
        assert_eq!(lint(&[pool("a", None, "10.0.0.0/24"), pool("b", None, "10.0.0.128/25")]), vec![("PLC5006:b".to_owned(), 1, 7)]);
    }

    #[test]
    fn the_later_timestamp_is_newer() {
        let found = lint(&[pool("a", Some("2024-05-02T00:00:00Z"), "10.0.0.0/24"), pool("b", Some("2024-05-01T00:00:00Z"), "10.0.0.0/24")]);
        assert_eq!(found, vec![("PLC5006:a".to_owned(), 0, 8)]);
    }

    #[test]
    fn equal_timestamps_fall_back_to_input_order() {
        let found = lint(&[pool("a", Some("2024-05-01T00:00:00Z"), "10.0.0.0/24"), pool("b", Some("2024-05-01T00:00:00Z"), "10.0.0.7/32")]);
        assert_eq!(found, vec![("PLC5006:b".to_owned(), 1, 8)]);
    }

    #[test]
    fn two_versions_of_one_pool_do_not_conflict() {
        assert!(lint(&[pool("a", None, "10.0.0.0/24"), pool("a", None, "10.0.0.0/24")]).is_empty());
    }

    #[test]
    fn a_pool_conflicting_with_itself_marks_no_other_pool() {
        let conflicted =
            "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: a\nspec:\n  blocks:\n  - cidr: 10.0.0.0/24\n  - cidr: 10.0.0.0/25\n"
                .to_owned();
        let found = lint(&[conflicted, pool("b", None, "10.0.0.0/24")]);
        assert_eq!(found.iter().map(|f| f.0.split(':').next().unwrap_or_default()).collect::<Vec<_>>(), vec!["PLC5005"]);
    }
}
