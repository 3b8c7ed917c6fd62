// SPDX-License-Identifier: Apache-2.0
/*
 * polc endpoint policy datapath.
 *
 * Two tc programs share one set of maps:
 *   polc_ingress - traffic arriving at the endpoint (remote = source address)
 *   polc_egress  - traffic leaving the endpoint   (remote = destination address)
 * Attach them on the endpoint's own interface: polc_ingress on tc/tcx ingress
 * and polc_egress on tc/tcx egress of the interface inside the endpoint's
 * network namespace. (Cilium attaches to the host-side veth, where the
 * directions are swapped; the programs only care which one they are.)
 *
 * Per packet:
 *   1. read the generation slot ONCE from polc_generation and take that
 *      slot's policy and ipcache inner maps; nothing else is read afterwards;
 *   2. parse Ethernet, IPv4/IPv6 (IPv6 extension headers skipped), and the
 *      TCP/UDP/SCTP ports or the ICMP/ICMPv6 type;
 *   3. find the remote identity in the ipcache (LPM, Cilium key layout; with
 *      ipcache_host_hash a HASH of the host entries is probed first);
 *   4. replies of flows allowed in the other direction pass (conntrack);
 *   5. policy lookup exactly as Cilium's __policy_can_access: L3 lookup with
 *      the identity, L4-only lookup with identity 0, precedence choice; the
 *      longest-prefix match is probes of a HASH map holding the policy map's
 *      keys (policy_map_hash, the default) or the kernel LPM trie (Cilium's
 *      map type, policy_map_hash = 0);
 *   6. count the verdict per reason, emit a drop event to the ring buffer (or, with
 *      emit_verdict_events, a verdict event for every packet).
 *
 * Build (reproducible, run in this directory; the committed-object test in
 * backends/ebpf/tests/committed_object.rs runs exactly this):
 *   clang -O2 -g -target bpf -D__TARGET_ARCH_x86 -I/usr/include/x86_64-linux-gnu \
 *     -Wall -fdebug-compilation-dir=. -c polc_policy.bpf.c -o polc_policy.bpf.o
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "polc_maps.h"

#define POLC_GENERATION_SLOTS 2
#define POLC_MAX_IPV6_EXT_HEADERS 6

#define ETH_P_ARP_BE bpf_htons(ETH_P_ARP)
#define ETH_P_IP_BE bpf_htons(ETH_P_IP)
#define ETH_P_IPV6_BE bpf_htons(ETH_P_IPV6)

#define IPPROTO_ICMPV6_NUM 58
#define IPV6_EXT_HOPOPTS 0
#define IPV6_EXT_ROUTING 43
#define IPV6_EXT_FRAGMENT 44
#define IPV6_EXT_AUTH 51
#define IPV6_EXT_NONE 59
#define IPV6_EXT_DSTOPTS 60

/* ---- configuration constants (.rodata, patched by the loader) ---- */

/* Identity of the endpoint these programs guard (reported in drop events). */
const volatile __u32 endpoint_identity = 0;
/* 1: a packet no entry matches is dropped (DROP_POLICY); 0: it is allowed. */
const volatile __u8 default_deny_ingress = 1;
const volatile __u8 default_deny_egress = 1;
/* allow-localhost: on a default-deny ingress, the host identity is allowed as
 * if an L3-only allow entry for host_identity were in the map. */
const volatile __u8 allow_localhost = 1;
const volatile __u32 host_identity = 1;
/* Cilium enable_icmp_rule: ICMP type is the policy port; otherwise port 0. */
const volatile __u8 enable_icmp_rule = 1;
/* Cilium allow_icmp_frag_needed: ICMPv4 3/4 and ICMPv6 2 pass before policy. */
const volatile __u8 allow_icmp_frag_needed = 1;
/* ICMPv6 neighbour discovery (types 133-137) passes before policy. */
const volatile __u8 allow_icmpv6_neighbour_discovery = 1;
/* Identity of addresses the ipcache does not know, per family. */
const volatile __u32 world_identity_ipv4 = 2;
const volatile __u32 world_identity_ipv6 = 2;
/* Cluster id written into ipcache lookup keys. */
const volatile __u16 cluster_id = 0;
/* 1: entries with an auth type drop (polc runs no authentication agent). */
const volatile __u8 enforce_auth = 1;
/* 1: policy drops become allows (counted as POLC_ALLOW_AUDIT). */
const volatile __u8 audit_mode = 0;
/* skb->mark for a proxy redirect: proxy_mark_magic | proxy_port << 16. */
const volatile __u32 proxy_mark_magic = 0x0200;
/* Connection tracking: replies of allowed flows skip policy. */
const volatile __u8 enable_conntrack = 1;
const volatile __u64 ct_lifetime_tcp_ns = 21600ULL * 1000000000ULL;
const volatile __u64 ct_lifetime_other_ns = 60ULL * 1000000000ULL;
/* 1 (the default): longest-prefix matches on the policy use the HASH maps in
 * polc_policy_hash (cost independent of the number of entries); 0: the LPM tries in
 * polc_policy (Cilium's map type). */
const volatile __u8 policy_map_hash = 1;
/* 1 (the default): the remote address is first looked up in the polc_ipcache_hash
 * generation map, a HASH of the ipcache's host entries (/32, /128); only on a miss in the
 * LPM trie. A host prefix is always the longest match for its address, so the answer is the
 * trie's. 0: the LPM trie only. */
const volatile __u8 ipcache_host_hash = 1;
/* 1: emit a polc_drop_event for every drop. */
const volatile __u8 emit_drop_events = 1;
/* 1: emit a polc_verdict_event for EVERY packet that reaches a verdict (allowed or
 * dropped) instead of drop events: the drop event layout marked as a verdict record,
 * followed by the first 8 bytes of the L4 payload. */
const volatile __u8 emit_verdict_events = 0;
/* 1: write the verdict details to skb->cb[0..4] (for BPF_PROG_TEST_RUN). */
const volatile __u8 record_verdict = 0;

/* ---- maps ---- */

/* Inner map templates give sizes rather than BTF types: clang 14 emits only
 * forward declarations for types reached through a nested map definition,
 * which libbpf cannot size. */
struct polc_policy_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(key_size, sizeof(struct polc_policy_key));
	__uint(value_size, sizeof(struct polc_policy_value));
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG);
};

struct polc_policy_hash_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, sizeof(struct polc_policy_key));
	__uint(value_size, sizeof(struct polc_policy_value));
	__uint(max_entries, 1); /* generation maps are sized by userspace */
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG);
};

struct polc_ipcache_inner {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(key_size, sizeof(struct polc_ipcache_key));
	__uint(value_size, sizeof(struct polc_ipcache_value));
	__uint(max_entries, 512000);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG);
};

struct polc_ipcache_hash_inner {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(key_size, sizeof(struct polc_ipcache_key));
	__uint(value_size, sizeof(struct polc_ipcache_value));
	__uint(max_entries, 1); /* generation maps are sized by userspace */
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG);
};

/* Per-generation policy maps; userspace fills the slots. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, POLC_GENERATION_SLOTS);
	__type(key, __u32);
	__array(values, struct polc_policy_inner);
} polc_policy SEC(".maps");

/* Per-generation policy HASH maps (policy_map_hash mode), same slots. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, POLC_GENERATION_SLOTS);
	__type(key, __u32);
	__array(values, struct polc_policy_hash_inner);
} polc_policy_hash SEC(".maps");

/* Per-generation ipcache maps, same slots as polc_policy. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, POLC_GENERATION_SLOTS);
	__type(key, __u32);
	__array(values, struct polc_ipcache_inner);
} polc_ipcache SEC(".maps");

/* Per-generation HASH maps of the ipcache's host entries (ipcache_host_hash mode), same slots. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, POLC_GENERATION_SLOTS);
	__type(key, __u32);
	__array(values, struct polc_ipcache_hash_inner);
} polc_ipcache_hash SEC(".maps");

/* Index 0 holds the active slot. One 4-byte write flips a generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} polc_generation SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, POLC_REASON_COUNT * 2);
	__type(key, __u32);
	__type(value, struct polc_counter);
} polc_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} polc_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct polc_ct_key);
	__type(value, struct polc_ct_value);
} polc_ct SEC(".maps");

/* ---- packet parsing ---- */

struct polc_packet {
	__u8 saddr[16];
	__u8 daddr[16];
	__be16 sport;	   /* conntrack source port (TCP/UDP/SCTP, ICMP echo id) */
	__be16 dport;	   /* conntrack destination port */
	__u16 policy_port; /* policy port in host order (port or ICMP type) */
	__u8 family;	   /* 4, 6, or 0 when not IP */
	__u8 protocol;
	__u8 nonfirst_fragment;
	__u8 ct_create;	   /* an allowed packet of this kind creates a ct entry */
	__u8 ct_reply;	   /* this packet may be the reply of a ct entry */
	__u8 icmp_control; /* passes before policy (frag-needed, ND) */
	__u32 payload_off; /* offset of the L4 payload (verdict events only), 0 = unknown */
	__u32 ip_end;	   /* end of the IP packet (header length fields), 0 = unknown */
};

static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off, struct polc_packet *pkt)
{
	if (pkt->nonfirst_fragment)
		return -1;

	switch (pkt->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
	case IPPROTO_SCTP: {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)) < 0)
			return POLC_DROP_INVALID;
		pkt->sport = ports[0];
		pkt->dport = ports[1];
		pkt->policy_port = bpf_ntohs(ports[1]);
		pkt->ct_create = 1;
		pkt->ct_reply = 1;
		if (emit_verdict_events) {
			if (pkt->protocol == IPPROTO_TCP) {
				__u8 data_offset;

				/* A TCP header without its data offset byte leaves the payload unknown. */
				if (bpf_skb_load_bytes(skb, off + 12, &data_offset, 1) == 0)
					pkt->payload_off = off + (data_offset >> 4) * 4;
			} else {
				pkt->payload_off = off + (pkt->protocol == IPPROTO_UDP ? 8 : 12);
			}
		}
		return -1;
	}
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6_NUM: {
		__u8 icmp[8];
		__u8 type, code;
		__u8 is_v4 = pkt->protocol == IPPROTO_ICMP && pkt->family == 4;
		__u8 is_v6 = pkt->protocol == IPPROTO_ICMPV6_NUM && pkt->family == 6;

		/* Type and code are always present; the echo id only for echo. */
		if (bpf_skb_load_bytes(skb, off, icmp, 4) < 0)
			return POLC_DROP_INVALID;
		if (emit_verdict_events)
			pkt->payload_off = off + 8;
		type = icmp[0];
		code = icmp[1];
		if (enable_icmp_rule)
			pkt->policy_port = type;
		if (is_v4 && allow_icmp_frag_needed && type == 3 && code == 4)
			pkt->icmp_control = 1;
		if (is_v6 && allow_icmp_frag_needed && type == 2)
			pkt->icmp_control = 1;
		if (is_v6 && allow_icmpv6_neighbour_discovery && type >= 133 && type <= 137)
			pkt->icmp_control = 1;
		/* Echo request creates an entry keyed (id, 0); the echo reply
		 * stores (0, id) so that its reversed tuple is (id, 0). */
		if ((is_v4 && (type == 8 || type == 0)) || (is_v6 && (type == 128 || type == 129))) {
			if (bpf_skb_load_bytes(skb, off, icmp, 8) < 0)
				return POLC_DROP_INVALID;
			__be16 id;

			__builtin_memcpy(&id, &icmp[4], sizeof(id));
			if (type == 8 || type == 128) {
				pkt->sport = id;
				pkt->ct_create = 1;
			} else {
				pkt->dport = id;
				pkt->ct_reply = 1;
			}
		}
		return -1;
	}
	default:
		return -1;
	}
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct polc_packet *pkt)
{
	struct iphdr ip;
	__u32 hdr_len;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) < 0)
		return POLC_DROP_INVALID;
	if (ip.version != 4 || ip.ihl < 5)
		return POLC_DROP_INVALID;
	hdr_len = ip.ihl * 4;
	pkt->family = 4;
	pkt->ip_end = ETH_HLEN + bpf_ntohs(ip.tot_len);
	pkt->protocol = ip.protocol;
	__builtin_memcpy(pkt->saddr, &ip.saddr, 4);
	__builtin_memcpy(pkt->daddr, &ip.daddr, 4);
	if (bpf_ntohs(ip.frag_off) & 0x1fff)
		pkt->nonfirst_fragment = 1;
	return parse_l4(skb, ETH_HLEN + hdr_len, pkt);
}

static __always_inline int parse_ipv6(struct __sk_buff *skb, struct polc_packet *pkt)
{
	struct ipv6hdr ip6;
	__u32 off = ETH_HLEN + sizeof(struct ipv6hdr);
	__u8 nexthdr;
	int i;

	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)) < 0)
		return POLC_DROP_INVALID;
	if (ip6.version != 6)
		return POLC_DROP_INVALID;
	pkt->family = 6;
	pkt->ip_end = ETH_HLEN + sizeof(struct ipv6hdr) + bpf_ntohs(ip6.payload_len);
	__builtin_memcpy(pkt->saddr, &ip6.saddr, 16);
	__builtin_memcpy(pkt->daddr, &ip6.daddr, 16);
	nexthdr = ip6.nexthdr;

#pragma unroll
	for (i = 0; i < POLC_MAX_IPV6_EXT_HEADERS; i++) {
		__u8 ext[8];

		switch (nexthdr) {
		case IPV6_EXT_HOPOPTS:
		case IPV6_EXT_ROUTING:
		case IPV6_EXT_DSTOPTS:
			if (bpf_skb_load_bytes(skb, off, ext, 2) < 0)
				return POLC_DROP_INVALID;
			nexthdr = ext[0];
			off += ((__u32)ext[1] + 1) * 8;
			break;
		case IPV6_EXT_AUTH:
			if (bpf_skb_load_bytes(skb, off, ext, 2) < 0)
				return POLC_DROP_INVALID;
			nexthdr = ext[0];
			off += ((__u32)ext[1] + 2) * 4;
			break;
		case IPV6_EXT_FRAGMENT:
			if (bpf_skb_load_bytes(skb, off, ext, 8) < 0)
				return POLC_DROP_INVALID;
			nexthdr = ext[0];
			/* fragment offset: upper 13 bits of bytes 2-3 */
			if ((((__u16)ext[2] << 8) | ext[3]) & 0xfff8)
				pkt->nonfirst_fragment = 1;
			off += 8;
			break;
		default:
			goto done;
		}
	}
	/* Still an extension header after the limit: refuse to guess. */
	switch (nexthdr) {
	case IPV6_EXT_HOPOPTS:
	case IPV6_EXT_ROUTING:
	case IPV6_EXT_DSTOPTS:
	case IPV6_EXT_AUTH:
	case IPV6_EXT_FRAGMENT:
		return POLC_DROP_INVALID;
	}
done:
	pkt->protocol = nexthdr;
	return parse_l4(skb, off, pkt);
}

/* ---- policy ---- */

static __always_inline __u8 entry_lpm_len(const struct polc_policy_value *v)
{
	return v->flags >> POLC_POLICY_LPM_SHIFT;
}

struct polc_verdict {
	__u32 reason;
	__u32 remote_identity;
	__u16 proxy_port; /* host order */
	__u8 match_kind;  /* 0 none, 1 L3, 2 L4-only, 3 localhost */
	__u8 match_lpm_len;
};

/* One probe of the HASH map at prefix length 40 + bit. */
static __always_inline const struct polc_policy_value *hash_probe_one(void *map, struct polc_policy_key *key, __u8 protocol, __u16 port, __u32 bit)
{
	key->prefixlen = POLC_POLICY_STATIC_PREFIX_BITS + bit;
	key->protocol = bit >= 8 ? protocol : 0;
	key->dport = bit > 8 ? bpf_htons(port & (__u16)(0xffff << (24 - bit))) : 0;
	return bpf_map_lookup_elem(map, key);
}

/* Longest-prefix match over the HASH map: probe the prefix lengths in `mask` (bit i for
 * prefixlen 40 + i), longest first; the first hit is the LPM answer. The common lengths
 * (exact port, protocol only, L3 only) are tested directly; the port-block lengths 9-23
 * are walked only when one is present. (clang 14 cannot compile __builtin_clz for BPF.) */
static __always_inline const struct polc_policy_value *hash_probe(void *map, __u32 identity, __u8 egress, __u8 protocol, __u16 port, __u32 mask)
{
	struct polc_policy_key key = {
		.sec_label = identity,
		.egress = egress,
	};
	const struct polc_policy_value *value;
	int bit;

	if (mask & (1U << 24)) {
		value = hash_probe_one(map, &key, protocol, port, 24);
		if (value)
			return value;
	}
	if (mask & 0x00fffe00U) {
#pragma unroll
		for (bit = 23; bit >= 9; bit--) {
			if (!(mask & (1U << bit)))
				continue;
			value = hash_probe_one(map, &key, protocol, port, bit);
			if (value)
				return value;
		}
	}
	if (mask & (1U << 8)) {
		value = hash_probe_one(map, &key, protocol, port, 8);
		if (value)
			return value;
	}
	if (mask & 1U)
		return hash_probe_one(map, &key, protocol, port, 0);
	return 0;
}

/* The summary record of (identity, direction, protocol), if any. */
static __always_inline const struct polc_policy_summary *hash_summary(void *map, __u32 identity, __u8 egress, __u8 protocol)
{
	struct polc_policy_key key = {
		.prefixlen = POLC_POLICY_SUMMARY_PREFIXLEN,
		.sec_label = identity,
		.egress = egress,
		.protocol = protocol,
		.dport = 0,
	};

	return bpf_map_lookup_elem(map, &key);
}

static __always_inline void policy_lookup(void *policy_map, const struct polc_packet *pkt, __u32 remote, __u8 egress,
					  struct polc_verdict *verdict)
{
	struct polc_policy_key key = {
		.prefixlen = POLC_POLICY_FULL_PREFIX_BITS,
		.sec_label = remote,
		.egress = egress,
		.protocol = pkt->protocol,
		.dport = bpf_htons(pkt->policy_port),
	};
	const struct polc_policy_value localhost = {
		.flags = 0,
		.precedence = POLC_ALLOW_PRECEDENCE,
	};
	const struct polc_policy_value *l3, *l4, *chosen, *other;
	__u8 kind;
	__u8 auth_type;

	/* HASH mode: the identity's summary lists the prefix lengths to probe for both matches.
	 * Without one only an L3-only entry (prefix 40) can match for this identity, and
	 * identity 0's summary (listed under every protocol when it has an L3-only entry)
	 * gives the L4-only lengths. */
	const struct polc_policy_summary *summary = 0;
	__u32 wildcard_mask = 0;

	if (policy_map_hash) {
		summary = hash_summary(policy_map, remote, egress, pkt->protocol);
		l3 = hash_probe(policy_map, remote, egress, pkt->protocol, pkt->policy_port,
				summary ? summary->prefix_mask : (remote ? 1 : 0));
		if (summary)
			wildcard_mask = summary->wildcard_mask;
	} else {
		l3 = bpf_map_lookup_elem(policy_map, &key);
	}
	kind = 1;
	if (!l3 && !egress && allow_localhost && default_deny_ingress && remote == host_identity &&
	    endpoint_identity != host_identity) {
		l3 = &localhost;
		kind = 3;
	}
	if (l3 && l3->precedence == POLC_MAX_PRECEDENCE) {
		chosen = l3;
		other = 0;
		goto decide;
	}

	if (policy_map_hash) {
		if (!summary) {
			summary = hash_summary(policy_map, 0, egress, pkt->protocol);
			wildcard_mask = summary ? summary->prefix_mask : 0;
		}
		l4 = hash_probe(policy_map, 0, egress, pkt->protocol, pkt->policy_port, wildcard_mask);
	} else {
		key.sec_label = 0;
		l4 = bpf_map_lookup_elem(policy_map, &key);
	}
	if (l4 && (!l3 || l4->precedence > l3->precedence ||
		   (l4->precedence == l3->precedence && entry_lpm_len(l4) > entry_lpm_len(l3)))) {
		chosen = l4;
		other = l3;
		kind = 2;
	} else {
		chosen = l3;
		other = l4;
	}

decide:
	if (!chosen) {
		__u8 default_deny = egress ? default_deny_egress : default_deny_ingress;

		verdict->match_kind = 0;
		verdict->match_lpm_len = 0;
		if (!default_deny)
			verdict->reason = POLC_ALLOW_DEFAULT;
		else if (pkt->nonfirst_fragment)
			verdict->reason = POLC_DROP_FRAG_NOSUPPORT;
		else
			verdict->reason = POLC_DROP_POLICY;
		return;
	}
	verdict->match_kind = kind;
	verdict->match_lpm_len = entry_lpm_len(chosen);
	if (chosen->flags & POLC_POLICY_FLAG_DENY) {
		verdict->reason = POLC_DROP_POLICY_DENY;
		return;
	}
	auth_type = chosen->auth & POLC_POLICY_AUTH_TYPE_MASK;
	/* An implicit auth type yields to a larger one of the other match at
	 * the same precedence (Cilium's auth propagation in the datapath). */
	if (!(chosen->auth & POLC_POLICY_AUTH_EXPLICIT) && other && other->precedence == chosen->precedence &&
	    (other->auth & POLC_POLICY_AUTH_TYPE_MASK) > auth_type)
		auth_type = other->auth & POLC_POLICY_AUTH_TYPE_MASK;
	if (auth_type && enforce_auth) {
		verdict->reason = POLC_DROP_AUTH_REQUIRED;
		return;
	}
	verdict->proxy_port = bpf_ntohs(chosen->proxy_port);
	if (verdict->proxy_port) {
		verdict->reason = POLC_ALLOW_REDIRECT;
		return;
	}
	if (kind == 3)
		verdict->reason = POLC_ALLOW_LOCALHOST;
	else if (kind == 2)
		verdict->reason = POLC_ALLOW_L4_ONLY;
	else
		verdict->reason = POLC_ALLOW_L3;
}

static __always_inline void fill_ct_key(struct polc_ct_key *ct, const struct polc_packet *pkt, __u8 egress, __u8 reverse)
{
	if (reverse) {
		__builtin_memcpy(ct->saddr, pkt->daddr, 16);
		__builtin_memcpy(ct->daddr, pkt->saddr, 16);
		ct->sport = pkt->dport;
		ct->dport = pkt->sport;
		ct->creator_egress = !egress;
	} else {
		__builtin_memcpy(ct->saddr, pkt->saddr, 16);
		__builtin_memcpy(ct->daddr, pkt->daddr, 16);
		ct->sport = pkt->sport;
		ct->dport = pkt->dport;
		ct->creator_egress = egress;
	}
	ct->protocol = pkt->protocol;
	ct->family = pkt->family;
	ct->pad = 0;
}

static __always_inline __u64 ct_lifetime(const struct polc_packet *pkt)
{
	return pkt->protocol == IPPROTO_TCP ? ct_lifetime_tcp_ns : ct_lifetime_other_ns;
}

static __always_inline int is_drop(__u32 reason)
{
	return reason >= POLC_DROP_POLICY;
}

static __always_inline int is_policy_drop(__u32 reason)
{
	return reason == POLC_DROP_POLICY || reason == POLC_DROP_POLICY_DENY || reason == POLC_DROP_AUTH_REQUIRED ||
	       reason == POLC_DROP_FRAG_NOSUPPORT;
}

/* The first 8 bytes of the L4 payload, zero-filled when the payload is shorter or unknown.
 * The payload ends at the IP packet's end or the frame's, whichever comes first, so the
 * Ethernet padding of a short frame is not payload. A payload shorter than 8 bytes is read
 * as the 8 bytes that end where it ends (they lie within the frame: the payload starts
 * after at least 34 bytes of headers) and shifted down, so every read has a constant length
 * (the verifier refuses a variable one that clang widens). Little-endian (the loader
 * refuses big-endian hosts): memory byte i is bits 8i..8i+7. */
static __always_inline void load_payload_prefix(struct __sk_buff *skb, const struct polc_packet *pkt, __u8 prefix[8])
{
	__u32 end = skb->len;
	__u32 off = pkt->payload_off;
	__u32 available;
	__u64 window = 0;

	if (pkt->ip_end && pkt->ip_end < end)
		end = pkt->ip_end;
	if (!off || off >= end || end < 8)
		return;
	available = end - off;
	if (available >= 8) {
		bpf_skb_load_bytes(skb, off, prefix, 8);
		return;
	}
	if (bpf_skb_load_bytes(skb, end - 8, &window, 8) < 0)
		return;
	window >>= 8 * (8 - available);
	__builtin_memcpy(prefix, &window, 8);
}

static __always_inline int finish(struct __sk_buff *skb, const struct polc_packet *pkt, struct polc_verdict *verdict,
				  __u8 egress, __u32 slot)
{
	__u32 index;
	struct polc_counter *counter;

	if (audit_mode && is_policy_drop(verdict->reason))
		verdict->reason = POLC_ALLOW_AUDIT;

	index = verdict->reason * 2 + (egress ? 1 : 0);
	counter = bpf_map_lookup_elem(&polc_counters, &index);
	if (counter) {
		counter->packets += 1;
		counter->bytes += skb->len;
	}

	if (record_verdict) {
		skb->cb[0] = verdict->reason;
		skb->cb[1] = verdict->remote_identity;
		skb->cb[2] = slot;
		skb->cb[3] = (__u32)verdict->match_kind | ((__u32)verdict->match_lpm_len << 8);
		skb->cb[4] = (__u32)pkt->policy_port | ((__u32)pkt->protocol << 16) | ((__u32)pkt->family << 24);
	}

	if (emit_verdict_events || (emit_drop_events && is_drop(verdict->reason))) {
		struct polc_drop_event event = {
			.remote_identity = verdict->remote_identity,
			.local_identity = endpoint_identity,
			.dport = pkt->policy_port,
			.protocol = pkt->protocol,
			.egress = egress,
			.reason = (__u8)verdict->reason,
			.family = pkt->family,
			.generation_slot = (__u8)slot,
		};

		if (emit_verdict_events) {
			/* One record per packet, allowed or dropped, naming it by its payload. */
			struct polc_verdict_event record = { .event = event };

			record.event.pad = POLC_VERDICT_EVENT_MARKER;
			load_payload_prefix(skb, pkt, record.payload_prefix);
			bpf_ringbuf_output(&polc_drops, &record, sizeof(record), 0);
		} else {
			bpf_ringbuf_output(&polc_drops, &event, sizeof(event), 0);
		}
	}

	if (is_drop(verdict->reason)) {
		return TC_ACT_SHOT;
	}
	if (verdict->reason == POLC_ALLOW_REDIRECT)
		skb->mark = proxy_mark_magic | ((__u32)verdict->proxy_port << 16);
	return TC_ACT_OK;
}

static __always_inline int polc_handle(struct __sk_buff *skb, const __u8 egress)
{
	struct polc_packet pkt = {};
	struct polc_verdict verdict = {};
	struct polc_ipcache_key ipkey = {};
	const struct polc_ipcache_value *ipval;
	void *policy_map, *ipcache_map, *ipcache_hosts = 0;
	__u32 zero = 0, slot = 0;
	__u64 now = 0;
	volatile __u32 *selected;
	__be16 proto;
	int ret;

	/* 1. The generation is read exactly once. */
	selected = bpf_map_lookup_elem(&polc_generation, &zero);
	if (selected)
		slot = *selected;
	if (slot >= POLC_GENERATION_SLOTS) {
		verdict.reason = POLC_DROP_NO_GENERATION;
		return finish(skb, &pkt, &verdict, egress, slot);
	}
	if (policy_map_hash)
		policy_map = bpf_map_lookup_elem(&polc_policy_hash, &slot);
	else
		policy_map = bpf_map_lookup_elem(&polc_policy, &slot);
	ipcache_map = bpf_map_lookup_elem(&polc_ipcache, &slot);
	if (ipcache_host_hash) {
		ipcache_hosts = bpf_map_lookup_elem(&polc_ipcache_hash, &slot);
		if (!ipcache_hosts) {
			verdict.reason = POLC_DROP_NO_GENERATION;
			return finish(skb, &pkt, &verdict, egress, slot);
		}
	}
	if (!selected || !policy_map || !ipcache_map) {
		verdict.reason = POLC_DROP_NO_GENERATION;
		return finish(skb, &pkt, &verdict, egress, slot);
	}

	/* 2. Parse. */
	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)) < 0) {
		verdict.reason = POLC_DROP_INVALID;
		return finish(skb, &pkt, &verdict, egress, slot);
	}
	if (proto == ETH_P_ARP_BE) {
		verdict.reason = POLC_ALLOW_NON_IP;
		return finish(skb, &pkt, &verdict, egress, slot);
	} else if (proto == ETH_P_IP_BE) {
		ret = parse_ipv4(skb, &pkt);
	} else if (proto == ETH_P_IPV6_BE) {
		ret = parse_ipv6(skb, &pkt);
	} else {
		verdict.reason = POLC_DROP_UNKNOWN_L3;
		return finish(skb, &pkt, &verdict, egress, slot);
	}
	if (ret >= 0) {
		verdict.reason = ret;
		return finish(skb, &pkt, &verdict, egress, slot);
	}

	/* 3. Remote identity. */
	ipkey.cluster_id = cluster_id;
	if (pkt.family == 4) {
		ipkey.prefixlen = POLC_IPCACHE_STATIC_PREFIX_BITS + 32;
		ipkey.family = POLC_FAMILY_IPV4;
		__builtin_memcpy(ipkey.addr, egress ? pkt.daddr : pkt.saddr, 4);
	} else {
		ipkey.prefixlen = POLC_IPCACHE_STATIC_PREFIX_BITS + 128;
		ipkey.family = POLC_FAMILY_IPV6;
		__builtin_memcpy(ipkey.addr, egress ? pkt.daddr : pkt.saddr, 16);
	}
	ipval = 0;
	if (ipcache_host_hash && ipcache_hosts)
		ipval = bpf_map_lookup_elem(ipcache_hosts, &ipkey);
	if (!ipval)
		ipval = bpf_map_lookup_elem(ipcache_map, &ipkey);
	if (ipval)
		verdict.remote_identity = ipval->sec_identity;
	else
		verdict.remote_identity = pkt.family == 4 ? world_identity_ipv4 : world_identity_ipv6;

	if (pkt.icmp_control) {
		verdict.reason = POLC_ALLOW_ICMP_CONTROL;
		return finish(skb, &pkt, &verdict, egress, slot);
	}

	/* 4. Replies of tracked flows skip policy. */
	if (enable_conntrack && (pkt.ct_reply || pkt.ct_create))
		now = bpf_ktime_get_ns();
	if (enable_conntrack && pkt.ct_reply) {
		struct polc_ct_key ct = {};
		struct polc_ct_value *entry;

		fill_ct_key(&ct, &pkt, egress, 1);
		entry = bpf_map_lookup_elem(&polc_ct, &ct);
		if (entry && entry->expires_ns > now) {
			entry->expires_ns = now + ct_lifetime(&pkt);
			verdict.reason = POLC_ALLOW_CT_REPLY;
			return finish(skb, &pkt, &verdict, egress, slot);
		}
	}

	/* 5. Policy. */
	policy_lookup(policy_map, &pkt, verdict.remote_identity, egress, &verdict);

	if (enable_conntrack && pkt.ct_create && !is_drop(verdict.reason)) {
		struct polc_ct_key ct = {};
		struct polc_ct_value fresh;
		struct polc_ct_value *entry;

		fill_ct_key(&ct, &pkt, egress, 0);
		fresh.expires_ns = now + ct_lifetime(&pkt);
		entry = bpf_map_lookup_elem(&polc_ct, &ct);
		if (entry)
			entry->expires_ns = fresh.expires_ns;
		else
			bpf_map_update_elem(&polc_ct, &ct, &fresh, BPF_ANY);
	}

	return finish(skb, &pkt, &verdict, egress, slot);
}

SEC("classifier")
int polc_ingress(struct __sk_buff *skb)
{
	return polc_handle(skb, 0);
}

SEC("classifier")
int polc_egress(struct __sk_buff *skb)
{
	return polc_handle(skb, 1);
}

char _license[] SEC("license") = "Apache-2.0";
