// Names as libnetfilter_conntrack prints them (its proto2str, l3proto2str and state tables), which
// is what conntrack -L, conntrackd -i/-e and their XML show. Not the same as flow.ts protoName():
// libnetfilter_conntrack says "unknown" for every protocol outside its table (VRRP included).

const PROTO: Readonly<Record<number, string>> = {
  1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite',
};

export function lnfctProtoName(proto: number): string {
  return PROTO[proto] ?? 'unknown';
}

export function lnfctL3Name(family: 4 | 6): string {
  return family === 4 ? 'ipv4' : 'ipv6';
}

/** AF_INET / AF_INET6 */
export function l3Num(family: 4 | 6): number {
  return family === 4 ? 2 : 10;
}

export const TCP_STATE_NAMES = [
  'NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT',
  'CLOSE', 'SYN_SENT2',
] as const;

export const SCTP_STATE_NAMES = [
  'NONE', 'CLOSED', 'COOKIE_WAIT', 'COOKIE_ECHOED', 'ESTABLISHED', 'SHUTDOWN_SENT', 'SHUTDOWN_RECD',
  'SHUTDOWN_ACK_SENT', 'HEARTBEAT_SENT', 'HEARTBEAT_ACKED',
] as const;

export const DCCP_STATE_NAMES = [
  'NONE', 'REQUEST', 'RESPOND', 'PARTOPEN', 'OPEN', 'CLOSEREQ', 'CLOSING', 'TIMEWAIT', 'IGNORE', 'INVALID',
] as const;

export function tcpStateName(state: number): string {
  return TCP_STATE_NAMES[state] ?? 'NONE';
}
export function sctpStateName(state: number): string {
  return SCTP_STATE_NAMES[state] ?? 'NONE';
}
export function dccpStateName(state: number): string {
  return DCCP_STATE_NAMES[state] ?? 'NONE';
}
