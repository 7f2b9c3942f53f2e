// Reads `conntrack -L -o extended,id` output (conntrack-tools 1.4.7): an independent witness of
// the kernel table, to compare ctsync's own view with.

export interface CliTuple { src: string; dst: string; sport?: number; dport?: number; type?: number; code?: number; id?: number }
export interface CliFlow {
  family: 'ipv4' | 'ipv6';
  proto: number;
  timeout: number;
  state?: string;
  orig: CliTuple;
  reply: CliTuple;
  flags: string[];
  mark?: number;
  zone?: number;
  use?: number;
  id?: number;
  helper?: string;
}

function tuple(kv: [string, string][]): CliTuple {
  const t: CliTuple = { src: '', dst: '' };
  for (const [k, v] of kv) {
    if (k === 'src' || k === 'dst') t[k] = v;
    else if (k === 'sport' || k === 'dport' || k === 'type' || k === 'code' || k === 'id') t[k] = Number(v);
  }
  return t;
}

export function parseConntrackLine(line: string): CliFlow {
  const tok = line.trim().split(/\s+/);
  // with `-o id` the conntrack id is the last token; ICMP tuples have an id= of their own
  let ctid: number | undefined;
  if (tok[tok.length - 1].startsWith('id=')) ctid = Number(tok.pop()!.slice(3));
  const family = tok[0] as 'ipv4' | 'ipv6';
  const proto = Number(tok[3]);
  const timeout = Number(tok[4]);
  let i = 5;
  let state: string | undefined;
  if (i < tok.length && /^[A-Z_]+$/.test(tok[i])) state = tok[i++];
  const dirs: [string, string][][] = [];
  const flags: string[] = [];
  const extra: Record<string, string> = {};
  for (; i < tok.length; i++) {
    const t = tok[i];
    if (t.startsWith('[')) { flags.push(t.slice(1, -1)); continue; }
    const eq = t.indexOf('=');
    if (eq < 0) continue;
    const k = t.slice(0, eq), v = t.slice(eq + 1);
    if (k === 'src') dirs.push([]);
    if (TUPLE_KEYS.has(k) && dirs.length > 0 && dirs.length <= 2) dirs[dirs.length - 1].push([k, v]);
    else extra[k] = v;
  }
  const f: CliFlow = { family, proto, timeout, state, orig: tuple(dirs[0] ?? []), reply: tuple(dirs[1] ?? []), flags };
  if (extra.mark !== undefined) f.mark = Number(extra.mark);
  if (extra.zone !== undefined) f.zone = Number(extra.zone);
  if (extra.use !== undefined) f.use = Number(extra.use);
  if (ctid !== undefined) f.id = ctid;
  if (extra.helper !== undefined) f.helper = extra.helper;
  return f;
}

const TUPLE_KEYS = new Set(['src', 'dst', 'sport', 'dport', 'type', 'code', 'id']);

export function parseConntrackList(text: string): CliFlow[] {
  return text.split('\n').filter((l) => /^ipv[46]\s/.test(l)).map(parseConntrackLine);
}
