// conntrackd 1.4.7 wire constants: message header layout, types, flags, attribute ids and sizes,
// and the wrap-safe sequence comparisons. Reference: shared/reference/conntrackd-wire-protocol.md §1-2.

export const PROTOCOL_VERSION = 1;

/** `struct nethdr`: version<<4|type, flags, u16 len (BE), u32 seq (BE). */
export const NETHDR_SIZE = 8;
/** `struct nethdr_ack`: NETHDR + u32 from + u32 to (BE); ACK, NACK and RESYNC only. */
export const NETHDR_ACK_SIZE = 16;
/** `struct netattr`: u16 nta_len (BE, without padding) + u16 nta_attr (BE). */
export const NTA_HDR_SIZE = 4;

/** Message types (low nibble of byte 0). */
export const MSG = {
  CT_NEW: 0, CT_UPD: 1, CT_DEL: 2, EXP_NEW: 3, EXP_UPD: 4, EXP_DEL: 5, CTL: 10,
} as const;
export const MSG_STATE_MAX = 5;
export type DataMsgType = 0 | 1 | 2 | 3 | 4 | 5;
export type CtMsgType = 0 | 1 | 2;
export type ExpMsgType = 3 | 4 | 5;

/** Flags (byte 1). HELLO and HELLO_BACK may ride on any FTFW message. */
export const FLAG = {
  UNUSED: 0x01, RESYNC: 0x02, NACK: 0x04, ACK: 0x08, ALIVE: 0x10, HELLO: 0x20, HELLO_BACK: 0x40,
} as const;
export const HELLO_FLAGS = FLAG.HELLO | FLAG.HELLO_BACK;
/** Control kinds that carry from/to (16-byte header). */
export const RANGE_FLAGS = FLAG.ACK | FLAG.NACK | FLAG.RESYNC;

/** Conntrack attribute ids (`enum nta_attr`), message types 0-2. */
export const NTA = {
  IPV4: 0, IPV6: 1, L4PROTO: 2, PORT: 3, TCP_STATE: 4, STATUS: 5, TIMEOUT: 6, MARK: 7,
  MASTER_IPV4: 8, MASTER_IPV6: 9, MASTER_L4PROTO: 10, MASTER_PORT: 11,
  SNAT_IPV4: 12, DNAT_IPV4: 13, SPAT_PORT: 14, DPAT_PORT: 15, NAT_SEQ_ADJ: 16,
  SCTP_STATE: 17, SCTP_VTAG_ORIG: 18, SCTP_VTAG_REPL: 19, DCCP_STATE: 20, DCCP_ROLE: 21,
  ICMP_TYPE: 22, ICMP_CODE: 23, ICMP_ID: 24, TCP_WSCALE_ORIG: 25, TCP_WSCALE_REPL: 26,
  HELPER_NAME: 27, LABELS: 28, SNAT_IPV6: 29, DNAT_IPV6: 30, SYNPROXY: 31, ZONE: 32,
} as const;
export const NTA_MAX = 33;

/** Expectation attribute ids (`enum nta_exp_attr`), message types 3-5. */
export const NTA_EXP = {
  MASTER_IPV4: 0, MASTER_IPV6: 1, MASTER_L4PROTO: 2, MASTER_PORT: 3,
  EXPECT_IPV4: 4, EXPECT_IPV6: 5, EXPECT_L4PROTO: 6, EXPECT_PORT: 7,
  MASK_IPV4: 8, MASK_IPV6: 9, MASK_L4PROTO: 10, MASK_PORT: 11,
  TIMEOUT: 12, FLAGS: 13, CLASS: 14, NAT_IPV4: 15, NAT_PORT: 16, NAT_L4PROTO: 17, NAT_DIR: 18,
  HELPER_NAME: 19, FN: 20,
} as const;
export const NTA_EXP_MAX = 21;

/**
 * Per attribute id: the exact nta_len for fixed-size attributes (> 0), or minus the maximum
 * nta_len for variable ones (< 0). These are the receiver's checks in msg2ct/msg2exp.
 */
export const CT_ATTR_SIZE: readonly number[] = [
  12, 36, 5, 8, 5, 8, 8, 8, // IPV4 IPV6 L4PROTO PORT TCP_STATE STATUS TIMEOUT MARK
  12, 36, 5, 8, // MASTER_IPV4 MASTER_IPV6 MASTER_L4PROTO MASTER_PORT
  8, 8, 6, 6, 28, // SNAT_IPV4 DNAT_IPV4 SPAT_PORT DPAT_PORT NAT_SEQ_ADJ
  5, 8, 8, 5, 5, // SCTP_STATE VTAG_ORIG VTAG_REPL DCCP_STATE DCCP_ROLE
  5, 5, 6, 5, 5, // ICMP_TYPE ICMP_CODE ICMP_ID WSCALE_ORIG WSCALE_REPL
  -16, -1028, 20, 20, 16, 6, // HELPER_NAME LABELS SNAT_IPV6 DNAT_IPV6 SYNPROXY ZONE
];
export const EXP_ATTR_SIZE: readonly number[] = [
  12, 36, 5, 8, 12, 36, 5, 8, 12, 36, 5, 8, // MASTER, EXPECT, MASK groups
  8, 8, 8, 12, 8, 5, 8, // TIMEOUT FLAGS CLASS NAT_IPV4 NAT_PORT NAT_L4PROTO NAT_DIR
  -16, -32, // HELPER_NAME FN
];

/** Longest helper name the receiver accepts: nta_len <= 16 including the header and the NUL. */
export const HELPER_NAME_MAX = 11;
export const EXP_FN_MAX = 27;
/** Most label words one NTA_LABELS carries (nta_len <= 4 + 1024). */
export const LABEL_WORDS_MAX = 256;
/** The kernel's connlabel area is 128 bits; conntrackd always sends that many words. */
export const KERNEL_LABEL_WORDS = 4;

/** Upper bound of one encoded message (largest ct message with 256 label words is < 1400). */
export const MAX_MESSAGE_SIZE = 1536;
/** IPv4 + UDP header; conntrackd sizes its datagram buffer as MTU - 28 (for IPv6 too). */
export const IPV4_UDP_OVERHEAD = 28;
export const IPV6_UDP_OVERHEAD = 48;

export const align4 = (n: number): number => (n + 3) & ~3;

/** TCP-style wrap-safe comparison of 32-bit sequence numbers. */
export function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}
/** b <= a <= c, wrap-safe (conntrackd's between()). */
export function between(a: number, b: number, c: number): boolean {
  return ((c - b) >>> 0) >= ((a - b) >>> 0);
}
