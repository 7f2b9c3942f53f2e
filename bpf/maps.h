/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The maps every ctsync program shares, and the filter and counter helpers over them. One
 * compilation unit defines the maps (CTSYNC_DEFINE_MAPS); the others see them as externs, which
 * `bpftool gen object` resolves when it links the units into one object.
 */
#ifndef CTSYNC_MAPS_H
#define CTSYNC_MAPS_H

#include "ctsync.h"

#ifdef CTSYNC_DEFINE_MAPS
#define CTSYNC_MAP
#else
#define CTSYNC_MAP extern
#endif

/* Records for user space. The size is set before load (event-listen-queue-size). */
CTSYNC_MAP struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20);
} events SEC(".maps");

/* enum ctr_index -> count, per CPU. */
CTSYNC_MAP struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CTR_NUM);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* IP protocol -> 1 when accepted; consulted only with CFG_PROTO_FILTER. */
CTSYNC_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u8);
} accept_proto SEC(".maps");

/* Ignored IPv4 / IPv6 prefixes (ignore-address). */
CTSYNC_MAP struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v4_key);
	__type(value, __u8);
} ignore_v4 SEC(".maps");

CTSYNC_MAP struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1024);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_v6_key);
	__type(value, __u8);
} ignore_v6 SEC(".maps");

CTSYNC_MAP struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ct_settings);
} ct_config SEC(".maps");

static __always_inline void count(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline struct ct_settings *get_config(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&ct_config, &zero);
}

static __always_inline int addr_ignored(const __u8 *addr, int v6)
{
	if (v6) {
		struct lpm_v6_key k = { .prefixlen = 128 };

		__builtin_memcpy(k.addr, addr, 16);
		return bpf_map_lookup_elem(&ignore_v6, &k) != NULL;
	} else {
		struct lpm_v4_key k = { .prefixlen = 32 };

		__builtin_memcpy(k.addr, addr, 4);
		return bpf_map_lookup_elem(&ignore_v4, &k) != NULL;
	}
}

/*
 * The filter rule of src/flow/filter.ts, in the kernel: drop when the protocol is not accepted,
 * or when the original source, original destination or reply source is an ignored address.
 */
static __always_inline int filtered_out(const struct ct_settings *cfg, const struct ct_record *r)
{
	__u32 flags = cfg ? cfg->flags : 0;
	int v6 = r->family == 10;

	if (flags & CFG_PROTO_FILTER) {
		__u32 p = r->orig.proto;
		__u8 *ok = bpf_map_lookup_elem(&accept_proto, &p);

		if (!ok || !*ok)
			return 1;
	}
	if (flags & (v6 ? CFG_ADDR6_FILTER : CFG_ADDR4_FILTER)) {
		if (addr_ignored(r->orig.src, v6) || addr_ignored(r->orig.dst, v6))
			return 1;
		if ((r->present & P_REPLY) && addr_ignored(r->reply.src, v6))
			return 1;
	}
	return 0;
}

#endif
