//! Verdict reasons, drop events and per-packet verdict records shared by the kernel and the model.

use crate::layout::{DROP_EVENT_SIZE, Direction, VERDICT_EVENT_MARKER, VERDICT_EVENT_SIZE};

/// Why a packet was allowed or dropped; the numbers are the C `enum polc_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    AllowL3,
    AllowL4Only,
    AllowDefault,
    AllowLocalhost,
    AllowRedirect,
    AllowConntrackReply,
    AllowIcmpControl,
    AllowNonIp,
    AllowAudit,
    DropPolicy,
    DropPolicyDeny,
    DropAuthRequired,
    DropFragmentNotSupported,
    DropInvalid,
    DropUnknownL3,
    DropNoGeneration,
}

impl Reason {
    /// Every reason in counter order.
    pub const ALL: [Reason; 16] = [
        Reason::AllowL3,
        Reason::AllowL4Only,
        Reason::AllowDefault,
        Reason::AllowLocalhost,
        Reason::AllowRedirect,
        Reason::AllowConntrackReply,
        Reason::AllowIcmpControl,
        Reason::AllowNonIp,
        Reason::AllowAudit,
        Reason::DropPolicy,
        Reason::DropPolicyDeny,
        Reason::DropAuthRequired,
        Reason::DropFragmentNotSupported,
        Reason::DropInvalid,
        Reason::DropUnknownL3,
        Reason::DropNoGeneration,
    ];

    /// The number the datapath uses.
    pub fn code(self) -> u32 {
        Reason::ALL.iter().position(|reason| *reason == self).unwrap_or(0) as u32
    }

    /// The reason for a datapath number, if it is one.
    pub fn from_code(code: u32) -> Option<Reason> {
        Reason::ALL.get(code as usize).copied()
    }

    /// Whether the packet is dropped.
    pub fn is_drop(self) -> bool {
        self.code() >= Reason::DropPolicy.code()
    }

    /// Whether policy (rather than parsing or configuration) dropped the packet; audit mode
    /// turns exactly these into allows.
    pub fn is_policy_drop(self) -> bool {
        matches!(self, Reason::DropPolicy | Reason::DropPolicyDeny | Reason::DropAuthRequired | Reason::DropFragmentNotSupported)
    }

    /// Stable kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Reason::AllowL3 => "allow-l3",
            Reason::AllowL4Only => "allow-l4-only",
            Reason::AllowDefault => "allow-default",
            Reason::AllowLocalhost => "allow-localhost",
            Reason::AllowRedirect => "allow-redirect",
            Reason::AllowConntrackReply => "allow-conntrack-reply",
            Reason::AllowIcmpControl => "allow-icmp-control",
            Reason::AllowNonIp => "allow-non-ip",
            Reason::AllowAudit => "allow-audit",
            Reason::DropPolicy => "drop-policy",
            Reason::DropPolicyDeny => "drop-policy-deny",
            Reason::DropAuthRequired => "drop-auth-required",
            Reason::DropFragmentNotSupported => "drop-fragment-not-supported",
            Reason::DropInvalid => "drop-invalid",
            Reason::DropUnknownL3 => "drop-unknown-l3",
            Reason::DropNoGeneration => "drop-no-generation",
        }
    }

    /// Index of the (reason, direction) counter in `polc_counters`.
    pub fn counter_index(self, direction: Direction) -> u32 {
        self.code() * 2 + u32::from(direction.key_byte())
    }
}

/// Which policy entry decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MatchKind {
    /// No entry (default verdict, or decided before the policy lookup).
    None,
    /// An entry for the remote identity.
    L3,
    /// An entry for identity 0.
    L4Only,
    /// The virtual allow-localhost entry.
    Localhost,
}

impl MatchKind {
    pub fn code(self) -> u32 {
        match self {
            MatchKind::None => 0,
            MatchKind::L3 => 1,
            MatchKind::L4Only => 2,
            MatchKind::Localhost => 3,
        }
    }

    pub fn from_code(code: u32) -> Option<MatchKind> {
        match code {
            0 => Some(MatchKind::None),
            1 => Some(MatchKind::L3),
            2 => Some(MatchKind::L4Only),
            3 => Some(MatchKind::Localhost),
            _ => None,
        }
    }
}

/// Everything the datapath decided about one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Verdict {
    pub reason: Reason,
    /// The remote identity used for the lookup (0 when decided before the ipcache lookup).
    pub remote_identity: u32,
    pub match_kind: MatchKind,
    /// The decisive entry's key prefix length minus 40.
    pub match_lpm_len: u8,
    /// The policy port (port or ICMP type) the lookup used, host order.
    pub policy_port: u16,
    pub protocol: u8,
    /// 4, 6, or 0 when the packet is not IP.
    pub family: u8,
    /// `skb->mark` after the program (non-zero only for redirects).
    pub mark: u32,
}

impl Verdict {
    pub fn allowed(&self) -> bool {
        !self.reason.is_drop()
    }
}

/// One record of the `polc_drops` ring buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DropEvent {
    pub remote_identity: u32,
    pub local_identity: u32,
    pub policy_port: u16,
    pub protocol: u8,
    pub direction: Direction,
    pub reason: Option<Reason>,
    pub family: u8,
    pub generation_slot: u8,
}

impl DropEvent {
    /// Decodes a ring buffer record (16 bytes, see MAPS.md); `None` when too short.
    pub fn decode(bytes: &[u8]) -> Option<DropEvent> {
        if bytes.len() < DROP_EVENT_SIZE {
            return None;
        }
        Some(DropEvent {
            remote_identity: u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            local_identity: u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            policy_port: u16::from_le_bytes([bytes[8], bytes[9]]),
            protocol: bytes[10],
            direction: if bytes[11] == 1 { Direction::Egress } else { Direction::Ingress },
            reason: Reason::from_code(u32::from(bytes[12])),
            family: bytes[13],
            generation_slot: bytes[14],
        })
    }
}

/// One record of the `polc_drops` ring buffer in the `emit_verdict_events` mode: written for
/// every packet that reaches a verdict, allowed or dropped (24 bytes, see MAPS.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VerdictEvent {
    /// The first 16 bytes, in the drop event layout (`reason` may be an allow).
    pub event: DropEvent,
    /// The first 8 bytes of the L4 payload (after the TCP/UDP/SCTP header, or the 8-byte
    /// ICMP/ICMPv6 header), zero-filled when the payload is shorter or the packet has none.
    pub payload_prefix: [u8; 8],
}

impl VerdictEvent {
    /// Decodes a ring buffer record; `None` unless it is 24 bytes with the verdict marker
    /// (byte 15), so drop events (16 bytes) are never taken for verdict events.
    pub fn decode(bytes: &[u8]) -> Option<VerdictEvent> {
        if bytes.len() != VERDICT_EVENT_SIZE || bytes[DROP_EVENT_SIZE - 1] != VERDICT_EVENT_MARKER {
            return None;
        }
        let event = DropEvent::decode(&bytes[..DROP_EVENT_SIZE])?;
        let mut payload_prefix = [0u8; 8];
        payload_prefix.copy_from_slice(&bytes[DROP_EVENT_SIZE..]);
        Some(VerdictEvent { event, payload_prefix })
    }

    /// Whether the packet was allowed (a known reason that is not a drop).
    pub fn is_allowed(&self) -> bool {
        self.event.reason.is_some_and(|reason| !reason.is_drop())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip_and_split_at_the_first_drop() {
        for (index, reason) in Reason::ALL.iter().enumerate() {
            assert_eq!(reason.code(), index as u32);
            assert_eq!(Reason::from_code(index as u32), Some(*reason));
            assert_eq!(reason.is_drop(), index >= 9);
        }
        assert_eq!(Reason::from_code(16), None);
        assert_eq!(Reason::DropPolicyDeny.counter_index(Direction::Egress), 21);
    }

    #[test]
    fn drop_events_decode_the_documented_layout() {
        let bytes = [7, 1, 0, 0, 9, 0, 0, 0, 0x50, 0, 6, 1, 10, 4, 1, 0];
        let event = DropEvent::decode(&bytes).unwrap();
        assert_eq!(event.remote_identity, 263);
        assert_eq!(event.local_identity, 9);
        assert_eq!(event.policy_port, 80);
        assert_eq!(event.direction, Direction::Egress);
        assert_eq!(event.reason, Some(Reason::DropPolicyDeny));
        assert_eq!(event.generation_slot, 1);
        assert_eq!(DropEvent::decode(&bytes[..15]), None);
        assert_eq!(VerdictEvent::decode(&bytes), None);
    }

    #[test]
    fn verdict_events_decode_the_documented_layout_and_need_the_marker() {
        let mut bytes = vec![0xe8, 3, 0, 0, 0xb8, 0xb, 0, 0, 0x50, 0, 6, 0, 0, 4, 1, 1];
        bytes.extend_from_slice(b"seq-0042");
        let record = VerdictEvent::decode(&bytes).unwrap();
        assert_eq!(record.event.remote_identity, 1000);
        assert_eq!(record.event.local_identity, 3000);
        assert_eq!((record.event.protocol, record.event.policy_port), (6, 80));
        assert_eq!(record.event.direction, Direction::Ingress);
        assert_eq!(record.event.reason, Some(Reason::AllowL3));
        assert_eq!(record.event.generation_slot, 1);
        assert_eq!(&record.payload_prefix, b"seq-0042");
        assert!(record.is_allowed());

        bytes[12] = Reason::DropPolicy.code() as u8;
        assert!(!VerdictEvent::decode(&bytes).unwrap().is_allowed());
        bytes[12] = 99;
        assert!(!VerdictEvent::decode(&bytes).unwrap().is_allowed());
        bytes[15] = 0;
        assert_eq!(VerdictEvent::decode(&bytes), None);
        bytes[15] = 1;
        assert_eq!(VerdictEvent::decode(&bytes[..23]), None);
        bytes.push(0);
        assert_eq!(VerdictEvent::decode(&bytes), None);
    }
}
