// `ctsync config check FILE`: parse, run every check (host checks when a host view is given), and
// print the effective configuration with its defaults, or the errors.
import type { Config } from './schema.ts';
import { type ConfigIssue, formatIssue } from './issues.ts';
import { parseConfig } from './parse.ts';
import { type HostView, checkEnvironment, environmentWarnings } from './env.ts';
import { configToJson, configToSetLines } from './render.ts';

export interface CheckReport {
  ok: boolean;
  errors: ConfigIssue[];
  warnings: ConfigIssue[];
  /** present when ok */
  config?: Config;
}

export interface CheckOptions {
  /** the host's interfaces; without it the host checks are skipped */
  host?: HostView;
  format?: 'auto' | 'set' | 'json';
}

export function checkConfig(text: string, opts: CheckOptions = {}): CheckReport {
  const r = parseConfig(text, opts.format ?? 'auto');
  const errors = [...r.errors];
  const warnings = [...r.warnings];
  if (r.config && opts.host) {
    errors.push(...checkEnvironment(r.config, opts.host, r.origins));
    warnings.push(...environmentWarnings(r.config, opts.host, r.origins));
  }
  const report: CheckReport = { ok: errors.length === 0, errors, warnings };
  if (r.config && errors.length === 0) report.config = r.config;
  return report;
}

/**
 * Text form. Valid: the effective `set` lines, then `# warning: ...` lines (the output is itself a
 * valid configuration file). Invalid: one line per error, then the warnings.
 */
export function formatCheckText(report: CheckReport): string {
  const lines: string[] = [];
  if (report.config) lines.push(...configToSetLines(report.config));
  else lines.push(...report.errors.map(formatIssue));
  lines.push(...report.warnings.map((w) => `# warning: ${formatIssue(w)}`));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * JSON form: {"ok", "errors": [{where?, node, message}], "warnings": [...], "config"?: the VyOS JSON
 * tree with every default, readable again by parseConfig}.
 */
export function formatCheckJson(report: CheckReport): string {
  const strip = (i: ConfigIssue) => (i.where === undefined ? { node: i.node, message: i.message } : { where: i.where, node: i.node, message: i.message });
  const out: Record<string, unknown> = {
    ok: report.ok,
    errors: report.errors.map(strip),
    warnings: report.warnings.map(strip),
  };
  if (report.config) out.config = configToJson(report.config);
  return `${JSON.stringify(out, null, 2)}\n`;
}
