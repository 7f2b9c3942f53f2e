// The effective configuration back into VyOS's forms: `set` lines sorted as VyOS shows them
// (node names alphabetically, tag values in natural order, multi values in the order given) and
// the JSON tree. Every default is written out.
import { CONNTRACK_SYNC_NODES, type Children } from './nodes.ts';
import { type Config, naturalCompare } from './schema.ts';
import type { RawTree } from './raw.ts';

/** The configuration as a raw tree with every node that has a value (defaults included). */
export function configToRawTree(c: Config): RawTree {
  const t: RawTree = {};
  if (c.acceptProtocol.length) t['accept-protocol'] = [...c.acceptProtocol];
  if (c.authKeyFile !== undefined) t['auth-key-file'] = c.authKeyFile;
  t['cache-timeout'] = String(c.cacheTimeout);
  t['commit-guard'] = c.commitGuard ? 'on' : 'off';
  t['commit-timeout'] = String(c.commitTimeout);
  if (c.conntrackdSocket !== undefined) t['conntrackd-socket'] = c.conntrackdSocket;
  t['control-socket'] = c.controlSocket;
  if (c.disableExternalCache) t['disable-external-cache'] = true;
  if (c.disableSyslog) t['disable-syslog'] = true;
  t['event-listen-queue-size'] = String(c.eventListenQueueSize);
  t['event-source'] = c.eventSource;
  if (c.expectSync.length) t['expect-sync'] = [...c.expectSync];
  if (c.failover.syncGroup !== '') t['failover-mechanism'] = { vrrp: { 'sync-group': c.failover.syncGroup } };
  if (c.hashLimit !== undefined) t['hash-limit'] = String(c.hashLimit);
  if (c.ignoreAddress.length) t['ignore-address'] = [...c.ignoreAddress];
  if (c.interfaces.length) {
    const rec: RawTree = {};
    for (const i of c.interfaces) {
      const e: RawTree = {};
      if (i.peer !== undefined) e.peer = i.peer;
      e.port = String(i.port);
      rec[i.name] = e;
    }
    t.interface = rec;
  }
  if (c.keepalived.notifyFifo !== undefined) t.keepalived = { 'notify-fifo': c.keepalived.notifyFifo };
  if (c.listenAddress.length) t['listen-address'] = [...c.listenAddress];
  if (c.logFile !== undefined) t['log-file'] = c.logFile;
  t['mcast-group'] = c.mcastGroup;
  if (c.metricsAddress !== undefined) t['metrics-address'] = hostPort(c.metricsAddress);
  t.mode = c.mode;
  t['purge-timeout'] = String(c.purgeTimeout);
  t['refresh-time'] = String(c.refreshTime);
  t['resend-queue-size'] = String(c.resendQueueSize);
  t['retransmit-timeout'] = String(c.retransmitTimeout);
  if (c.startupResync) t['startup-resync'] = true;
  t['sync-queue-size'] = String(c.syncQueueSize);
  return t;
}

export function hostPort(a: { address: string; port: number }): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** One entry per node that carries values: the words after `service conntrack-sync`, and the values (none for a flag). */
export interface NodeValues { words: string[]; values: string[] }

/** Every node with its values, in VyOS display order. */
export function nodeValues(tree: RawTree): NodeValues[] {
  const out: NodeValues[] = [];
  walk(tree, CONNTRACK_SYNC_NODES, [], out);
  return out;
}

function walk(tree: RawTree, children: Children, words: string[], out: NodeValues[]): void {
  for (const name of Object.keys(tree).sort()) {
    const def = children[name];
    const val = tree[name];
    if (!def) continue;
    const w = [...words, name];
    switch (def.kind) {
      case 'flag': out.push({ words: w, values: [] }); break;
      case 'leaf': if (typeof val === 'string') out.push({ words: w, values: [val] }); break;
      case 'multi': if (Array.isArray(val)) out.push({ words: w, values: [...val] }); break;
      case 'container': {
        const sub = val as RawTree;
        if (Object.keys(sub).length === 0) out.push({ words: w, values: [] });
        else walk(sub, def.children, w, out);
        break;
      }
      case 'tag': {
        const rec = val as RawTree;
        for (const tagName of Object.keys(rec).sort(naturalCompare)) {
          const sub = rec[tagName] as RawTree;
          if (Object.keys(sub).length === 0) out.push({ words: [...w, tagName], values: [] });
          else walk(sub, def.children, [...w, tagName], out);
        }
        break;
      }
    }
  }
}

function quote(value: string): string {
  return value.includes("'") ? `"${value.replace(/["\\]/g, '\\$&')}"` : `'${value}'`;
}

/** `set service conntrack-sync ...` lines for the effective configuration. */
export function configToSetLines(c: Config): string[] {
  const lines: string[] = [];
  for (const n of nodeValues(configToRawTree(c))) {
    // a tag value (an interface name) is quoted only when the line would not read back without
    const head = ['set', 'service', 'conntrack-sync', ...n.words.map((w) => (/^[^\s'"#]+$/.test(w) ? w : quote(w)))].join(' ');
    if (n.values.length === 0) lines.push(head);
    for (const v of n.values) lines.push(`${head} ${quote(v)}`);
  }
  return lines;
}

type JsonTree = { [k: string]: string | string[] | JsonTree };

/** The JSON form: {"service":{"conntrack-sync":{...}}}, valueless nodes as {}. */
export function configToJson(c: Config): { service: { 'conntrack-sync': JsonTree } } {
  return { service: { 'conntrack-sync': toJson(configToRawTree(c), CONNTRACK_SYNC_NODES) } };
}

function toJson(tree: RawTree, children: Children): JsonTree {
  const out: JsonTree = {};
  for (const name of Object.keys(tree).sort()) {
    const def = children[name];
    const val = tree[name];
    if (!def) continue;
    if (def.kind === 'flag') out[name] = {};
    else if (def.kind === 'leaf' || def.kind === 'multi') out[name] = val as string | string[];
    else if (def.kind === 'container') out[name] = toJson(val as RawTree, def.children);
    else {
      const rec: JsonTree = {};
      const src = val as RawTree;
      for (const tagName of Object.keys(src).sort(naturalCompare)) rec[tagName] = toJson(src[tagName] as RawTree, def.children);
      out[name] = rec;
    }
  }
  return out;
}
