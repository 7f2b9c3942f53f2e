// The shape of the `service conntrack-sync` tree: which nodes exist, which take one value, many
// values or none, and what a value looks like. The set-line reader and the JSON reader walk this
// table; the values themselves are checked by the valibot schema in schema.ts.

export type NodeDef =
  /** one value: `mcast-group 225.0.0.50` */
  | { kind: 'leaf'; help: string }
  /** several values, one per line: `accept-protocol tcp` */
  | { kind: 'multi'; help: string }
  /** no value: `disable-syslog` */
  | { kind: 'flag'; help: string }
  /** a fixed word followed by children: `failover-mechanism vrrp ...` */
  | { kind: 'container'; help: string; children: Children }
  /** a word chosen by the user followed by children: `interface eth0 peer ...` */
  | { kind: 'tag'; help: string; children: Children };

export type Children = Readonly<Record<string, NodeDef>>;

export const CONNTRACK_SYNC_NODES: Children = {
  'accept-protocol': { kind: 'multi', help: 'tcp, udp, icmp, icmp6, sctp or dccp' },
  'auth-key-file': { kind: 'leaf', help: 'absolute path of the shared HMAC key file' },
  'cache-timeout': { kind: 'leaf', help: 'seconds, 1 to 2147483647 (ALARM mode; default 180)' },
  'commit-guard': { kind: 'leaf', help: 'on or off (default on): drop traffic of flows not yet committed while a commit runs' },
  'commit-timeout': { kind: 'leaf', help: 'seconds, 0 to 2147483647 (0: from the received timeout)' },
  'conntrackd-socket': { kind: 'leaf', help: 'absolute path of a conntrackd-compatible control socket' },
  'control-socket': { kind: 'leaf', help: 'absolute path (default /run/ctsync/ctsync.sock)' },
  'disable-external-cache': { kind: 'flag', help: 'no value' },
  'disable-syslog': { kind: 'flag', help: 'no value' },
  'event-listen-queue-size': { kind: 'leaf', help: 'MB, 0 to 4294967295 (default 8)' },
  'event-source': { kind: 'leaf', help: 'auto, bpf-tracing, bpf-netlink or netlink (default auto)' },
  'expect-sync': { kind: 'multi', help: 'all, ftp, h323, nfs, sip or sqlnet' },
  'failover-mechanism': {
    kind: 'container', help: 'vrrp',
    children: {
      vrrp: {
        kind: 'container', help: 'sync-group',
        children: { 'sync-group': { kind: 'leaf', help: 'the VRRP sync-group name' } },
      },
    },
  },
  'hash-limit': { kind: 'leaf', help: 'entries, 1 to 4294967295 (default 2 x nf_conntrack_max)' },
  'ignore-address': { kind: 'multi', help: 'IPv4 or IPv6 address or prefix' },
  interface: {
    kind: 'tag', help: 'interface name',
    children: {
      peer: { kind: 'leaf', help: 'IPv4 or IPv6 unicast address of the peer' },
      port: { kind: 'leaf', help: 'UDP port, 1 to 65535 (default 3780)' },
    },
  },
  keepalived: {
    kind: 'container', help: 'notify-fifo',
    children: { 'notify-fifo': { kind: 'leaf', help: 'absolute path of keepalived\'s notify_fifo' } },
  },
  'listen-address': { kind: 'multi', help: 'local IPv4 address' },
  'log-file': { kind: 'leaf', help: 'absolute path' },
  'mcast-group': { kind: 'leaf', help: 'IPv4 multicast address (default 225.0.0.50)' },
  'metrics-address': { kind: 'leaf', help: 'ADDR:PORT, e.g. 127.0.0.1:9934 or [::1]:9934' },
  mode: { kind: 'leaf', help: 'ftfw, notrack or alarm (default ftfw)' },
  'purge-timeout': { kind: 'leaf', help: 'seconds, 1 to 2147483647 (default 60)' },
  'refresh-time': { kind: 'leaf', help: 'seconds, 1 to 2147483647 (ALARM mode; default 60)' },
  'resend-queue-size': { kind: 'leaf', help: 'messages, 1 to 4294967295 (default 131072)' },
  'retransmit-timeout': { kind: 'leaf', help: 'milliseconds, 100 to 600000 (default 2000)' },
  'startup-resync': { kind: 'flag', help: 'no value' },
  'sync-queue-size': { kind: 'leaf', help: 'MB, 0 to 4294967295 (default 1)' },
};
