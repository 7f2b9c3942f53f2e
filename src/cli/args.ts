// A small argument reader: positionals, boolean flags and options with a value, in any order.
export class Args {
  readonly positional: string[] = [];
  private readonly opts = new Map<string, string | true>();

  constructor(argv: string[], withValue: string[] = []) {
    const takes = new Set(withValue);
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (a === '--') { this.positional.push(...argv.slice(i + 1)); break; }
      if (a.startsWith('--') && a.includes('=')) {
        const eq = a.indexOf('=');
        this.opts.set(a.slice(0, eq), a.slice(eq + 1));
      } else if (takes.has(a)) {
        if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value`);
        this.opts.set(a, argv[++i]);
      } else if (a.startsWith('-') && a.length > 1) {
        this.opts.set(a, true);
      } else this.positional.push(a);
    }
  }

  flag(...names: string[]): boolean { return names.some((n) => this.opts.has(n)); }

  value(...names: string[]): string | undefined {
    for (const n of names) {
      const v = this.opts.get(n);
      if (typeof v === 'string') return v;
    }
    return undefined;
  }

  /** Options given that are not in the allowed list (for a clear usage error). */
  unknown(allowed: string[]): string[] {
    return [...this.opts.keys()].filter((k) => !allowed.includes(k));
  }
}

export class UsageError extends Error { override name = 'UsageError'; }
