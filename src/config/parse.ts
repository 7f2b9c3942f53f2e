// One entry point for both file forms: read the raw tree, validate it with the schema, run VyOS's
// checks, and report every error (not just the first) with its line or JSON path.
import * as v from 'valibot';
import { type Config, ConfigSchema } from './schema.ts';
import { type ConfigIssue, error, nodeText } from './issues.ts';
import { type RawConfig, type RawPath, type RawTree, type RawValue, originOf, pathWords } from './raw.ts';
import { readSetLines } from './setlines.ts';
import { readJson } from './json.ts';
import { VYOS, configWarnings, verify } from './verify.ts';

export interface ParseResult {
  /** true when there is no error (warnings allowed) */
  ok: boolean;
  /** present when ok */
  config?: Config;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
  /** the form the text was read as */
  format: 'set' | 'json';
  /** where each node came from (pathKey -> "line 4" or a JSON path), for later checks */
  origins: ReadonlyMap<string, string>;
  /** `high-availability vrrp sync-group` names found in the same input, if any */
  vrrpSyncGroups?: string[];
}

/** Parse a configuration file's text; `auto` reads JSON when the text starts with `{`. */
export function parseConfig(text: string, format: 'auto' | 'set' | 'json' = 'auto'): ParseResult {
  const asJson = format === 'json' || (format === 'auto' && text.trimStart().startsWith('{'));
  if (!asJson) return finish(readSetLines(text), 'set');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    // the engine quotes the text around the error, newlines included: keep the issue on one line
    const msg = (e instanceof Error ? e.message : String(e)).replace(/[\u0000-\u001f\u007f]+/g, ' ');
    return {
      ok: false, errors: [error('service conntrack-sync', `Invalid JSON: ${msg}`, '$')], warnings: [],
      format: 'json', origins: new Map(),
    };
  }
  return parseConfigJson(doc);
}

/** Parse an already decoded JSON document. */
export function parseConfigJson(doc: unknown): ParseResult {
  return finish(readJson(doc), 'json');
}

function finish(read: { raw: RawConfig; issues: ConfigIssue[] }, format: 'set' | 'json'): ParseResult {
  const { raw } = read;
  const errors = [...read.issues];
  const result = (config: Config | undefined, warnings: ConfigIssue[]): ParseResult => {
    if (format === 'set') errors.sort(byLine);
    const r: ParseResult = { ok: errors.length === 0, errors, warnings, format, origins: raw.origins };
    if (config && errors.length === 0) r.config = config;
    if (raw.vrrpSyncGroups) r.vrrpSyncGroups = raw.vrrpSyncGroups;
    return r;
  };
  if (!raw.present) {
    if (errors.length === 0) {
      errors.push(error('service conntrack-sync',
        `${VYOS.notConfigured} (the input has no "set service conntrack-sync ..." line or "conntrack-sync" object)`));
    }
    return result(undefined, []);
  }

  let parsed = v.safeParse(ConfigSchema, raw.tree, { abortEarly: false });
  if (!parsed.success) {
    const pruned = structuredClone(raw.tree);
    const bad: RawPath[] = [];
    for (const issue of parsed.issues) {
      const path: RawPath = (issue.path ?? []).map((p) => p.key as string | number);
      errors.push(error(nodeText(pathWords(raw.tree, path)), issue.message, originOf(raw.origins, path)));
      bad.push(path);
    }
    // Drop the bad values and validate again, so the cross-node checks still run and report.
    for (const p of bad.sort(byIndexDesc)) prune(pruned, p);
    parsed = v.safeParse(ConfigSchema, pruned, { abortEarly: false });
    if (!parsed.success) return result(undefined, []);
  }
  const config = parsed.output;
  errors.push(...verify(config, raw));
  return result(config, configWarnings(config, raw));
}

// Errors in file order; those about missing nodes (no line) last. Array.sort is stable.
function byLine(a: ConfigIssue, b: ConfigIssue): number {
  const la = a.where?.startsWith('line ') ? Number(a.where.slice(5)) : Infinity;
  const lb = b.where?.startsWith('line ') ? Number(b.where.slice(5)) : Infinity;
  return la === lb ? 0 : la < lb ? -1 : 1;
}

// Array items are removed from the highest index down so earlier removals keep later paths valid.
function byIndexDesc(a: RawPath, b: RawPath): number {
  const ia = a[a.length - 1], ib = b[b.length - 1];
  return typeof ia === 'number' && typeof ib === 'number' ? ib - ia : 0;
}

function prune(tree: RawTree, path: RawPath): void {
  let node: RawValue | undefined = tree;
  for (let i = 0; i < path.length - 1; i++) {
    if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
    node = (node as RawTree)[path[i] as string];
  }
  const last = path[path.length - 1];
  if (Array.isArray(node) && typeof last === 'number') node.splice(last, 1);
  else if (node && typeof node === 'object' && !Array.isArray(node) && typeof last === 'string') delete (node as RawTree)[last];
}
