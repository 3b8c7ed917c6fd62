//! IP prefixes: a network address and a prefix length, always stored masked.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An IPv4 or IPv6 prefix such as `10.0.0.0/8`.
///
/// INVARIANT: the host bits of `address` are zero and `length` is at most 32 (IPv4) or 128 (IPv6);
/// [`IpPrefix::new`] masks and clamps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpPrefix {
    address: IpAddr,
    length: u8,
}

impl IpPrefix {
    /// The prefix of `address` with `length` bits; host bits are cleared, and a length beyond
    /// the family's width is clamped to it.
    pub fn new(address: IpAddr, length: u8) -> Self {
        let length = length.min(family_bits(address));
        IpPrefix { address: mask(address, length), length }
    }

    /// The prefix that holds exactly `address` (/32 or /128).
    pub fn host(address: IpAddr) -> Self {
        IpPrefix::new(address, family_bits(address))
    }

    /// Parses `a.b.c.d/n`, `x::y/n`, or a bare address (as a host prefix). Host bits are
    /// cleared.
    pub fn parse(text: &str) -> Option<Self> {
        match text.split_once('/') {
            Some((address, length)) => {
                let address: IpAddr = address.parse().ok()?;
                if length.is_empty() || length.len() > 3 || !length.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let length: u8 = length.parse().ok()?;
                (length <= family_bits(address)).then(|| IpPrefix::new(address, length))
            }
            None => text.parse().ok().map(IpPrefix::host),
        }
    }

    pub fn address(&self) -> IpAddr {
        self.address
    }

    pub fn length(&self) -> u8 {
        self.length
    }

    pub fn is_ipv4(&self) -> bool {
        self.address.is_ipv4()
    }

    /// Whether this prefix is a single address.
    pub fn is_host(&self) -> bool {
        self.length == family_bits(self.address)
    }

    /// Whether `address` lies inside this prefix.
    pub fn contains(&self, address: IpAddr) -> bool {
        address.is_ipv4() == self.address.is_ipv4() && mask(address, self.length) == self.address
    }

    /// Whether `other` lies entirely inside this prefix (a prefix covers itself).
    pub fn covers(&self, other: &IpPrefix) -> bool {
        other.length >= self.length && self.contains(other.address)
    }
}

fn family_bits(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn mask(address: IpAddr, length: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = if length == 0 { 0 } else { u32::MAX << (32 - u32::from(length.min(32))) };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & bits))
        }
        IpAddr::V6(v6) => {
            let bits = if length == 0 { 0 } else { u128::MAX << (128 - u32::from(length.min(128))) };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & bits))
        }
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.length)
    }
}

impl Serialize for IpPrefix {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IpPrefix {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        IpPrefix::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("`{text}` is not an IP prefix")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_masked_and_contain_their_addresses() {
        let prefix = IpPrefix::parse("10.1.2.3/8").unwrap();
        assert_eq!(prefix.to_string(), "10.0.0.0/8");
        assert!(prefix.contains("10.255.0.1".parse().unwrap()));
        assert!(!prefix.contains("11.0.0.1".parse().unwrap()));
        assert!(!prefix.contains("::1".parse().unwrap()));
        assert!(prefix.covers(&IpPrefix::parse("10.1.0.0/16").unwrap()));
        assert!(!IpPrefix::parse("10.1.0.0/16").unwrap().covers(&prefix));
        assert_eq!(IpPrefix::parse("0.0.0.0/0").unwrap().length(), 0);
        assert!(IpPrefix::parse("0.0.0.0/0").unwrap().contains("1.2.3.4".parse().unwrap()));
        assert!(IpPrefix::parse("10.0.0.0/33").is_none());
        assert_eq!(IpPrefix::parse("2001:db8::1/32").unwrap().to_string(), "2001:db8::/32");
        assert!(IpPrefix::parse("192.0.2.7").unwrap().is_host());
    }
}
