/* SPDX-License-Identifier: Apache-2.0 */
/*
 * polc datapath: map key/value layouts, verdict reasons and drop events.
 *
 * Every layout here is written byte for byte in backends/ebpf/MAPS.md and
 * mirrored by the Rust encoders in backends/ebpf/src/layout.rs. Multi-byte
 * fields are host byte order (little-endian on x86-64 and arm64) unless the
 * type says __be16/__be32. No struct has implicit padding; the static asserts
 * below keep it so.
 */
#ifndef POLC_MAPS_H
#define POLC_MAPS_H

#include <linux/types.h>

/* ---- policy map (Cilium cilium_policy_v2 layout, 1.19/1.20 value) ---- */

/* Bits of the key that follow the 4-byte prefixlen: sec_label (32) + egress (8). */
#define POLC_POLICY_STATIC_PREFIX_BITS 40
/* Full key: static bits + protocol (8) + destination port (16). */
#define POLC_POLICY_FULL_PREFIX_BITS 64

struct polc_policy_key {
	__u32 prefixlen; /* LPM prefix in bits, counted from sec_label */
	__u32 sec_label; /* remote identity, 0 = any */
	__u8 egress;	 /* bit0: 0 ingress, 1 egress; bits1-7 zero */
	__u8 protocol;	 /* IANA protocol, 0 = any */
	__be16 dport;	 /* destination port or ICMP type, big-endian */
};

#define POLC_POLICY_FLAG_DENY 0x01
#define POLC_POLICY_LPM_SHIFT 3 /* bits3-7: key prefixlen - 40 */
#define POLC_POLICY_AUTH_TYPE_MASK 0x7f
#define POLC_POLICY_AUTH_EXPLICIT 0x80
/* Precedence of a deny at priority 0; such an L3 match is final. */
#define POLC_MAX_PRECEDENCE 0xffffffffU
/* Precedence of a plain allow at priority 0 (the virtual localhost entry). */
#define POLC_ALLOW_PRECEDENCE 0xffffff01U

struct polc_policy_value {
	__be16 proxy_port; /* 0 = no L7 redirect */
	__u8 flags;	   /* POLC_POLICY_FLAG_DENY | lpm_prefix_length << 3 */
	__u8 auth;	   /* bits0-6 auth type, bit7 explicit */
	__u32 precedence;  /* higher wins */
	__u32 cookie;	   /* policy-log cookie, 0 = none */
};

/*
 * Hash lookup mode (policy_map_hash = 1): the same keys and values live in a HASH map,
 * plus one summary record per (identity, direction, protocol) that has entries:
 *   key   {prefixlen = POLC_POLICY_SUMMARY_PREFIXLEN, sec_label, egress, protocol, dport = 0}
 *   value {prefix_mask, wildcard_mask, 0}: bit i of prefix_mask set when an entry of
 *         prefixlen 40 + i exists for this identity and direction with this protocol
 *         (i >= 8), or with any protocol (i = 0); wildcard_mask is identity 0's prefix_mask
 *         for the same direction and protocol (0 when identity 0 has no summary there), so
 *         one summary lookup serves both the L3 and the L4-only match.
 * Identity 0 with an L3-only entry in a direction has a summary for all 256 protocols,
 * so a missing summary means: identity 0 has nothing to probe; any other identity may
 * still have an L3-only entry (prefix 40), which is probed.
 * The datapath probes the set lengths from the longest down, which is the LPM answer.
 */
#define POLC_POLICY_SUMMARY_PREFIXLEN 255

struct polc_policy_summary {
	__u32 prefix_mask;   /* lengths present for this identity, direction and protocol */
	__u32 wildcard_mask; /* identity 0's prefix_mask for the same direction and protocol */
	__u32 pad;
};

/* ---- ipcache (Cilium cilium_ipcache_v2 layout) ---- */

#define POLC_IPCACHE_STATIC_PREFIX_BITS 32 /* cluster_id + pad + family */
#define POLC_FAMILY_IPV4 1
#define POLC_FAMILY_IPV6 2

struct polc_ipcache_key {
	__u32 prefixlen;  /* 32 + address prefix bits */
	__u16 cluster_id; /* host order */
	__u8 pad;
	__u8 family;   /* POLC_FAMILY_IPV4 or POLC_FAMILY_IPV6 */
	__u8 addr[16]; /* big-endian address; IPv4 in addr[0..4], rest zero */
};

struct polc_ipcache_value {
	__u32 sec_identity;
	__u8 tunnel_endpoint[16]; /* unused by polc, written as zero */
	__u16 pad;
	__u8 key;   /* encryption key index, unused by polc */
	__u8 flags; /* unused by polc */
};

/* ---- verdict reasons (counter index = reason * 2 + egress) ---- */

enum polc_reason {
	POLC_ALLOW_L3 = 0,		/* entry for the remote identity matched */
	POLC_ALLOW_L4_ONLY = 1,		/* identity-0 entry matched */
	POLC_ALLOW_DEFAULT = 2,		/* nothing matched, direction not default-deny */
	POLC_ALLOW_LOCALHOST = 3,	/* allow-localhost: ingress from the host identity */
	POLC_ALLOW_REDIRECT = 4,	/* matched entry has a proxy port: allowed and marked */
	POLC_ALLOW_CT_REPLY = 5,	/* reply of a flow allowed in the other direction */
	POLC_ALLOW_ICMP_CONTROL = 6,	/* ICMP frag-needed / ICMPv6 too-big or neighbour discovery */
	POLC_ALLOW_NON_IP = 7,		/* ARP */
	POLC_ALLOW_AUDIT = 8,		/* would be a policy drop, audit mode on */
	POLC_DROP_POLICY = 9,		/* nothing matched, direction default-deny */
	POLC_DROP_POLICY_DENY = 10,	/* a deny entry decided */
	POLC_DROP_AUTH_REQUIRED = 11,	/* allow entry requires authentication */
	POLC_DROP_FRAG_NOSUPPORT = 12,	/* non-first fragment, no port-less rule allows it */
	POLC_DROP_INVALID = 13,		/* truncated or malformed headers */
	POLC_DROP_UNKNOWN_L3 = 14,	/* EtherType other than IPv4, IPv6, ARP */
	POLC_DROP_NO_GENERATION = 15,	/* the selected generation has no maps installed */
	POLC_REASON_COUNT = 16,
};

struct polc_counter {
	__u64 packets;
	__u64 bytes;
};

/* ---- drop event (ring buffer record) ---- */

struct polc_drop_event {
	__u32 remote_identity;
	__u32 local_identity; /* the endpoint_identity constant */
	__u16 dport;	      /* policy port (ICMP type) in host order */
	__u8 protocol;
	__u8 egress;
	__u8 reason;
	__u8 family; /* 4 or 6, 0 when not IP */
	__u8 generation_slot;
	__u8 pad; /* 0 in a drop event; POLC_VERDICT_EVENT_MARKER in a verdict event */
};

/* ---- verdict event (ring buffer record, emit_verdict_events = 1) ---- */

#define POLC_VERDICT_EVENT_MARKER 1

/* One per packet that reaches a verdict, allowed or dropped: the drop event layout with
 * event.pad = POLC_VERDICT_EVENT_MARKER, then the first 8 bytes of the L4 payload (after
 * the TCP/UDP/SCTP header, or the 8-byte ICMP/ICMPv6 header), zero-filled when shorter. */
struct polc_verdict_event {
	struct polc_drop_event event;
	__u8 payload_prefix[8];
};

/* ---- connection tracking ---- */

struct polc_ct_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;
	__be16 dport;
	__u8 protocol;
	__u8 family;
	__u8 creator_egress; /* direction of the packet that created the entry */
	__u8 pad;
};

struct polc_ct_value {
	__u64 expires_ns; /* bpf_ktime_get_ns() deadline */
};

_Static_assert(sizeof(struct polc_policy_key) == 12, "policy key is 12 bytes");
_Static_assert(sizeof(struct polc_policy_value) == 12, "policy value is 12 bytes");
_Static_assert(sizeof(struct polc_policy_summary) == 12, "policy summary is 12 bytes");
_Static_assert(sizeof(struct polc_ipcache_key) == 24, "ipcache key is 24 bytes");
_Static_assert(sizeof(struct polc_ipcache_value) == 24, "ipcache value is 24 bytes");
_Static_assert(sizeof(struct polc_counter) == 16, "counter is 16 bytes");
_Static_assert(sizeof(struct polc_drop_event) == 16, "drop event is 16 bytes");
_Static_assert(sizeof(struct polc_verdict_event) == 24, "verdict event is 24 bytes");
_Static_assert(sizeof(struct polc_ct_key) == 40, "ct key is 40 bytes");
_Static_assert(sizeof(struct polc_ct_value) == 8, "ct value is 8 bytes");

#endif /* POLC_MAPS_H */
