// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Socket filter for a ctnetlink event socket (attached with SO_ATTACH_BPF). For every conntrack
 * event message it copies the message once and walks its netlink attributes with one bounded
 * loop, fills a fixed-layout record (ctsync.h) in the ring buffer, applies the filter maps and
 * returns 0, so the message is never queued on the socket. A message it cannot represent
 * completely (an expectation event, an attribute it does not know, a malformed message, one over
 * 1,024 bytes) goes up to the socket instead,
 * where the TypeScript codec reads it; a marker record keeps its place in the event order.
 */
#define CTSYNC_DEFINE_MAPS
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "maps.h"

char LICENSE[] SEC("license") = "GPL";

#define SUBSYS_CTNETLINK 1
#define CT_MSG_NEW 0
#define CT_MSG_DELETE 2
#define NLM_F_EXCL 0x200
#define NLM_F_CREATE 0x400
#define NLA_TYPE_MASK 0x3fff
/* attributes (nested ones included) a message may hold; more go up to the socket */
#define MAX_ATTRS 96

/*
 * The attribute table: for each nesting context and attribute type, what to do with it.
 * A context is one kind of nest (the top level, the original tuple, its address nest, ...);
 * tuples have one context per direction so that every entry is a fixed record offset.
 */
enum ctx {
	C_TOP, C_T_ORIG, C_T_REPLY, C_T_MASTER, C_IP_ORIG, C_IP_REPLY, C_IP_MASTER,
	C_PR_ORIG, C_PR_REPLY, C_PR_MASTER, C_PINFO, C_TCP, C_DCCP, C_SCTP, C_HELP,
	C_SEQ_ORIG, C_SEQ_REPLY, C_CNT_ORIG, C_CNT_REPLY, C_TSTAMP, C_SYNPROXY, C_NUM
};

enum kind {
	K_UNKNOWN = 0,  /* not representable: the message goes up to the socket */
	K_FIXED,        /* payload of exactly len bytes, copied to off */
	K_UPTO,         /* payload of at most len bytes (strings, label bitmaps), copied to off */
	K_NEST,         /* descend into context `child` */
	K_SKIP,         /* known and not needed (e.g. CTA_SECCTX) */
	K_HEAD,         /* payload of at least len bytes, whose first len bytes are copied */
};

struct entry {
	__u16 off;      /* where the payload goes in struct ct_record */
	__u8 len;
	__u8 kind;
	__u16 pbyte;    /* byte of struct ct_record whose bits `pmask` say "present" */
	__u8 pmask;
	__u8 child;
};

#define TYPES 32
#define E(ctx, type) [(ctx) * TYPES + (type)]
#define OFF(f) __builtin_offsetof(struct ct_record, f)
/* the present word is host-order (little-endian on the targets ctsync supports): bit b lives in
 * byte b / 8 */
#define PBYTE(bit) (OFF(present) + (__builtin_ctz(bit) >> 3))
#define PMASK(bit) (1u << (__builtin_ctz(bit) & 7))
#define FIX(f, n, bit) { OFF(f), n, K_FIXED, PBYTE(bit), PMASK(bit), 0 }
#define FIX0(f, n) { OFF(f), n, K_FIXED, OFF(present), 0, 0 }
#define UPTO(f, n, bit) { OFF(f), n, K_UPTO, PBYTE(bit), PMASK(bit), 0 }
#define NEST(c, bit) { 0, 0, K_NEST, PBYTE(bit), PMASK(bit), c }
#define NEST0(c) { 0, 0, K_NEST, OFF(present), 0, c }
#define SKIP { 0, 0, K_SKIP, OFF(present), 0, 0 }
#define HEAD(f, n, bit) { OFF(f), n, K_HEAD, PBYTE(bit), PMASK(bit), 0 }
#define TFIX(t, f, n, h) { OFF(t.f), n, K_FIXED, OFF(t.have), h, 0 }

/* CTA_* numbers of linux/netfilter/nfnetlink_conntrack.h, renamed: vmlinux.h may hold some */
enum { CT_A_TUPLE_ORIG = 1, CT_A_TUPLE_REPLY, CT_A_STATUS, CT_A_PROTOINFO, CT_A_HELP, CT_A_NAT_SRC,
	CT_A_TIMEOUT, CT_A_MARK, CT_A_COUNTERS_ORIG, CT_A_COUNTERS_REPLY, CT_A_USE, CT_A_ID, CT_A_NAT_DST,
	CT_A_TUPLE_MASTER, CT_A_SEQ_ADJ_ORIG, CT_A_SEQ_ADJ_REPLY, CT_A_SECMARK, CT_A_ZONE, CT_A_SECCTX,
	CT_A_TIMESTAMP, CT_A_MARK_MASK, CT_A_LABELS, CT_A_LABELS_MASK, CT_A_SYNPROXY, CT_A_FILTER,
	CT_A_STATUS_MASK, CT_A_TIMESTAMP_EVENT };
enum { CT_A_TUPLE_IP = 1, CT_A_TUPLE_PROTO, CT_A_TUPLE_ZONE };
enum { CT_A_IP_V4_SRC = 1, CT_A_IP_V4_DST, CT_A_IP_V6_SRC, CT_A_IP_V6_DST };
enum { CT_A_PROTO_NUM = 1, CT_A_PROTO_SRC_PORT, CT_A_PROTO_DST_PORT, CT_A_PROTO_ICMP_ID,
	CT_A_PROTO_ICMP_TYPE, CT_A_PROTO_ICMP_CODE, CT_A_PROTO_ICMPV6_ID, CT_A_PROTO_ICMPV6_TYPE,
	CT_A_PROTO_ICMPV6_CODE };
enum { CT_A_PROTOINFO_TCP = 1, CT_A_PROTOINFO_DCCP, CT_A_PROTOINFO_SCTP };
enum { CT_A_PROTOINFO_TCP_STATE = 1, CT_A_PROTOINFO_TCP_WSCALE_ORIGINAL,
	CT_A_PROTOINFO_TCP_WSCALE_REPLY, CT_A_PROTOINFO_TCP_FLAGS_ORIGINAL,
	CT_A_PROTOINFO_TCP_FLAGS_REPLY };
enum { CT_A_PROTOINFO_DCCP_STATE = 1, CT_A_PROTOINFO_DCCP_ROLE, CT_A_PROTOINFO_DCCP_HANDSHAKE_SEQ,
	CT_A_PROTOINFO_DCCP_PAD };
enum { CT_A_PROTOINFO_SCTP_STATE = 1, CT_A_PROTOINFO_SCTP_VTAG_ORIGINAL,
	CT_A_PROTOINFO_SCTP_VTAG_REPLY };
enum { CT_A_HELP_NAME = 1 };
enum { CT_A_SEQADJ_CORRECTION_POS = 1, CT_A_SEQADJ_OFFSET_BEFORE, CT_A_SEQADJ_OFFSET_AFTER };
enum { CT_A_COUNTERS_PACKETS = 1, CT_A_COUNTERS_BYTES, CT_A_COUNTERS32_PACKETS, CT_A_COUNTERS32_BYTES,
	CT_A_COUNTERS_PAD };
enum { CT_A_TIMESTAMP_START = 1, CT_A_TIMESTAMP_STOP, CT_A_TIMESTAMP_PAD };
enum { CT_A_SYNPROXY_ISN = 1, CT_A_SYNPROXY_ITS, CT_A_SYNPROXY_TSOFF };

#define TUPLE_ENTRIES(T, IP, PR, t)                                                      \
	E(T, CT_A_TUPLE_IP) = NEST0(IP),                                                  \
	E(T, CT_A_TUPLE_PROTO) = NEST0(PR),                                               \
	E(T, CT_A_TUPLE_ZONE) = TFIX(t, zone, 2, T_ZONE),                                 \
	E(IP, CT_A_IP_V4_SRC) = TFIX(t, src, 4, T_SRC),                                   \
	E(IP, CT_A_IP_V4_DST) = TFIX(t, dst, 4, T_DST),                                   \
	E(IP, CT_A_IP_V6_SRC) = TFIX(t, src, 16, T_SRC | T_V6),                           \
	E(IP, CT_A_IP_V6_DST) = TFIX(t, dst, 16, T_DST | T_V6),                           \
	E(PR, CT_A_PROTO_NUM) = TFIX(t, proto, 1, T_PROTO),                               \
	E(PR, CT_A_PROTO_SRC_PORT) = TFIX(t, sport, 2, T_SPORT),                          \
	E(PR, CT_A_PROTO_DST_PORT) = TFIX(t, dport, 2, T_DPORT),                          \
	E(PR, CT_A_PROTO_ICMP_ID) = TFIX(t, icmp_id, 2, 0),                               \
	E(PR, CT_A_PROTO_ICMP_TYPE) = TFIX(t, icmp_type, 1, T_ICMP),                      \
	E(PR, CT_A_PROTO_ICMP_CODE) = TFIX(t, icmp_code, 1, 0),                           \
	E(PR, CT_A_PROTO_ICMPV6_ID) = TFIX(t, icmp_id, 2, 0),                             \
	E(PR, CT_A_PROTO_ICMPV6_TYPE) = TFIX(t, icmp_type, 1, T_ICMP),                    \
	E(PR, CT_A_PROTO_ICMPV6_CODE) = TFIX(t, icmp_code, 1, 0)

static const struct entry table[C_NUM * TYPES] = {
	E(C_TOP, CT_A_TUPLE_ORIG) = NEST(C_T_ORIG, P_ORIG),
	E(C_TOP, CT_A_TUPLE_REPLY) = NEST(C_T_REPLY, P_REPLY),
	E(C_TOP, CT_A_TUPLE_MASTER) = NEST(C_T_MASTER, P_MASTER),
	E(C_TOP, CT_A_STATUS) = FIX(status, 4, P_STATUS),
	E(C_TOP, CT_A_TIMEOUT) = FIX(timeout, 4, P_TIMEOUT),
	E(C_TOP, CT_A_MARK) = FIX(mark, 4, P_MARK),
	E(C_TOP, CT_A_ZONE) = FIX(zone, 2, P_ZONE),
	E(C_TOP, CT_A_ID) = FIX(id, 4, P_ID),
	E(C_TOP, CT_A_USE) = FIX(use, 4, P_USE),
	E(C_TOP, CT_A_SECMARK) = FIX(secmark, 4, P_SECMARK),
	E(C_TOP, CT_A_SECCTX) = SKIP,
	/* when the kernel stamped a delayed event; the Flow model has no field for it */
	E(C_TOP, CT_A_TIMESTAMP_EVENT) = SKIP,
	E(C_TOP, CT_A_LABELS) = UPTO(labels, 16, P_LABELS),
	E(C_TOP, CT_A_PROTOINFO) = NEST0(C_PINFO),
	E(C_TOP, CT_A_HELP) = NEST(C_HELP, P_HELPER),
	E(C_TOP, CT_A_SEQ_ADJ_ORIG) = NEST(C_SEQ_ORIG, P_SEQADJ_ORIG),
	E(C_TOP, CT_A_SEQ_ADJ_REPLY) = NEST(C_SEQ_REPLY, P_SEQADJ_REPLY),
	E(C_TOP, CT_A_COUNTERS_ORIG) = NEST(C_CNT_ORIG, P_COUNTERS_ORIG),
	E(C_TOP, CT_A_COUNTERS_REPLY) = NEST(C_CNT_REPLY, P_COUNTERS_REPLY),
	E(C_TOP, CT_A_TIMESTAMP) = NEST(C_TSTAMP, P_TIMESTAMP),
	E(C_TOP, CT_A_SYNPROXY) = NEST(C_SYNPROXY, P_SYNPROXY),

	TUPLE_ENTRIES(C_T_ORIG, C_IP_ORIG, C_PR_ORIG, orig),
	TUPLE_ENTRIES(C_T_REPLY, C_IP_REPLY, C_PR_REPLY, reply),
	TUPLE_ENTRIES(C_T_MASTER, C_IP_MASTER, C_PR_MASTER, master),

	E(C_PINFO, CT_A_PROTOINFO_TCP) = NEST(C_TCP, P_TCP),
	E(C_PINFO, CT_A_PROTOINFO_DCCP) = NEST(C_DCCP, P_DCCP),
	E(C_PINFO, CT_A_PROTOINFO_SCTP) = NEST(C_SCTP, P_SCTP),
	E(C_TCP, CT_A_PROTOINFO_TCP_STATE) = FIX0(tcp_state, 1),
	E(C_TCP, CT_A_PROTOINFO_TCP_WSCALE_ORIGINAL) = FIX(tcp_wscale_orig, 1, P_TCP_WSCALE_ORIG),
	E(C_TCP, CT_A_PROTOINFO_TCP_WSCALE_REPLY) = FIX(tcp_wscale_reply, 1, P_TCP_WSCALE_REPLY),
	/* struct nf_ct_tcp_flags { flags, mask }: the record keeps the flags byte */
	E(C_TCP, CT_A_PROTOINFO_TCP_FLAGS_ORIGINAL) = HEAD(tcp_flags_orig, 1, P_TCP_FLAGS_ORIG),
	E(C_TCP, CT_A_PROTOINFO_TCP_FLAGS_REPLY) = HEAD(tcp_flags_reply, 1, P_TCP_FLAGS_REPLY),
	E(C_DCCP, CT_A_PROTOINFO_DCCP_STATE) = FIX0(dccp_state, 1),
	E(C_DCCP, CT_A_PROTOINFO_DCCP_ROLE) = FIX(dccp_role, 1, P_DCCP_ROLE),
	E(C_DCCP, CT_A_PROTOINFO_DCCP_HANDSHAKE_SEQ) = FIX(dccp_handshake_seq, 8, P_DCCP_HSEQ),
	E(C_DCCP, CT_A_PROTOINFO_DCCP_PAD) = SKIP,
	E(C_SCTP, CT_A_PROTOINFO_SCTP_STATE) = FIX0(sctp_state, 1),
	E(C_SCTP, CT_A_PROTOINFO_SCTP_VTAG_ORIGINAL) = FIX(sctp_vtag_orig, 4, P_SCTP_VTAG_ORIG),
	E(C_SCTP, CT_A_PROTOINFO_SCTP_VTAG_REPLY) = FIX(sctp_vtag_reply, 4, P_SCTP_VTAG_REPLY),

	E(C_HELP, CT_A_HELP_NAME) = UPTO(helper, 16, P_HELPER_NAME),

	E(C_SEQ_ORIG, CT_A_SEQADJ_CORRECTION_POS) = FIX0(seqadj_orig.correction_pos, 4),
	E(C_SEQ_ORIG, CT_A_SEQADJ_OFFSET_BEFORE) = FIX0(seqadj_orig.offset_before, 4),
	E(C_SEQ_ORIG, CT_A_SEQADJ_OFFSET_AFTER) = FIX0(seqadj_orig.offset_after, 4),
	E(C_SEQ_REPLY, CT_A_SEQADJ_CORRECTION_POS) = FIX0(seqadj_reply.correction_pos, 4),
	E(C_SEQ_REPLY, CT_A_SEQADJ_OFFSET_BEFORE) = FIX0(seqadj_reply.offset_before, 4),
	E(C_SEQ_REPLY, CT_A_SEQADJ_OFFSET_AFTER) = FIX0(seqadj_reply.offset_after, 4),

	E(C_CNT_ORIG, CT_A_COUNTERS_PACKETS) = FIX0(counters_orig.packets, 8),
	E(C_CNT_ORIG, CT_A_COUNTERS_BYTES) = FIX0(counters_orig.bytes, 8),
	E(C_CNT_REPLY, CT_A_COUNTERS_PACKETS) = FIX0(counters_reply.packets, 8),
	E(C_CNT_REPLY, CT_A_COUNTERS_BYTES) = FIX0(counters_reply.bytes, 8),
	/* alignment padding only (architectures without efficient unaligned access) */
	E(C_CNT_ORIG, CT_A_COUNTERS_PAD) = SKIP,
	E(C_CNT_REPLY, CT_A_COUNTERS_PAD) = SKIP,

	E(C_TSTAMP, CT_A_TIMESTAMP_START) = FIX(ts_start, 8, P_TS_START),
	E(C_TSTAMP, CT_A_TIMESTAMP_STOP) = FIX(ts_stop, 8, P_TS_STOP),
	E(C_TSTAMP, CT_A_TIMESTAMP_PAD) = SKIP,

	E(C_SYNPROXY, CT_A_SYNPROXY_ISN) = FIX0(synproxy_isn, 4),
	E(C_SYNPROXY, CT_A_SYNPROXY_ITS) = FIX0(synproxy_its, 4),
	E(C_SYNPROXY, CT_A_SYNPROXY_TSOFF) = FIX0(synproxy_tsoff, 4),
};

/* every copy is at most 16 bytes to an offset of at most sizeof - 16 (see parse) */
_Static_assert(__builtin_offsetof(struct ct_record, helper) + 16 == sizeof(struct ct_record),
	       "struct ct_record must end with its 16-byte helper name");

/*
 * The message is parsed from a copy in this per-CPU buffer: one bpf_skb_load_bytes per event
 * instead of one per attribute (an event has about 25). A longer message goes up to the socket.
 * The 32 bytes past MSG_MAX let an attribute's 20-byte read start anywhere below MSG_MAX.
 */
#define MSG_MAX 1024
struct msg_copy {
	__u8 b[MSG_MAX + 32];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct msg_copy);
} msg_scratch SEC(".maps");

/* Fills r from the attributes in [off, end). Returns 1 when every attribute found a place. */
static __always_inline int parse(const __u8 *m, struct ct_record *r, __u32 off, __u32 end)
{
	__u32 end1 = 0, end2 = 0, ctx1 = 0, ctx2 = 0, depth = 0;
	int i;

#pragma clang loop unroll(disable)
	for (i = 0; i < MAX_ATTRS; i++) {
		/* leave the nests that end here (a nest may end together with its parent) */
		if (depth == 2 && off >= end2)
			depth = 1;
		if (depth == 1 && off >= end1)
			depth = 0;
		if (depth == 0 && off >= end)
			return off == end;

		__u32 limit = depth == 2 ? end2 : depth == 1 ? end1 : end;
		__u32 ctx = depth == 2 ? ctx2 : depth == 1 ? ctx1 : C_TOP;
		/* here off < limit <= end <= MSG_MAX, so the mask changes nothing but what the
		 * verifier knows: every pass starts from the same range [0, MSG_MAX) and it prunes
		 * the loop's states instead of following each offset apart */
		off &= MSG_MAX - 1;
		const __u8 *a = m + off;
		__u32 len = *(const __u16 *)a;
		__u32 type = *(const __u16 *)(a + 2) & NLA_TYPE_MASK;

		__u32 idx = ctx * TYPES + type;

		if (len < 4 || off + len > limit || type >= TYPES)
			return 0;
		/* the check must bind the very register used as the index */
		asm volatile("" : "+r"(idx));
		if (idx >= C_NUM * TYPES)
			return 0;
		const struct entry *e = &table[idx];
		__u32 kind = e->kind, plen = len - 4, pbyte = e->pbyte;

		if (kind == K_UNKNOWN)
			return 0;
		if (pbyte < sizeof(*r))
			((__u8 *)r)[pbyte] |= e->pmask;
		if (kind == K_NEST) {
			if (depth == 0) {
				ctx1 = e->child;
				end1 = off + len;
				depth = 1;
			} else if (depth == 1) {
				ctx2 = e->child;
				end2 = off + len;
				depth = 2;
			} else {
				return 0;
			}
			off += 4;
			continue;
		}
		if (kind != K_SKIP) {
			__u32 n = e->len, dst = e->off;

			if ((kind == K_FIXED && plen != n) || (kind == K_UPTO && plen > n) ||
			    (kind == K_HEAD && plen < n))
				return 0;
			if (kind == K_UPTO)
				n = plen;
			if (n > 16 || dst > sizeof(*r) - 16)
				return 0;
			/* the payload's first n bytes (at most 16) */
			__u8 *d = (__u8 *)r + dst;
#pragma clang loop unroll(full)
			for (int j = 0; j < 16; j++)
				if (j < n)
					d[j] = a[4 + j];
		}
		off += (len + 3) & ~3u;
	}
	return 0;
}

/* Copies the message (20 to MSG_MAX bytes) into the scratch buffer; 0 when done. */
static __always_inline int copy_message(struct __sk_buff *skb, struct msg_copy *c, __u64 len)
{
	/* an opaque 64-bit value: the compiler checks and passes the same register, not a
	 * zero-extended copy for the check and the original for the call */
	asm volatile("" : "+r"(len));
	if (len < 20 || len > MSG_MAX)
		return -1;
	return bpf_skb_load_bytes(skb, 0, c->b, len);
}

static __always_inline int tuple_ok(const struct ct_tuple *t)
{
	return (t->have & (T_SRC | T_DST | T_PROTO)) == (T_SRC | T_DST | T_PROTO);
}

SEC("socket")
int ct_socket(struct __sk_buff *skb)
{
	struct {
		__u32 len;
		__u16 type;
		__u16 flags;
		__u32 seq;
		__u32 pid;
		__u8 family;
	} h = {};
	struct ct_settings *cfg = get_config();
	__u32 zero = 0;
	struct msg_copy *copy = bpf_map_lookup_elem(&msg_scratch, &zero);
	struct ct_record *r;
	__u32 skb_len = skb->len;

	if (bpf_skb_load_bytes(skb, 0, &h, 17))
		goto pass_up;
	if (h.type >> 8 != SUBSYS_CTNETLINK ||
	    ((h.type & 0xff) != CT_MSG_NEW && (h.type & 0xff) != CT_MSG_DELETE))
		goto pass_up;
	if (cfg && (cfg->flags & CFG_SOCKET_DROP_CT))
		return 0;
	count(CTR_SEEN);

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		/* The reader is behind. A DESTROY goes to the socket instead, read there once the ring
		 * is empty: out of order, but its kernel id tells it from a newer conntrack of the same
		 * tuple. Should the socket be full too, the kernel keeps the conntrack and sends the
		 * event again (the socket asks for delivery errors). A mass delete (a flush, an
		 * interface going down) thus loses nothing. Other events are lost, and user space
		 * resyncs: an old NEW or UPDATE read late would undo a newer one. */
		if ((h.type & 0xff) == CT_MSG_DELETE) {
			count(CTR_DESTROY_UP);
			return skb_len;
		}
		count(CTR_RB_FULL);
		return 0;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->ktime_ns = bpf_ktime_get_ns();
	r->nl_type = h.type;
	r->nl_flags = h.flags;
	r->portid = h.pid;
	r->family = h.family;
	if ((h.type & 0xff) == CT_MSG_DELETE)
		r->event = REC_EV_DESTROY;
	else
		r->event = h.flags & (NLM_F_CREATE | NLM_F_EXCL) ? REC_EV_NEW : REC_EV_UPDATE;

	/* one message per skb, as ctnetlink sends events */
	if (h.len != skb_len || !copy || copy_message(skb, copy, h.len) ||
	    !parse(copy->b, r, 20, h.len) ||
	    !tuple_ok(&r->orig) || ((r->present & P_REPLY) && !tuple_ok(&r->reply))) {
		/* keep the slot as a marker of where the message sits in the stream */
		__builtin_memset(r, 0, sizeof(*r));
		r->ktime_ns = bpf_ktime_get_ns();
		r->flags = REC_PASSED_UP;
		r->nl_type = h.type;
		r->nl_flags = h.flags;
		r->portid = h.pid;
		bpf_ringbuf_submit(r, 0);
		count(CTR_PASSED_UP);
		return skb_len;
	}
	if (filtered_out(cfg, r)) {
		/* no flags: the kernel then wakes a reader waiting at exactly this slot. With
		 * BPF_RB_NO_WAKEUP an idle reader slept through every record that followed, since
		 * the kernel wakes only for a record at the consumer's position, and the discarded
		 * one stays there until the reader skips it */
		bpf_ringbuf_discard(r, 0);
		count(CTR_FILTERED);
		return 0;
	}
	r->flags = REC_COMPLETE;
	bpf_ringbuf_submit(r, 0);
	count(CTR_SUBMITTED);
	return 0;

pass_up:
	/* not a conntrack event (expectations, or something unexpected): the socket reads it */
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		__builtin_memset(r, 0, sizeof(*r));
		r->ktime_ns = bpf_ktime_get_ns();
		r->flags = REC_PASSED_UP;
		r->nl_type = h.type;
		bpf_ringbuf_submit(r, 0);
	} else {
		count(CTR_MARKER_LOST);
	}
	count(CTR_PASSED_UP);
	return skb_len;
}

/*
 * BTF anchor: clang emits BTF only for types that something references. The TypeScript
 * generator (build/bpf2ts.mjs) reads the record layout and the enums from the object's BTF
 * through this variable.
 */
struct ctsync_layout {
	struct ct_record record;
	struct ct_settings settings;
	enum rec_event event;
	enum rec_flag flag;
	enum rec_present present;
	enum tuple_have have;
	enum ctr_index counter;
	enum cfg_flag config;
};
/* in .rodata, which the attribute table already needs: no extra map */
const struct ctsync_layout ctsync_layout = {};
