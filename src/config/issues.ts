// Configuration errors and warnings: where (line or JSON path), which node, what is wrong and
// what is allowed, always printable on one line.

export interface ConfigIssue {
  severity: 'error' | 'warning';
  /** "line 4" for a set-line file, a JSON path ("$.service[\"conntrack-sync\"].mode") for JSON; absent for a node that is missing */
  where?: string;
  /** the node as a set command spells it, value included: "service conntrack-sync interface eth0 port 70000" */
  node: string;
  /** VyOS's text where VyOS has one, then what is allowed */
  message: string;
}

/** `line 4: service conntrack-sync interface eth0 port 70000: Port number must be in range 1 to 65535` */
export function formatIssue(i: ConfigIssue): string {
  return `${i.where ? `${i.where}: ` : ''}${i.node}: ${i.message}`;
}

export function error(node: string, message: string, where?: string): ConfigIssue {
  return where === undefined ? { severity: 'error', node, message } : { severity: 'error', where, node, message };
}

export function warning(node: string, message: string, where?: string): ConfigIssue {
  return where === undefined ? { severity: 'warning', node, message } : { severity: 'warning', where, node, message };
}

/** Node path text: `service conntrack-sync` followed by the words given. */
export function nodeText(words: readonly string[]): string {
  return ['service', 'conntrack-sync', ...words].map(quoteWord).join(' ');
}

// Words with spaces or quotes are shown quoted so the line stays unambiguous.
function quoteWord(w: string): string {
  if (w !== '' && !/[\s'"#]/.test(w)) return w;
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

/** Closest candidate within a small edit distance, for "did you mean". */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lw = word.toLowerCase();
  for (const c of candidates) {
    const d = c.startsWith(lw) && lw.length >= 3 ? 1 : editDistance(lw, c);
    if (d < bestD) { best = c; bestD = d; }
  }
  const limit = word.length <= 4 ? 1 : word.length <= 8 ? 2 : 3;
  return bestD <= limit ? best : undefined;
}

// Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps
// ("prot" is one step from "port").
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** JSON path text for an error location: $.service["conntrack-sync"].interface.eth0.port */
export function jsonPath(keys: readonly (string | number)[]): string {
  let out = '$';
  for (const k of keys) {
    if (typeof k === 'number') out += `[${k}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) out += `.${k}`;
    else out += `[${JSON.stringify(k)}]`;
  }
  return out;
}
