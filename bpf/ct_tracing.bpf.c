// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tracing programs (BPF trampolines) on ctnetlink's event callback: they read struct nf_conn
 * with CO-RE and fill the same record as the socket filter, without a netlink message being
 * parsed. ctnetlink_conntrack_event() is where the kernel turns a conntrack event into the
 * message the socket filter would see, so the event types match: DESTROY, NEW (new or related),
 * otherwise UPDATE. Kernels that refuse trampolines fail the load with EPERM after the verifier
 * has accepted the programs; the loader then switches them off and uses the socket filter.
 *
 * The conntrack id (a keyed hash the kernel computes on demand) is not available here, so these
 * records lack P_ID and are not REC_COMPLETE.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "maps.h"

/*
 * The kernel types these programs read, reduced to the members used. The ___ctsync suffix makes
 * them local "flavors": CO-RE matches them by name to the running kernel's types and relocates
 * every offset, and the object's BTF stays small.
 */
#define __co_re __attribute__((preserve_access_index))

union nf_inet_addr___ctsync {
	__u32 all[4];
	__be32 ip;
} __co_re;

struct nf_conntrack_tuple___ctsync {
	struct {
		union nf_inet_addr___ctsync u3;
		union {
			__be16 all;
			struct { __be16 id; } icmp;
		} u;
		__u16 l3num;
	} src;
	struct {
		union nf_inet_addr___ctsync u3;
		union {
			__be16 all;
			struct { __u8 type; __u8 code; } icmp;
		} u;
		__u8 protonum;
	} dst;
} __co_re;

struct nf_conntrack_tuple_hash___ctsync {
	struct nf_conntrack_tuple___ctsync tuple;
} __co_re;

struct ns_common___ctsync { unsigned int inum; } __co_re;
struct net___ctsync { struct ns_common___ctsync ns; } __co_re;

struct ip_ct_tcp_state___ctsync { __u8 td_scale; __u8 flags; } __co_re;
struct ip_ct_tcp___ctsync { struct ip_ct_tcp_state___ctsync seen[2]; __u8 state; } __co_re;
enum sctp_conntrack___ctsync { SCTP_CONNTRACK_NONE___ctsync };
struct ip_ct_sctp___ctsync { enum sctp_conntrack___ctsync state; __be32 vtag[2]; } __co_re;
union nf_conntrack_proto___ctsync {
	struct ip_ct_sctp___ctsync sctp;
	struct ip_ct_tcp___ctsync tcp;
} __co_re;

struct nf_ct_ext___ctsync { __u8 offset[1]; } __co_re;

struct nf_conn___ctsync {
	__u32 timeout;
	struct { __u16 id; } zone;
	struct nf_conntrack_tuple_hash___ctsync tuplehash[2];
	unsigned long status;
	struct { struct net___ctsync *net; } ct_net;
	struct nf_conn___ctsync *master;
	__u32 mark;
	struct nf_ct_ext___ctsync *ext;
	union nf_conntrack_proto___ctsync proto;
} __co_re;

struct nf_ct_event___ctsync { struct nf_conn___ctsync *ct; __u32 portid; } __co_re;

struct nf_conntrack_helper___ctsync { char name[16]; } __co_re;
struct nf_conn_help___ctsync { struct nf_conntrack_helper___ctsync *helper; } __co_re;
struct nf_ct_seqadj___ctsync { __u32 correction_pos; __s32 offset_before; __s32 offset_after; } __co_re;
struct nf_conn_seqadj___ctsync { struct nf_ct_seqadj___ctsync seq[2]; } __co_re;
struct nf_conn_synproxy___ctsync { __u32 isn; __u32 its; __u32 tsoff; } __co_re;
struct nf_conn_counter___ctsync {
	struct { __s64 counter; } packets;
	struct { __s64 counter; } bytes;
} __co_re;
struct nf_conn_acct___ctsync { struct nf_conn_counter___ctsync counter[2]; } __co_re;
struct nf_conn_tstamp___ctsync { __u64 start; __u64 stop; } __co_re;

enum nf_ct_ext_id___ctsync {
	NF_CT_EXT_HELPER___ctsync, NF_CT_EXT_SEQADJ___ctsync, NF_CT_EXT_ACCT___ctsync,
	NF_CT_EXT_TSTAMP___ctsync, NF_CT_EXT_LABELS___ctsync, NF_CT_EXT_SYNPROXY___ctsync,
};
#define EXT(name) bpf_core_enum_value(enum nf_ct_ext_id___ctsync, NF_CT_EXT_##name##___ctsync)

/* enum ip_conntrack_events bits */
#define EV_NEW (1u << 0)
#define EV_RELATED (1u << 1)
#define EV_DESTROY (1u << 2)
#define EV_PROTOINFO (1u << 5)
#define EV_LABEL (1u << 10)
#define EV_SEQADJ (1u << 8)
#define EV_SYNPROXY (1u << 11)
#define EV_MARK (1u << 7)

#define IPPROTO_ICMP 1
#define IPPROTO_ICMPV6 58
#define IPPROTO_TCP 6
#define IPPROTO_SCTP 132
#define AF_INET6 10

static __always_inline void fill_tuple(struct ct_tuple *t, const struct nf_conntrack_tuple___ctsync *k, int v6)
{
	__u8 proto = BPF_CORE_READ(k, dst.protonum);

	if (v6) {
		BPF_CORE_READ_INTO(&t->src, k, src.u3.all);
		BPF_CORE_READ_INTO(&t->dst, k, dst.u3.all);
	} else {
		BPF_CORE_READ_INTO((__u32 *)t->src, k, src.u3.ip);
		BPF_CORE_READ_INTO((__u32 *)t->dst, k, dst.u3.ip);
	}
	t->proto = proto;
	t->have = T_SRC | T_DST | T_PROTO | (v6 ? T_V6 : 0);
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		t->icmp_id = BPF_CORE_READ(k, src.u.icmp.id);
		t->icmp_type = BPF_CORE_READ(k, dst.u.icmp.type);
		t->icmp_code = BPF_CORE_READ(k, dst.u.icmp.code);
		t->have |= T_ICMP;
	} else if (proto == 6 || proto == 17 || proto == 132 || proto == 33 || proto == 136 ||
		   proto == 47) {
		t->sport = BPF_CORE_READ(k, src.u.all);
		t->dport = BPF_CORE_READ(k, dst.u.all);
		t->have |= T_SPORT | T_DPORT;
	}
}

/* Address of a conntrack extension, or NULL when the conntrack does not carry it. */
static __always_inline void *ct_ext(struct nf_conn___ctsync *ct, int id)
{
	struct nf_ct_ext___ctsync *ext = BPF_CORE_READ(ct, ext);
	__u8 off = 0;

	if (!ext || id < 0 || id >= 16)
		return NULL;
	bpf_core_read(&off, 1, &ext->offset[id]);
	return off ? (void *)ext + off : NULL;
}

static __always_inline int fill(struct ct_record *r, unsigned int events, const struct nf_ct_event___ctsync *item,
				const struct ct_settings *cfg)
{
	struct nf_conn___ctsync *ct = BPF_CORE_READ(item, ct);
	int v6, destroy = events & EV_DESTROY;
	__u32 hz = cfg && cfg->hz ? cfg->hz : 250;

	r->portid = BPF_CORE_READ(item, portid);
	r->family = BPF_CORE_READ(ct, tuplehash[0].tuple.src.l3num);
	v6 = r->family == AF_INET6;
	r->flags = REC_TRACING;
	if (destroy) {
		r->event = REC_EV_DESTROY;
		r->nl_type = 0x102;
	} else if (events & (EV_NEW | EV_RELATED)) {
		r->event = REC_EV_NEW;
		r->nl_type = 0x100;
		r->nl_flags = 0x600;
	} else {
		r->event = REC_EV_UPDATE;
		r->nl_type = 0x100;
	}
	fill_tuple(&r->orig, &ct->tuplehash[0].tuple, v6);
	fill_tuple(&r->reply, &ct->tuplehash[1].tuple, v6);
	r->present = P_ORIG | P_REPLY | P_STATUS;
	r->status = bpf_htonl((__u32)BPF_CORE_READ(ct, status));

	__u16 zone = BPF_CORE_READ(ct, zone.id);
	if (zone) {
		r->zone = bpf_htons(zone);
		r->present |= P_ZONE;
	}
	__u32 mark = BPF_CORE_READ(ct, mark);
	if (mark || (events & EV_MARK)) {
		r->mark = bpf_htonl(mark);
		r->present |= P_MARK;
	}
	if (!destroy) {
		__s32 left = (__s32)(BPF_CORE_READ(ct, timeout) - (__u32)bpf_jiffies64());

		r->timeout = bpf_htonl(left > 0 ? (__u32)left / hz : 0);
		r->present |= P_TIMEOUT;
		if (r->orig.proto == IPPROTO_TCP && (events & (EV_NEW | EV_RELATED | EV_PROTOINFO))) {
			r->tcp_state = BPF_CORE_READ(ct, proto.tcp.state);
			r->tcp_wscale_orig = BPF_CORE_READ(ct, proto.tcp.seen[0].td_scale);
			r->tcp_wscale_reply = BPF_CORE_READ(ct, proto.tcp.seen[1].td_scale);
			r->tcp_flags_orig = BPF_CORE_READ(ct, proto.tcp.seen[0].flags);
			r->tcp_flags_reply = BPF_CORE_READ(ct, proto.tcp.seen[1].flags);
			r->present |= P_TCP | P_TCP_WSCALE_ORIG | P_TCP_WSCALE_REPLY |
				      P_TCP_FLAGS_ORIG | P_TCP_FLAGS_REPLY;
		} else if (r->orig.proto == IPPROTO_SCTP &&
			   (events & (EV_NEW | EV_RELATED | EV_PROTOINFO))) {
			r->sctp_state = BPF_CORE_READ(ct, proto.sctp.state);
			r->sctp_vtag_orig = BPF_CORE_READ(ct, proto.sctp.vtag[0]);
			r->sctp_vtag_reply = BPF_CORE_READ(ct, proto.sctp.vtag[1]);
			r->present |= P_SCTP | P_SCTP_VTAG_ORIG | P_SCTP_VTAG_REPLY;
		}
		struct nf_conn_help___ctsync *help = ct_ext(ct, EXT(HELPER));
		if (help) {
			struct nf_conntrack_helper___ctsync *h = BPF_CORE_READ(help, helper);

			r->present |= P_HELPER;
			if (h && bpf_probe_read_kernel_str(r->helper, sizeof(r->helper), &h->name) > 0)
				r->present |= P_HELPER_NAME;
		}
		void *lab = ct_ext(ct, EXT(LABELS));
		if (lab && (events & EV_LABEL)) {
			bpf_probe_read_kernel(r->labels, sizeof(r->labels), lab);
			r->present |= P_LABELS;
		}
		struct nf_conn_seqadj___ctsync *sa = ct_ext(ct, EXT(SEQADJ));
		if (sa && (events & EV_SEQADJ)) {
			r->seqadj_orig.correction_pos = bpf_htonl(BPF_CORE_READ(sa, seq[0].correction_pos));
			r->seqadj_orig.offset_before = bpf_htonl(BPF_CORE_READ(sa, seq[0].offset_before));
			r->seqadj_orig.offset_after = bpf_htonl(BPF_CORE_READ(sa, seq[0].offset_after));
			r->seqadj_reply.correction_pos = bpf_htonl(BPF_CORE_READ(sa, seq[1].correction_pos));
			r->seqadj_reply.offset_before = bpf_htonl(BPF_CORE_READ(sa, seq[1].offset_before));
			r->seqadj_reply.offset_after = bpf_htonl(BPF_CORE_READ(sa, seq[1].offset_after));
			r->present |= P_SEQADJ_ORIG | P_SEQADJ_REPLY;
		}
		struct nf_conn_synproxy___ctsync *sp = ct_ext(ct, EXT(SYNPROXY));
		if (sp && (events & EV_SYNPROXY)) {
			r->synproxy_isn = bpf_htonl(BPF_CORE_READ(sp, isn));
			r->synproxy_its = bpf_htonl(BPF_CORE_READ(sp, its));
			r->synproxy_tsoff = bpf_htonl(BPF_CORE_READ(sp, tsoff));
			r->present |= P_SYNPROXY;
		}
		struct nf_conn___ctsync *master = BPF_CORE_READ(ct, master);
		if (master && (events & EV_RELATED)) {
			fill_tuple(&r->master, &master->tuplehash[0].tuple, v6);
			r->present |= P_MASTER;
		}
	} else {
		struct nf_conn_acct___ctsync *acct = ct_ext(ct, EXT(ACCT));
		if (acct) {
			r->counters_orig.packets = bpf_cpu_to_be64(BPF_CORE_READ(acct, counter[0].packets.counter));
			r->counters_orig.bytes = bpf_cpu_to_be64(BPF_CORE_READ(acct, counter[0].bytes.counter));
			r->counters_reply.packets = bpf_cpu_to_be64(BPF_CORE_READ(acct, counter[1].packets.counter));
			r->counters_reply.bytes = bpf_cpu_to_be64(BPF_CORE_READ(acct, counter[1].bytes.counter));
			r->present |= P_COUNTERS_ORIG | P_COUNTERS_REPLY;
		}
		struct nf_conn_tstamp___ctsync *ts = ct_ext(ct, EXT(TSTAMP));
		if (ts) {
			r->ts_start = bpf_cpu_to_be64(BPF_CORE_READ(ts, start));
			r->ts_stop = bpf_cpu_to_be64(BPF_CORE_READ(ts, stop));
			r->present |= P_TIMESTAMP | P_TS_START | P_TS_STOP;
		}
	}
	return 0;
}

static __always_inline int trace_event(unsigned int evmask, const struct nf_ct_event___ctsync *item)
{
	struct ct_settings *cfg = get_config();
	struct nf_conn___ctsync *ct = BPF_CORE_READ(item, ct);
	struct ct_record *r;

	/* ctnetlink sends nothing for an empty mask */
	if (!evmask || !ct)
		return 0;
	/* a trampoline sees every namespace; follow the daemon's own */
	if (cfg && cfg->netns && BPF_CORE_READ(ct, ct_net.net, ns.inum) != cfg->netns) {
		count(CTR_OTHER_NETNS);
		return 0;
	}
	count(CTR_SEEN);
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(CTR_RB_FULL);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ktime_ns = bpf_ktime_get_ns();
	fill(r, evmask, item, cfg);
	if (filtered_out(cfg, r)) {
		/* no flags, as in ct_socket.bpf.c: a reader waiting at this slot must be woken */
		bpf_ringbuf_discard(r, 0);
		count(CTR_FILTERED);
		return 0;
	}
	bpf_ringbuf_submit(r, 0);
	count(CTR_SUBMITTED);
	return 0;
}

/* static int ctnetlink_conntrack_event(unsigned int events, const struct nf_ct_event *item) */
SEC("fentry/ctnetlink_conntrack_event")
int BPF_PROG(ct_trace_event, unsigned int evmask, const struct nf_ct_event___ctsync *item)
{
	return trace_event(evmask, item);
}

/*
 * The same body as a BTF tracepoint program: the same program type, helpers and verifier, but
 * no trampoline. The loader never attaches it; it loads it to prove that the tracing code passes
 * the verifier on kernels that refuse trampolines before logging anything.
 */
SEC("tp_btf/sched_switch")
int ct_trace_verify(unsigned long long *ctx)
{
	unsigned long long mask = ctx[0], item = ctx[1];

	/* opaque to the compiler, so that it keeps every path of the real program */
	asm volatile("" : "+r"(mask), "+r"(item));
	return trace_event((unsigned int)mask, (const struct nf_ct_event___ctsync *)item);
}
