// The raw tree both readers produce before validation: node names as VyOS spells them, every value
// still a string, and where each node came from.
import { CONNTRACK_SYNC_NODES, type Children, type NodeDef } from './nodes.ts';

/** Leaf: string. Multi: string[]. Flag: true. Container: RawTree. Tag: record of RawTree. */
export type RawValue = string | string[] | true | RawTree;
export interface RawTree { [name: string]: RawValue }

/** Path of a node inside the conntrack-sync tree: names, tag values and multi-value indexes. */
export type RawPath = readonly (string | number)[];

export function pathKey(path: RawPath): string {
  return path.join('\u0000');
}

export interface RawConfig {
  tree: RawTree;
  /** pathKey -> "line 4" or a JSON path */
  origins: Map<string, string>;
  /** whether the input had `service conntrack-sync` at all */
  present: boolean;
  /** names under `high-availability vrrp sync-group`, when the input had any */
  vrrpSyncGroups?: string[];
}

/**
 * Words of a set command for a path: the names, tag values and, for a leaf or a multi-value index,
 * the value itself. ['interface', 'eth0', 'port'] -> ['interface', 'eth0', 'port', '70000'].
 */
export function pathWords(tree: RawTree, path: RawPath): string[] {
  const words: string[] = [];
  let node: RawValue | undefined = tree;
  let children: Children | undefined = CONNTRACK_SYNC_NODES;
  let inTag = false;
  for (const k of path) {
    if (typeof k === 'number') {
      const v: RawValue | undefined = Array.isArray(node) ? node[k] : undefined;
      if (typeof v === 'string') words.push(v);
      return words;
    }
    words.push(k);
    node = node !== undefined && typeof node === 'object' && !Array.isArray(node) ? node[k] : undefined;
    if (inTag) { inTag = false; continue; }
    const def: NodeDef | undefined = children?.[k];
    if (def?.kind === 'tag') { inTag = true; children = def.children; continue; }
    children = def && def.kind === 'container' ? def.children : undefined;
  }
  if (typeof node === 'string') words.push(node);
  return words;
}

/** The origin of a path, or of its nearest ancestor that has one. */
export function originOf(origins: Map<string, string>, path: RawPath): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const o = origins.get(pathKey(path.slice(0, n)));
    if (o !== undefined) return o;
  }
  return undefined;
}
