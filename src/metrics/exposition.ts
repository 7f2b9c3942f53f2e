// Prometheus text exposition format 0.0.4: metric families with one HELP and one TYPE line each,
// samples `name{label="value",...} number`, histograms as _bucket{le=...} / _sum / _count.
//
//   const x = new Exposition();
//   x.counter('ctsync_events_received_total', 'Kernel events read.', [[{ source: 'netlink' }, 12]]);
//   x.histogram('ctsync_latency_seconds', '...', [{ labels: { stage: 'x' }, buckets: [[0.001, 3], [Infinity, 4]], sum: 0.01, count: 4 }]);
//   x.text()

export type Labels = Readonly<Record<string, string>>;
export type Sample = readonly [Labels, number];

export interface HistogramSeries {
  labels: Labels;
  /** cumulative: [upper bound, samples <= bound]; the last bound is Infinity */
  buckets: readonly (readonly [number, number])[];
  sum: number;
  count: number;
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class Exposition {
  private readonly lines: string[] = [];
  private readonly families = new Set<string>();

  counter(name: string, help: string, samples: readonly Sample[]): void {
    this.family(name, 'counter', help, samples);
  }

  gauge(name: string, help: string, samples: readonly Sample[]): void {
    this.family(name, 'gauge', help, samples);
  }

  histogram(name: string, help: string, series: readonly HistogramSeries[]): void {
    if (series.length === 0) return;
    this.head(name, 'histogram', help);
    for (const s of series) {
      for (const [le, n] of s.buckets) this.sample(`${name}_bucket`, { ...s.labels, le: formatValue(le) }, n);
      this.sample(`${name}_sum`, s.labels, s.sum);
      this.sample(`${name}_count`, s.labels, s.count);
    }
  }

  text(): string {
    return this.lines.length ? this.lines.join('\n') + '\n' : '';
  }

  /** A family without samples is left out: HELP and TYPE alone say nothing. */
  private family(name: string, type: 'counter' | 'gauge', help: string, samples: readonly Sample[]): void {
    if (samples.length === 0) return;
    this.head(name, type, help);
    for (const [labels, v] of samples) this.sample(name, labels, v);
  }

  private head(name: string, type: string, help: string): void {
    if (!NAME.test(name)) throw new Error(`metric name "${name}" is not valid`);
    if (this.families.has(name)) throw new Error(`metric family "${name}" written twice`);
    this.families.add(name);
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
  }

  private sample(name: string, labels: Labels, value: number): void {
    const keys = Object.keys(labels);
    let l = '';
    if (keys.length) {
      l = `{${keys.map((k) => {
        if (!LABEL.test(k) || k.startsWith('__')) throw new Error(`label name "${k}" is not valid`);
        return `${k}="${escapeLabel(labels[k])}"`;
      }).join(',')}}`;
    }
    this.lines.push(`${name}${l} ${formatValue(value)}`);
  }
}

export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
