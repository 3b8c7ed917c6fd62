//! Inclusive address ranges of LB-IPAM blocks, as Cilium reads them: a `cidr` covers its
//! masked prefix; `start` alone is one address; `start`–`stop` is inclusive.
//!
//! Not a check: the helpers the LB-IPAM checks share.

use std::fmt;
use std::net::IpAddr;

use crate::model::cilium_net::IpBlock;
use crate::schema_check::parse_cidr;

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

/// An inclusive range of addresses of one family, as integers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddressRange {
    pub family: Family,
    pub first: u128,
    pub last: u128,
    /// Whether the range comes from a `cidr` (only those lose their first and last address
    /// with `allowFirstLastIPs: No`).
    pub from_cidr: bool,
}

impl AddressRange {
    /// Two ranges overlap when `first1 <= last2 && first2 <= last1` (same family).
    pub fn overlaps(&self, other: &AddressRange) -> bool {
        self.family == other.family && self.first <= other.last && other.first <= self.last
    }

    /// The number of addresses, saturating at `u128::MAX`.
    pub fn size(&self) -> u128 {
        (self.last - self.first).saturating_add(1)
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = address_from(self.family, self.first);
        let last = address_from(self.family, self.last);
        if self.first == self.last { write!(f, "{first}") } else { write!(f, "{first}-{last}") }
    }
}

/// The integer value and family of an address.
pub fn address_value(address: IpAddr) -> (Family, u128) {
    match address {
        IpAddr::V4(v4) => (Family::V4, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (Family::V6, u128::from(v6)),
    }
}

/// The address of an integer value.
pub fn address_from(family: Family, value: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(value).unwrap_or(u32::MAX))),
        Family::V6 => IpAddr::V6(std::net::Ipv6Addr::from(value)),
    }
}

/// The range a CIDR covers, host bits ignored; `None` when it does not parse.
pub fn cidr_range(text: &str) -> Option<AddressRange> {
    let (address, length) = parse_cidr(text)?;
    let (family, value) = address_value(address);
    let bits: u32 = if family == Family::V4 { 32 } else { 128 };
    let host_bits = bits - u32::from(length);
    let host_mask: u128 = match host_bits {
        0 => 0,
        128.. => u128::MAX,
        bits => (1u128 << bits) - 1,
    };
    Some(AddressRange { family, first: value & !host_mask, last: (value & !host_mask) | host_mask, from_cidr: true })
}

/// The range of a block when the block is well formed; `None` otherwise (the block checks
/// report why).
pub fn block_range(block: &IpBlock) -> Option<AddressRange> {
    match (&block.cidr, &block.start, &block.stop) {
        (Some(cidr), None, None) => cidr_range(cidr),
        (None, Some(start), stop) => {
            let (family, first) = address_value(start.parse().ok()?);
            let last = match stop {
                Some(stop) => {
                    let (stop_family, last) = address_value(stop.parse().ok()?);
                    if stop_family != family || last < first {
                        return None;
                    }
                    last
                }
                None => first,
            };
            Some(AddressRange { family, first, last, from_cidr: false })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_ranges_mask_host_bits() {
        let range = cidr_range("10.0.10.7/24").unwrap();
        assert_eq!(range.to_string(), "10.0.10.0-10.0.10.255");
        assert_eq!(range.size(), 256);
        assert_eq!(cidr_range("0.0.0.0/0").unwrap().size(), 1 << 32);
        assert_eq!(cidr_range("::/0").unwrap().to_string(), "::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(cidr_range("2004::1/128").unwrap().to_string(), "2004::1");
        assert!(cidr_range("10.0.0.0").is_none());
    }

    #[test]
    fn overlap_needs_the_same_family() {
        let a = cidr_range("10.0.0.0/24").unwrap();
        let b = cidr_range("10.0.0.255/32").unwrap();
        let c = cidr_range("10.0.1.0/24").unwrap();
        let d = cidr_range("::a00:0/120").unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
        assert!(!a.overlaps(&d));
    }

    #[test]
    fn start_stop_blocks() {
        let block = IpBlock { cidr: None, start: Some("20.0.20.100".into()), stop: Some("20.0.20.200".into()) };
        assert_eq!(block_range(&block).unwrap().size(), 101);
        let single = IpBlock { cidr: None, start: Some("1.2.3.4".into()), stop: None };
        assert_eq!(block_range(&single).unwrap().to_string(), "1.2.3.4");
        let reversed = IpBlock { cidr: None, start: Some("1.2.3.4".into()), stop: Some("1.2.3.1".into()) };
        assert!(block_range(&reversed).is_none());
        let both = IpBlock { cidr: Some("1.2.3.0/24".into()), start: Some("1.2.3.4".into()), stop: None };
        assert!(block_range(&both).is_none());
    }
}
