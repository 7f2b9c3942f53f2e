// Reads `set service conntrack-sync ...` lines (as VyOS `show configuration commands` prints them)
// into the raw tree. Quotes are optional, single or double; blank lines and # comments are skipped;
// other `set` lines are ignored except `high-availability vrrp sync-group NAME`, which is recorded.
import { CONNTRACK_SYNC_NODES, type Children, type NodeDef } from './nodes.ts';
import { type ConfigIssue, closest, error, nodeText } from './issues.ts';
import { type RawConfig, type RawTree, pathKey } from './raw.ts';

export interface Tokenized { words: string[]; error?: string }

/** Shell-like words: quotes group, `#` at the start of a word begins a comment. */
export function tokenize(line: string): Tokenized {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && /\s/.test(line[i])) i++;
    if (i >= n || line[i] === '#') break;
    let word = '';
    while (i < n && !/\s/.test(line[i])) {
      const c = line[i];
      if (c === "'" || c === '"') {
        const end = c === "'" ? line.indexOf("'", i + 1) : closingDouble(line, i + 1);
        if (end < 0) return { words, error: `Unterminated ${c === "'" ? 'single' : 'double'} quote; close the value with ${c}` };
        const body = line.slice(i + 1, end);
        word += c === '"' ? body.replace(/\\(["\\])/g, '$1') : body;
        i = end + 1;
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  return { words };
}

function closingDouble(s: string, from: number): number {
  for (let i = from; i < s.length; i++) {
    if (s[i] === '\\') { i++; continue; }
    if (s[i] === '"') return i;
  }
  return -1;
}

export function readSetLines(text: string): { raw: RawConfig; issues: ConfigIssue[] } {
  const tree: RawTree = {};
  const origins = new Map<string, string>();
  const issues: ConfigIssue[] = [];
  const syncGroups: string[] = [];
  let sawHa = false;
  let present = false;

  const lines = text.split(/\r?\n/);
  for (let ln = 0; ln < lines.length; ln++) {
    const where = `line ${ln + 1}`;
    const trimmed = lines[ln].trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const { words, error: tokErr } = tokenize(trimmed);
    if (tokErr) {
      issues.push(error(trimmed, tokErr, where));
      continue;
    }
    if (words[0] !== 'set') {
      issues.push(error(words.slice(0, 4).join(' '),
        'Only "set ..." lines are understood (as "show configuration commands" prints them), or a JSON document', where));
      continue;
    }
    if (words[1] === 'high-availability' && words[2] === 'vrrp' && words[3] === 'sync-group') {
      sawHa = true;
      if (words[4] !== undefined && !syncGroups.includes(words[4])) syncGroups.push(words[4]);
      continue;
    }
    if (words[1] !== 'service' || words[2] !== 'conntrack-sync') continue;
    present = true;
    walk(words.slice(3), where, tree, origins, issues);
  }
  const raw: RawConfig = { tree, origins, present };
  if (sawHa) raw.vrrpSyncGroups = syncGroups;
  return { raw, issues };
}

function walk(words: string[], where: string, tree: RawTree, origins: Map<string, string>, issues: ConfigIssue[]): void {
  let children: Children = CONNTRACK_SYNC_NODES;
  let node: RawTree = tree;
  const path: string[] = [];
  const shown: string[] = [];
  const mark = (p: readonly (string | number)[]) => {
    const k = pathKey(p);
    if (!origins.has(k)) origins.set(k, where);
  };
  for (let i = 0; i < words.length;) {
    const name = words[i];
    const def: NodeDef | undefined = Object.hasOwn(children, name) ? children[name] : undefined;
    if (!def) {
      issues.push(error(nodeText([...shown, name]), unknownNode(name, children), where));
      return;
    }
    path.push(name);
    shown.push(name);
    const rest = words.slice(i + 1);
    switch (def.kind) {
      case 'flag':
        if (rest.length > 0) {
          issues.push(error(nodeText([...shown, ...rest]), `${name} takes no value; write it alone`, where));
          return;
        }
        node[name] = true;
        mark(path);
        return;
      case 'leaf': {
        if (rest.length === 0) {
          issues.push(error(nodeText(shown), `${name} needs a value: ${def.help}`, where));
          return;
        }
        if (rest.length > 1) {
          issues.push(error(nodeText([...shown, ...rest]), `${name} takes one value: ${def.help}`, where));
          return;
        }
        const prev = node[name];
        if (typeof prev === 'string' && prev !== rest[0]) {
          issues.push(error(nodeText([...shown, rest[0]]),
            `${name} takes one value and is already set to ${prev} on ${origins.get(pathKey(path))}; delete one of the lines`, where));
          return;
        }
        node[name] = rest[0];
        mark(path);
        return;
      }
      case 'multi': {
        if (rest.length === 0) {
          issues.push(error(nodeText(shown), `${name} needs a value: ${def.help}`, where));
          return;
        }
        if (rest.length > 1) {
          const legacy = name === 'ignore-address' && (rest[0] === 'ipv4' || rest[0] === 'ipv6') && rest.length === 2;
          issues.push(error(nodeText([...shown, ...rest]), legacy
            ? `VyOS 1.2 syntax; write "set service conntrack-sync ignore-address ${rest[1]}"`
            : `${name} takes one value per line: ${def.help}`, where));
          return;
        }
        const list = Array.isArray(node[name]) ? node[name] as string[] : (node[name] = []) as string[];
        mark(path);
        if (!list.includes(rest[0])) {
          list.push(rest[0]);
          mark([...path, list.length - 1]);
        }
        return;
      }
      case 'container': {
        const sub = node[name];
        node = isTree(sub) ? sub : (node[name] = {}) as RawTree;
        mark(path);
        children = def.children;
        i++;
        continue;
      }
      case 'tag': {
        if (rest.length === 0) {
          issues.push(error(nodeText(shown), `${name} needs a name: ${def.help}`, where));
          return;
        }
        const tagName = rest[0];
        const rec = isTree(node[name]) ? node[name] as RawTree : (node[name] = {}) as RawTree;
        const entry = isTree(rec[tagName]) ? rec[tagName] as RawTree : (rec[tagName] = {}) as RawTree;
        mark(path);
        path.push(tagName);
        shown.push(tagName);
        mark(path);
        node = entry;
        children = def.children;
        i += 2;
        continue;
      }
    }
  }
}

function isTree(v: unknown): v is RawTree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `Unknown node "mcast-grop"; did you mean "mcast-group"?` or the list of what is allowed there. */
export function unknownNode(name: string, children: Children): string {
  const names = Object.keys(children);
  const near = closest(name, names);
  if (near) return `Unknown node "${name}"; did you mean "${near}"?`;
  return `Unknown node "${name}"; allowed here: ${names.join(', ')}`;
}
