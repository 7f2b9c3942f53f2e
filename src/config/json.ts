// Reads the JSON form of the tree (`{"service":{"conntrack-sync":{...}}}` or just the conntrack-sync
// object): VyOS keys with dashes, tag nodes as objects, multi nodes as arrays, valueless nodes as
// {} (also null or true), values as strings or numbers.
import { CONNTRACK_SYNC_NODES, type Children } from './nodes.ts';
import { type ConfigIssue, error, jsonPath, nodeText } from './issues.ts';
import { type RawConfig, type RawTree, pathKey } from './raw.ts';
import { unknownNode } from './setlines.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function readJson(doc: unknown): { raw: RawConfig; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const origins = new Map<string, string>();
  const tree: RawTree = {};
  const raw: RawConfig = { tree, origins, present: false };
  if (!isObject(doc)) {
    issues.push(error('service conntrack-sync', 'The JSON document must be an object: {"service":{"conntrack-sync":{...}}} or the conntrack-sync object', '$'));
    return { raw, issues };
  }
  let body: unknown;
  let base: string[];
  if (Object.hasOwn(doc, 'service') || Object.hasOwn(doc, 'high-availability')) {
    const service = doc.service;
    body = isObject(service) ? service['conntrack-sync'] : undefined;
    base = ['service', 'conntrack-sync'];
    const ha = doc['high-availability'];
    if (isObject(ha) && isObject(ha.vrrp)) {
      const sg = ha.vrrp['sync-group'];
      raw.vrrpSyncGroups = isObject(sg) ? Object.keys(sg) : Array.isArray(sg) ? sg.filter((x): x is string => typeof x === 'string') : [];
    }
  } else {
    body = doc;
    base = [];
  }
  if (body === undefined || body === null) return { raw, issues };
  raw.present = true;
  if (!isObject(body)) {
    issues.push(error('service conntrack-sync', 'Expected an object of conntrack-sync nodes', jsonPath(base)));
    return { raw, issues };
  }
  walk(body, CONNTRACK_SYNC_NODES, tree, [], [], base, origins, issues);
  return { raw, issues };
}

function walk(obj: Record<string, Json>, children: Children, out: RawTree, path: (string | number)[],
  shown: string[], jbase: (string | number)[], origins: Map<string, string>, issues: ConfigIssue[]): void {
  for (const [name, value] of Object.entries(obj)) {
    const jp = [...jbase, name];
    const where = jsonPath(jp);
    const def = Object.hasOwn(children, name) ? children[name] : undefined;
    if (!def) {
      issues.push(error(nodeText([...shown, name]), unknownNode(name, children), where));
      continue;
    }
    const p = [...path, name];
    const s = [...shown, name];
    switch (def.kind) {
      case 'flag':
        if (value === false) continue;
        if (value === null || value === true || (isObject(value) && Object.keys(value).length === 0)) {
          out[name] = true;
          origins.set(pathKey(p), where);
        } else {
          issues.push(error(nodeText(s), `${name} takes no value; write {} (or true)`, where));
        }
        continue;
      case 'leaf': {
        const v = scalar(value);
        if (v === undefined) {
          issues.push(error(nodeText(s), `${name} needs one value (a string or a number): ${def.help}`, where));
          continue;
        }
        out[name] = v;
        origins.set(pathKey(p), where);
        continue;
      }
      case 'multi': {
        const items = Array.isArray(value) ? value : [value];
        const list: string[] = [];
        origins.set(pathKey(p), where);
        items.forEach((item, idx) => {
          const v = scalar(item);
          const iw = jsonPath(Array.isArray(value) ? [...jp, idx] : jp);
          if (v === undefined) {
            issues.push(error(nodeText(s), `${name} values are strings: ${def.help}`, iw));
            return;
          }
          if (list.includes(v)) return;
          list.push(v);
          origins.set(pathKey([...p, list.length - 1]), iw);
        });
        out[name] = list;
        continue;
      }
      case 'container': {
        if (value === null || (isObject(value) && Object.keys(value).length === 0)) {
          out[name] = {};
          origins.set(pathKey(p), where);
          continue;
        }
        if (!isObject(value)) {
          issues.push(error(nodeText(s), `${name} is a node with children (${Object.keys(def.children).join(', ')}); write an object`, where));
          continue;
        }
        const sub: RawTree = {};
        out[name] = sub;
        origins.set(pathKey(p), where);
        walk(value, def.children, sub, p, s, jp, origins, issues);
        continue;
      }
      case 'tag': {
        if (!isObject(value)) {
          issues.push(error(nodeText(s), `${name} is written as an object keyed by ${def.help}: {"eth0": {...}}`, where));
          continue;
        }
        const rec: RawTree = {};
        out[name] = rec;
        origins.set(pathKey(p), where);
        for (const [tagName, entry] of Object.entries(value)) {
          const tp = [...p, tagName];
          const tj = [...jp, tagName];
          const sub: RawTree = {};
          rec[tagName] = sub;
          origins.set(pathKey(tp), jsonPath(tj));
          if (entry === null) continue;
          if (!isObject(entry)) {
            issues.push(error(nodeText([...s, tagName]), `${name} ${tagName} takes an object of ${Object.keys(def.children).join(', ')}`, jsonPath(tj)));
            continue;
          }
          walk(entry, def.children, sub, tp, [...s, tagName], tj, origins, issues);
        }
        continue;
      }
    }
  }
}

function scalar(v: Json | undefined): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}
