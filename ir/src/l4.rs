//! Layer 4: IP protocols, port ranges, and what part of L4 a policy entry matches.
//!
//! For ICMP and ICMPv6 the "port" is the ICMP message type, as in Cilium's policy keys.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An IP protocol number (IANA).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Protocol(pub u8);

impl Protocol {
    pub const ICMP: Protocol = Protocol(1);
    pub const IGMP: Protocol = Protocol(2);
    pub const IPIP: Protocol = Protocol(4);
    pub const TCP: Protocol = Protocol(6);
    pub const UDP: Protocol = Protocol(17);
    pub const IPV6: Protocol = Protocol(41);
    pub const GRE: Protocol = Protocol(47);
    pub const ESP: Protocol = Protocol(50);
    pub const AH: Protocol = Protocol(51);
    pub const ICMPV6: Protocol = Protocol(58);
    pub const VRRP: Protocol = Protocol(112);
    pub const SCTP: Protocol = Protocol(132);

    /// The protocol's usual name (`TCP`, `ICMPv6`), or its number.
    pub fn name(self) -> String {
        match self {
            Protocol::ICMP => "ICMP".to_owned(),
            Protocol::IGMP => "IGMP".to_owned(),
            Protocol::IPIP => "IPIP".to_owned(),
            Protocol::TCP => "TCP".to_owned(),
            Protocol::UDP => "UDP".to_owned(),
            Protocol::IPV6 => "IPV6".to_owned(),
            Protocol::GRE => "GRE".to_owned(),
            Protocol::ESP => "ESP".to_owned(),
            Protocol::AH => "AH".to_owned(),
            Protocol::ICMPV6 => "ICMPv6".to_owned(),
            Protocol::VRRP => "VRRP".to_owned(),
            Protocol::SCTP => "SCTP".to_owned(),
            Protocol(number) => format!("proto-{number}"),
        }
    }

    /// Parses a protocol name (any case) or number.
    pub fn parse(text: &str) -> Option<Protocol> {
        let known = [
            Protocol::ICMP,
            Protocol::IGMP,
            Protocol::IPIP,
            Protocol::TCP,
            Protocol::UDP,
            Protocol::IPV6,
            Protocol::GRE,
            Protocol::ESP,
            Protocol::AH,
            Protocol::ICMPV6,
            Protocol::VRRP,
            Protocol::SCTP,
        ];
        known.into_iter().find(|protocol| protocol.name().eq_ignore_ascii_case(text)).or_else(|| text.parse::<u8>().ok().map(Protocol))
    }

    /// Whether the protocol's "port" is an ICMP type.
    pub fn is_icmp(self) -> bool {
        matches!(self, Protocol::ICMP | Protocol::ICMPV6)
    }

    /// Whether the protocol has ports (TCP, UDP, SCTP).
    pub fn has_ports(self) -> bool {
        matches!(self, Protocol::TCP | Protocol::UDP | Protocol::SCTP)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// An inclusive range of ports (or ICMP types).
///
/// INVARIANT: `first <= last`; [`PortRange::new`] orders the ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// Every port.
    pub const ALL: PortRange = PortRange { first: 0, last: u16::MAX };

    pub fn new(first: u16, last: u16) -> Self {
        PortRange { first: first.min(last), last: first.max(last) }
    }

    pub fn single(port: u16) -> Self {
        PortRange { first: port, last: port }
    }

    pub fn first(&self) -> u16 {
        self.first
    }

    pub fn last(&self) -> u16 {
        self.last
    }

    pub fn is_all(&self) -> bool {
        *self == PortRange::ALL
    }

    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }

    /// How many leading bits of the port the policy-map key covering `port` fixes, when Cilium
    /// writes this range as masked ports (`PortRangeToMaskedPorts`): the range is cut, from its
    /// first port, into the largest power-of-two blocks aligned on their size, and each block is
    /// one key. 0 for every port; 16 for a single port (port 0 alone included). `None` when
    /// `port` is outside the range.
    pub fn key_prefix_len(&self, port: u16) -> Option<u8> {
        if !self.contains(port) {
            return None;
        }
        if self.is_all() {
            return Some(0);
        }
        if self.first == self.last {
            return Some(16);
        }
        let end = u32::from(self.last);
        let mut start = u32::from(self.first);
        loop {
            let mut host_bits = if start == 0 { 16 } else { start.trailing_zeros().min(16) };
            while host_bits > 0 && start + (1u32 << host_bits) - 1 > end {
                host_bits -= 1;
            }
            let block_end = start + (1u32 << host_bits) - 1;
            if u32::from(port) <= block_end {
                return Some((16 - host_bits) as u8);
            }
            start = block_end + 1;
        }
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            f.write_str("*")
        } else if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// The L4 part of a policy entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum L4Match {
    /// Every protocol and port (an L3-only rule).
    Any,
    /// One protocol, on a range of ports (every port when the range is [`PortRange::ALL`]).
    Protocol { protocol: Protocol, ports: PortRange },
}

impl L4Match {
    pub fn protocol(protocol: Protocol, ports: PortRange) -> Self {
        L4Match::Protocol { protocol, ports }
    }

    /// Whether a packet of `protocol` to `port` (the ICMP type for ICMP) matches.
    pub fn matches(&self, protocol: Protocol, port: u16) -> bool {
        match self {
            L4Match::Any => true,
            L4Match::Protocol { protocol: wanted, ports } => *wanted == protocol && ports.contains(port),
        }
    }
}

impl fmt::Display for L4Match {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            L4Match::Any => f.write_str("any"),
            L4Match::Protocol { protocol, ports } if protocol.is_icmp() && !ports.is_all() => write!(f, "{protocol} type {ports}"),
            L4Match::Protocol { protocol, ports } => write!(f, "{ports}/{protocol}"),
        }
    }
}
