// Whether a reload (SIGHUP) from the running configuration to a new one can be applied live, and
// if not, which changes need a restart.
import type { Config } from './schema.ts';
import { configToRawTree, nodeValues } from './render.ts';

/**
 * Top-level nodes that can change while the daemon runs. Everything else (mode, event-source,
 * interfaces and their transport, mcast-group, listen-address, socket buffers, control sockets,
 * disable-external-cache, resend-queue-size) rebuilds sockets, caches or the sync state machine.
 */
export const LIVE_NODES: ReadonlySet<string> = new Set([
  'accept-protocol', // filter maps are rewritten in place
  'ignore-address',
  'purge-timeout', // read when the next purge is scheduled
  'commit-timeout', // read at the next commit
  'commit-guard', // read at the next commit
  'expect-sync', // expectation event groups are joined or left
  'startup-resync', // only matters at start
  'disable-syslog',
  'metrics-address', // the exporter is rebound
  'event-listen-queue-size', // a bound on the next buffer growth
  'failover-mechanism', // the sync-group name matched in keepalived's notifications
  'keepalived', // the notify FIFO is reopened
  'hash-limit', // a bound checked on insert
  'refresh-time', // ALARM timers pick it up on their next run
  'cache-timeout',
  'retransmit-timeout',
  'auth-key-file', // the key file is read again
  'log-file', // reopened
]);

export interface ReloadChange {
  /** node words after `service conntrack-sync`, e.g. "interface eth1 port" */
  node: string;
  /** values before and after; [] = absent, ['(set)'] for a valueless node that is present */
  from: string[];
  to: string[];
  live: boolean;
}

export interface ReloadPlan {
  changes: ReloadChange[];
  /** true when every change can be applied without a restart (also true when nothing changed) */
  live: boolean;
  /** the changes that need a restart */
  restart: ReloadChange[];
  /** one line for the log or the CLI */
  message: string;
}

function valueMap(c: Config): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const n of nodeValues(configToRawTree(c))) m.set(n.words.join(' '), n.values.length ? n.values : ['(set)']);
  return m;
}

const show = (v: string[]) => (v.length === 0 ? '(absent)' : v.join(' '));

export function planReload(running: Config, next: Config): ReloadPlan {
  const a = valueMap(running), b = valueMap(next);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  const changes: ReloadChange[] = [];
  for (const k of keys) {
    const from = a.get(k) ?? [], to = b.get(k) ?? [];
    if (from.length === to.length && from.every((x, i) => x === to[i])) continue;
    changes.push({ node: k, from, to, live: LIVE_NODES.has(k.split(' ')[0]) });
  }
  const restart = changes.filter((c) => !c.live);
  const describe = (c: ReloadChange) => `${c.node} (${show(c.from)} -> ${show(c.to)})`;
  let message: string;
  if (changes.length === 0) message = 'reload: configuration unchanged';
  else if (restart.length === 0) message = `reload: applying live: ${changes.map(describe).join(', ')}`;
  else {
    message = `reload refused: ${restart.map(describe).join(', ')} need${restart.length === 1 ? 's' : ''} a restart; ` +
      'the running configuration is unchanged. Restart ctsync to apply the new file (with startup-resync the peer resends its flows), ' +
      'or undo these changes and reload again';
  }
  return { changes, live: restart.length === 0, restart, message };
}
