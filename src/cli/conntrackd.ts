// `ctsync conntrackd [-C FILE] -c|-f|-F|-R|-B|-n|-t|-k|-s|-i|-e [-x] ...`, also reached when the
// binary is called through a link named `conntrackd`: conntrackd 1.4.7's client, its request codes,
// texts and exit codes, so keepalived's stock primary-backup.sh and VyOS's scripts work unchanged.
import { readFileSync } from 'node:fs';
import process from 'node:process';
import { CODE, conntrackdRequest } from '../control/conntrackd.ts';
import { ctime } from '../daemon/log.ts';

export const DEFAULT_CONNTRACKD_CONF = '/etc/conntrackd/conntrackd.conf';

const USAGE = `Connection tracking userspace daemon v1.4.7 (ctsync)
Usage: conntrackd [options]

Daemon mode commands:
  -d [options]\t\tRun in daemon mode

Client mode commands:
  -c [ct|expect], commit external cache to conntrack table
  -f [|internal|external], flush internal and external cache
  -F [ct|expect], flush kernel conntrack table
  -i [ct|expect], display content of the internal cache
  -e [ct|expect], display the content of the external cache
  -k, kill conntrack daemon
  -s  [|network|cache|runtime|link|rsqueue|queue|ct|expect], dump statistics
  -R [ct|expect], resync with kernel conntrack table
  -n, request resync with other node (only FT-FW and NOTRACK modes)
  -B, force a bulk send to other replica firewalls
  -x, dump cache in XML format (requires -i or -e)
  -t, reset the kernel timeout (see PurgeTimeout clause)
  -v, display conntrackd version
  -h, display this help information
`;

/** conntrackd matches sub-command words by prefix: `-s net` is `-s network`. */
function pick(word: string | undefined, choices: string[]): string | undefined {
  if (word === undefined) return undefined;
  return choices.find((c) => c.startsWith(word) && word.length > 0);
}

/** The request code for conntrackd's command line, or a word for the local actions. */
export function codeFor(argv: string[]): { code?: number; local?: 'help' | 'version' | 'daemon'; config?: string; error?: string } {
  let config: string | undefined;
  let action: string | undefined;
  let sub: string | undefined;
  let xml = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = argv[i + 1] !== undefined && !argv[i + 1].startsWith('-') ? argv[i + 1] : undefined;
    switch (a) {
      case '-C': config = argv[++i]; break;
      case '-x': xml = true; break;
      case '-h': return { local: 'help' };
      case '-v': return { local: 'version' };
      case '-d': return { local: 'daemon', config };
      case '-c': case '-f': case '-F': case '-R': case '-i': case '-e': case '-s':
        action = a;
        if (next !== undefined) { sub = next; i++; }
        break;
      case '-B': case '-n': case '-t': case '-k':
        action = a;
        break;
      default:
        return { error: a };
    }
  }
  const ctExp = ['ct', 'expect'];
  switch (action) {
    case '-c': { const s = pick(sub, ctExp); return { config, code: s === 'ct' ? CODE.CT_COMMIT : s === 'expect' ? CODE.EXP_COMMIT : CODE.ALL_COMMIT }; }
    case '-f': { const s = pick(sub, ['internal', 'external']); return { config, code: s === 'internal' ? CODE.FLUSH_INT_CACHE : s === 'external' ? CODE.FLUSH_EXT_CACHE : CODE.ALL_FLUSH_CACHE }; }
    case '-F': { const s = pick(sub, ctExp); return { config, code: s === 'ct' ? CODE.CT_FLUSH_MASTER : s === 'expect' ? CODE.EXP_FLUSH_MASTER : CODE.ALL_FLUSH_MASTER }; }
    case '-R': { const s = pick(sub, ctExp); return { config, code: s === 'ct' ? CODE.CT_RESYNC_MASTER : s === 'expect' ? CODE.EXP_RESYNC_MASTER : CODE.ALL_RESYNC_MASTER }; }
    case '-i': { const e = pick(sub, ctExp) === 'expect'; return { config, code: xml ? (e ? CODE.EXP_DUMP_INT_XML : CODE.DUMP_INT_XML) : (e ? CODE.EXP_DUMP_INTERNAL : CODE.CT_DUMP_INTERNAL) }; }
    case '-e': { const e = pick(sub, ctExp) === 'expect'; return { config, code: xml ? (e ? CODE.EXP_DUMP_EXT_XML : CODE.DUMP_EXT_XML) : (e ? CODE.EXP_DUMP_EXTERNAL : CODE.CT_DUMP_EXTERNAL) }; }
    case '-s': {
      const s = pick(sub, ['ct', 'network', 'cache', 'runtime', 'link', 'multicast', 'rsqueue', 'process', 'queue', 'expect']);
      const codes: Record<string, number> = {
        ct: CODE.STATS, network: CODE.STATS_NETWORK, cache: CODE.STATS_CACHE, runtime: CODE.STATS_RUNTIME,
        link: CODE.STATS_LINK, multicast: CODE.STATS_LINK, rsqueue: CODE.STATS_RSQUEUE, process: CODE.STATS_PROCESS,
        queue: CODE.STATS_QUEUE, expect: CODE.STATS_EXPECT,
      };
      return { config, code: s ? codes[s] : CODE.STATS };
    }
    case '-B': return { config, code: CODE.SEND_BULK };
    case '-n': return { config, code: CODE.REQUEST_DUMP };
    case '-t': return { config, code: CODE.RESET_TIMERS };
    case '-k': return { config, code: CODE.KILL };
  }
  return { error: 'no command' };
}

/**
 * The UNIX socket named by a configuration file: conntrackd.conf's `UNIX { Path ... }`, or a
 * ctsync configuration's `conntrackd-socket`.
 */
export function socketFromConfig(text: string): string | undefined {
  const unix = /UNIX\s*\{[^}]*?\bPath\s+("?)([^\s"}]+)\1/m.exec(text);
  if (unix) return unix[2];
  const set = /conntrack-sync\s+conntrackd-socket\s+['"]?([^\s'"]+)/.exec(text);
  if (set) return set[1];
  try {
    const j = JSON.parse(text);
    const tree = j?.service?.['conntrack-sync'] ?? j;
    if (typeof tree?.['conntrackd-socket'] === 'string') return tree['conntrackd-socket'];
  } catch { /* not JSON */ }
  return undefined;
}

function errorLine(msg: string): string {
  return `[${ctime(new Date())}] (pid=${process.pid}) [ERROR] ${msg}\n`;
}

/** Runs the client; returns the exit code (1.4.7: 0, also after printing the usage). */
export async function conntrackdMain(argv: string[], out = process.stdout, err = process.stderr): Promise<number> {
  const r = codeFor(argv);
  if (r.local === 'help' || r.error !== undefined) {
    out.write(USAGE);
    return 0;
  }
  if (r.local === 'version') {
    out.write('Connection tracking userspace daemon v1.4.7 (ctsync). Licence GPLv2.\n');
    return 0;
  }
  if (r.local === 'daemon') {
    err.write(errorLine('daemon mode is `ctsync daemon -c FILE` (or the ctsync systemd unit)'));
    return 1;
  }
  const file = r.config ?? DEFAULT_CONNTRACKD_CONF;
  let path: string | undefined;
  try {
    path = socketFromConfig(readFileSync(file, 'utf8'));
  } catch (e) {
    err.write(errorLine(`can't open config file \`${file}': ${(e as NodeJS.ErrnoException).code ?? e}`));
    return 1;
  }
  if (!path) {
    err.write(errorLine(`no UNIX socket path (UNIX { Path ... } or conntrackd-socket) in ${file}`));
    return 1;
  }
  try {
    out.write(await conntrackdRequest(path, r.code!));
    return 0;
  } catch {
    err.write(errorLine("can't connect: is conntrackd running? appropriate permissions?"));
    return 1;
  }
}
