/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one record layout shared by every ctsync BPF program and, through BTF, by the generated
 * TypeScript decoder (src/kernel/bpf/ctsync.gen.ts). Change it here and run `npm run build:bpf`.
 *
 * Byte order: every value that ctnetlink carries (addresses, ports, status, timeout, mark, ...)
 * is kept in network order, as it arrives in the netlink message, so the socket filter copies
 * bytes without converting them. Fields the programs make themselves (ktime_ns, flags, present,
 * nl_type, nl_flags, portid) are in host order. Labels are a host-order bitmap, as ctnetlink
 * sends them.
 */
#ifndef CTSYNC_H
#define CTSYNC_H

/* One direction of a connection. IPv4 addresses sit in the first 4 bytes of src/dst. */
struct ct_tuple {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;       /* also the GRE key */
	__be16 dport;
	__be16 icmp_id;
	__u8 icmp_type;
	__u8 icmp_code;
	__be16 zone;        /* CTA_TUPLE_ZONE */
	__u8 proto;
	__u8 have;          /* enum tuple_have bits */
};

struct ct_seqadj {
	__be32 correction_pos;
	__be32 offset_before;
	__be32 offset_after;
};

struct ct_counters {
	__be64 packets;
	__be64 bytes;
};

struct ct_record {
	__u64 ktime_ns;     /* bpf_ktime_get_ns() when the record was reserved (CLOCK_MONOTONIC) */
	__u32 flags;        /* enum rec_flag */
	__u32 present;      /* enum rec_present: attributes the message carried */
	__u16 nl_type;      /* nlmsg_type (subsystem << 8 | message) */
	__u16 nl_flags;     /* nlmsg_flags: NLM_F_CREATE|NLM_F_EXCL marks a new conntrack */
	__u32 portid;       /* nlmsg_pid: the port whose request caused the event (0: the kernel) */
	__u8 family;        /* nfgen_family: AF_INET or AF_INET6 */
	__u8 event;         /* enum rec_event */
	__u8 tcp_state;
	__u8 tcp_wscale_orig;
	__u8 tcp_wscale_reply;
	__u8 tcp_flags_orig;
	__u8 tcp_flags_reply;
	__u8 sctp_state;
	__u8 dccp_state;
	__u8 dccp_role;
	__be16 zone;
	__be32 status;
	__be32 timeout;
	__be32 mark;
	__be32 id;
	__be32 use;
	__be32 secmark;
	__be32 sctp_vtag_orig;
	__be32 sctp_vtag_reply;
	__be64 dccp_handshake_seq;
	struct ct_tuple orig;
	struct ct_tuple reply;
	struct ct_tuple master;
	struct ct_seqadj seqadj_orig;
	struct ct_seqadj seqadj_reply;
	__be32 synproxy_isn;
	__be32 synproxy_its;
	__be32 synproxy_tsoff;
	struct ct_counters counters_orig;
	struct ct_counters counters_reply;
	__be64 ts_start;
	__be64 ts_stop;
	__u32 labels[4];
	/* last: the socket filter copies at most 16 bytes to any offset up to sizeof - 16 */
	char helper[16];
};

enum rec_event {
	REC_EV_NEW = 0,
	REC_EV_UPDATE = 1,
	REC_EV_DESTROY = 2,
};

enum rec_flag {
	/* every attribute of the message is in the record (a tracing record lacks the id) */
	REC_COMPLETE = 1 << 0,
	/* no conntrack data: the socket filter passed a message up to the socket at this point of
	 * the stream; the reader drains the socket here to keep the order */
	REC_PASSED_UP = 1 << 1,
	/* filled by a tracing program from struct nf_conn rather than from a netlink message */
	REC_TRACING = 1 << 2,
};

enum rec_present {
	P_ORIG = 1 << 0,
	P_REPLY = 1 << 1,
	P_STATUS = 1 << 2,
	P_TIMEOUT = 1 << 3,
	P_MARK = 1 << 4,
	P_ZONE = 1 << 5,
	P_ID = 1 << 6,
	P_USE = 1 << 7,
	P_SECMARK = 1 << 8,
	P_TCP = 1 << 9,
	P_TCP_WSCALE_ORIG = 1 << 10,
	P_TCP_WSCALE_REPLY = 1 << 11,
	P_TCP_FLAGS_ORIG = 1 << 12,
	P_TCP_FLAGS_REPLY = 1 << 13,
	P_SCTP = 1 << 14,
	P_SCTP_VTAG_ORIG = 1 << 15,
	P_SCTP_VTAG_REPLY = 1 << 16,
	P_DCCP = 1 << 17,
	P_DCCP_ROLE = 1 << 18,
	P_DCCP_HSEQ = 1 << 19,
	P_HELPER = 1 << 20,
	P_HELPER_NAME = 1 << 21,
	P_SEQADJ_ORIG = 1 << 22,
	P_SEQADJ_REPLY = 1 << 23,
	P_MASTER = 1 << 24,
	P_LABELS = 1 << 25,
	P_SYNPROXY = 1 << 26,
	P_COUNTERS_ORIG = 1 << 27,
	P_COUNTERS_REPLY = 1 << 28,
	P_TIMESTAMP = 1 << 29,
	P_TS_START = 1 << 30,
	P_TS_STOP = 1u << 31,
};

enum tuple_have {
	T_SRC = 1 << 0,
	T_DST = 1 << 1,
	T_PROTO = 1 << 2,
	T_SPORT = 1 << 3,
	T_DPORT = 1 << 4,
	T_ICMP = 1 << 5,    /* icmp type seen (code and id default to 0, as the TS codec does) */
	T_ZONE = 1 << 6,
	T_V6 = 1 << 7,      /* the addresses came as CTA_IP_V6_* */
};

/* Indices of the per-CPU counters map. */
enum ctr_index {
	CTR_SEEN = 0,       /* conntrack events the programs ran for */
	CTR_FILTERED = 1,   /* dropped by the accept-protocol / ignore-address maps */
	CTR_RB_FULL = 2,    /* ring-buffer reservations that failed: events lost */
	CTR_PASSED_UP = 3,  /* messages handed to the socket for the TypeScript codec */
	CTR_SUBMITTED = 4,  /* conntrack records submitted to the ring buffer */
	CTR_OTHER_NETNS = 5,/* tracing: events of another network namespace, ignored */
	CTR_MARKER_LOST = 6,/* pass-up markers that found the ring buffer full (order only) */
	CTR_DESTROY_UP = 7, /* DESTROY events that found the ring buffer full: handed to the socket */
	CTR_NUM = 8,
};

/* The single entry of the config array map, written by user space before attaching. */
struct ct_settings {
	__u32 flags;        /* enum cfg_flag */
	__u32 hz;           /* kernel HZ, for the tracing programs' timeout */
	__u64 netns;        /* inode of the network namespace the tracing programs follow */
};

enum cfg_flag {
	CFG_PROTO_FILTER = 1 << 0,  /* accept_proto decides */
	CFG_ADDR4_FILTER = 1 << 1,  /* ignore_v4 holds prefixes */
	CFG_ADDR6_FILTER = 1 << 2,  /* ignore_v6 holds prefixes */
	CFG_SOCKET_DROP_CT = 1 << 3,/* tracing mode: the socket filter drops conntrack messages */
};

struct lpm_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct lpm_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

#endif
