// `ctsync help [COMMAND]`: one line per command in the overview, the details on request.

export const COMMANDS: Record<string, { usage: string; summary: string; details?: string }> = {
  daemon: {
    usage: 'ctsync daemon -c FILE',
    summary: 'run the synchronisation daemon in the foreground',
    details: 'Reads the configuration (VyOS `set service conntrack-sync ...` lines or the same tree as JSON),\n' +
      'checks it, and runs until SIGTERM/SIGINT. SIGHUP reloads the file: filter, timers, logging and\n' +
      'expect-sync apply live; a change of transport, interfaces or mode is refused with a message.\n' +
      'Under systemd it reports READY/STOPPING/WATCHDOG (Type=notify).',
  },
  config: {
    usage: 'ctsync config check FILE [--json]',
    summary: 'validate a configuration and print it with every default filled in',
    details: 'Exit status 0 when valid (warnings allowed), 1 with one line per error otherwise.',
  },
  show: {
    usage: 'ctsync show conntrack table ipv4|ipv6 [--json]\n' +
      '       ctsync show conntrack-sync statistics|status [--json]\n' +
      '       ctsync show conntrack-sync cache internal|external [main|expect] [--json]\n' +
      '       ctsync show conntrack-sync stats [network|cache|runtime|link|rsqueue|queue|process|expect|latency]\n' +
      '       ctsync show conntrack-sync latency [--json]',
    summary: 'the kernel table and the daemon\'s caches, statistics and status, in VyOS\'s layouts',
  },
  commit: { usage: 'ctsync commit', summary: 'commit the external cache into the kernel; returns when done' },
  flush: { usage: 'ctsync flush [internal|external]', summary: 'empty the caches (both by default)' },
  resync: { usage: 'ctsync resync', summary: 'refill the internal cache from the kernel table' },
  'bulk-send': { usage: 'ctsync bulk-send', summary: 'send the whole internal cache to the peer' },
  'request-resync': { usage: 'ctsync request-resync', summary: 'ask the peer to send its whole internal cache' },
  purge: { usage: 'ctsync purge', summary: 'flush synchronised kernel entries after purge-timeout (as conntrackd -t)' },
  reset: {
    usage: 'ctsync reset conntrack-sync internal-cache|external-cache',
    summary: 'as VyOS: internal: flush, resync, bulk-send; external: flush, request-resync',
  },
  restart: { usage: 'ctsync restart', summary: 'restart synchronisation (fresh caches), then request a resync and bulk-send' },
  failover: {
    usage: 'ctsync failover master|backup|fault|stop SYNC-GROUP',
    summary: 'a VRRP transition, for keepalived notify_master/notify_backup/notify_fault lines',
    details: 'MASTER: commit, flush, resync, bulk-send. BACKUP: schedule the purge, request a resync.\n' +
      'FAULT: schedule the purge. Returns when the work is done; exit 1 if it failed.',
  },
  conntrackd: {
    usage: 'ctsync conntrackd [-C FILE] -c|-f|-F|-R|-B|-n|-t|-k|-s|-i|-e [-x] ...',
    summary: 'conntrackd 1.4.7\'s client, also when invoked through a link named conntrackd',
  },
  top: { usage: 'ctsync top', summary: 'live view of rates, caches, ring buffer, wire, loss, latency and VRRP state (q quits)' },
  demo: {
    usage: 'ctsync demo [--connections N] [--streams N] [--udp N] [--failback] [--no-sync] [--no-guard]',
    summary: 'the two-firewall lab with keepalived, real traffic and a failover (root)',
    details: 'Builds namespaces with two firewalls running keepalived and ctsync, opens TCP connections (200, 20 of them\n' +
      'streaming) and UDP flows (50) through the virtual address, stops keepalived on the master and checks every\n' +
      'connection. --failback: then start it again. --no-sync: without ctsync (the connections die). Exit 0 when\n' +
      'every connection survived. Everything is removed at the end, also on Ctrl-C.',
  },
  version: { usage: 'ctsync --version', summary: 'print the version' },
  help: { usage: 'ctsync help [COMMAND]', summary: 'this overview, or one command in detail' },
};

export const GLOBAL_OPTIONS = '  --socket PATH   the daemon\'s control socket (default: control-socket of -c FILE, or /run/ctsync/ctsync.sock)\n' +
  '  -c FILE         configuration file (default /etc/ctsync/ctsync.conf)\n' +
  '  --json          machine-readable output, where a command prints';

export function helpText(command?: string): string | undefined {
  if (command) {
    const c = COMMANDS[command];
    if (!c) return undefined;
    return `usage: ${c.usage}\n\n${c.summary}.\n${c.details ? `\n${c.details}\n` : ''}\noptions:\n${GLOBAL_OPTIONS}\n`;
  }
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  const lines = Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`);
  return `ctsync: conntrack synchronisation for firewall pairs (conntrackd 1.4.7 compatible)\n\n` +
    `usage: ctsync COMMAND [ARGS] [OPTIONS]\n\ncommands:\n${lines.join('\n')}\n\noptions:\n${GLOBAL_OPTIONS}\n\n` +
    `\`ctsync help COMMAND\` for details.\n`;
}
