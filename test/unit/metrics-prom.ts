// A strict parser of the Prometheus text exposition format 0.0.4, written for the tests (not
// shared with the code it checks). It throws on anything the format does not allow and on what
// Prometheus conventions forbid for histograms:
//   - HELP and TYPE at most once per family, TYPE before the family's first sample, a family's
//     lines in one group
//   - metric and label names valid, label values quoted with only \\ \" \n escapes, no label twice,
//     no sample (name + labels) twice, values numbers (NaN, +Inf, -Inf allowed)
//   - counters never negative
//   - histograms: per series, le bounds increasing, counts never decreasing, a +Inf bucket equal to
//     _count, a _sum
export interface PromSample { name: string; labels: Record<string, string>; value: number }
export interface PromFamily { name: string; type: string; help?: string; samples: PromSample[] }

const METRIC = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string, where: string): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`${where}: "${s}" is not a number`);
  return Number(s);
}

/** name{a="x",b="y"} value [timestamp] -> sample */
function parseSample(line: string, where: string): PromSample {
  const m = METRIC.exec(line);
  if (!m) throw new Error(`${where}: no metric name`);
  const name = m[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ') i++;
      if (line[i] === '}') { i++; break; }
      const lm = LABEL.exec(line.slice(i));
      if (!lm) throw new Error(`${where}: bad label name at column ${i}`);
      const key = lm[0];
      if (key.startsWith('__')) throw new Error(`${where}: reserved label name ${key}`);
      if (key in labels) throw new Error(`${where}: label ${key} twice`);
      i += key.length;
      if (line[i] !== '=' || line[i + 1] !== '"') throw new Error(`${where}: label ${key} without ="value"`);
      i += 2;
      let v = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) throw new Error(`${where}: unterminated label value`);
        if (c === '"') { i++; break; }
        if (c === '\\') {
          const e = line[i + 1];
          if (e === '\\') v += '\\'; else if (e === '"') v += '"'; else if (e === 'n') v += '\n';
          else throw new Error(`${where}: bad escape \\${e}`);
          i += 2;
          continue;
        }
        v += c;
        i++;
      }
      labels[key] = v;
      if (line[i] === ',') { i++; continue; }
      if (line[i] === '}') { i++; break; }
      throw new Error(`${where}: expected , or } after label ${key}`);
    }
  }
  if (line[i] !== ' ') throw new Error(`${where}: no space before the value`);
  const rest = line.slice(i).trim().split(/ +/);
  if (rest.length < 1 || rest.length > 2) throw new Error(`${where}: value and optional timestamp expected`);
  const value = parseValue(rest[0], where);
  if (rest[1] !== undefined && !/^-?\d+$/.test(rest[1])) throw new Error(`${where}: bad timestamp`);
  return { name, labels, value };
}

function familyOf(sample: string, types: Map<string, string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (sample.endsWith(suffix)) {
      const base = sample.slice(0, -suffix.length);
      const t = types.get(base);
      if (t === 'histogram' || (t === 'summary' && suffix !== '_bucket')) return base;
    }
  }
  return sample;
}

const key = (s: PromSample) => `${s.name}{${Object.keys(s.labels).sort().map((k) => `${k}=${JSON.stringify(s.labels[k])}`).join(',')}}`;

export function parseExposition(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>();
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const seen = new Set<string>();
  const closed = new Set<string>();
  let current = '';
  if (text.length && !text.endsWith('\n')) throw new Error('the text does not end with a newline');
  const lines = text.split('\n');
  lines.pop();
  const enter = (name: string, where: string) => {
    if (name === current) return;
    if (closed.has(name)) throw new Error(`${where}: lines of family ${name} are not in one group`);
    if (current) closed.add(current);
    current = name;
  };
  lines.forEach((line, n) => {
    const where = `line ${n + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC.test(name) || METRIC.exec(name)![0] !== name) throw new Error(`${where}: bad metric name ${name}`);
      enter(name, where);
      const fam = families.get(name) ?? { name, type: 'untyped', samples: [] };
      families.set(name, fam);
      if (kind === 'HELP') {
        if (helps.has(name)) throw new Error(`${where}: second HELP for ${name}`);
        helps.add(name);
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        fam.help = rest;
      } else {
        if (types.has(name)) throw new Error(`${where}: second TYPE for ${name}`);
        if (!TYPES.has(rest.trim())) throw new Error(`${where}: unknown type ${rest}`);
        if (fam.samples.length) throw new Error(`${where}: TYPE after samples of ${name}`);
        types.set(name, rest.trim());
        fam.type = rest.trim();
      }
      return;
    }
    const s = parseSample(line, where);
    const famName = familyOf(s.name, types);
    enter(famName, where);
    const k = key(s);
    if (seen.has(k)) throw new Error(`${where}: sample ${k} twice`);
    seen.add(k);
    const fam = families.get(famName) ?? { name: famName, type: 'untyped', samples: [] };
    families.set(famName, fam);
    fam.samples.push(s);
    if (fam.type === 'counter' && !(s.value >= 0)) throw new Error(`${where}: counter ${s.name} is ${s.value}`);
  });
  for (const fam of families.values()) if (fam.type === 'histogram') checkHistogram(fam);
  return families;
}

function checkHistogram(fam: PromFamily): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const s of fam.samples) {
    const { le, ...rest } = s.labels;
    const id = JSON.stringify(Object.keys(rest).sort().map((k) => [k, rest[k]]));
    const e = series.get(id) ?? { buckets: [] };
    series.set(id, e);
    if (s.name === `${fam.name}_bucket`) {
      if (le === undefined) throw new Error(`${fam.name}: bucket without le`);
      e.buckets.push([parseValue(le, `${fam.name} le`), s.value]);
    } else if (s.name === `${fam.name}_sum`) e.sum = s.value;
    else if (s.name === `${fam.name}_count`) e.count = s.value;
    else throw new Error(`${fam.name}: sample ${s.name} in a histogram`);
  }
  for (const [id, e] of series) {
    if (e.sum === undefined || e.count === undefined) throw new Error(`${fam.name}${id}: _sum or _count missing`);
    if (e.buckets.length === 0) throw new Error(`${fam.name}${id}: no buckets`);
    for (let i = 1; i < e.buckets.length; i++) {
      if (!(e.buckets[i][0] > e.buckets[i - 1][0])) throw new Error(`${fam.name}${id}: le not increasing at ${e.buckets[i][0]}`);
      if (e.buckets[i][1] < e.buckets[i - 1][1]) throw new Error(`${fam.name}${id}: bucket counts decrease at le=${e.buckets[i][0]}`);
    }
    const last = e.buckets[e.buckets.length - 1];
    if (last[0] !== Infinity) throw new Error(`${fam.name}${id}: no +Inf bucket`);
    if (last[1] !== e.count) throw new Error(`${fam.name}${id}: +Inf bucket ${last[1]} differs from _count ${e.count}`);
  }
}

/** The value of the one sample of `family` whose labels include `labels`; throws unless exactly one. */
export function promValue(fams: Map<string, PromFamily>, name: string, labels: Record<string, string> = {}, sampleName = name): number {
  const fam = fams.get(name);
  if (!fam) throw new Error(`no family ${name}`);
  const hits = fam.samples.filter((s) => s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length !== 1) throw new Error(`${sampleName}${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0].value;
}
