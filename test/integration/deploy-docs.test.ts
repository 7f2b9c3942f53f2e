// timeout: 60
// What ships beside the program stays true to it: the reference manual (docs/ctsync.8.md) names
// every command of `ctsync help`, every configuration node with its default, and the environment
// variables the program reads; the example configuration (packaging/ctsync.conf) is valid as
// shipped and with every commented example line switched on, and mentions every node.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMMANDS, GLOBAL_OPTIONS } from '../../src/cli/help.ts';
import { CONNTRACK_SYNC_NODES, type Children } from '../../src/config/nodes.ts';
import { DEFAULTS } from '../../src/config/schema.ts';
import { parseConfig } from '../../src/config/index.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const manual = readFileSync(join(ROOT, 'docs/ctsync.8.md'), 'utf8');
const example = readFileSync(join(ROOT, 'packaging/ctsync.conf'), 'utf8');

/** Node paths as the manual writes them, e.g. "interface IFNAME peer". */
function nodePaths(children: Children, prefix: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [name, def] of Object.entries(children)) {
    const path = [...prefix, name];
    if (def.kind === 'container' || def.kind === 'tag') {
      const base = def.kind === 'tag' ? [...path, 'IFNAME'] : path;
      if (def.kind === 'tag') out.push(path);
      out.push(...nodePaths(def.children, base));
    } else out.push(path);
  }
  return out;
}

/** The manual's paragraph for a node: from its "`path" definition line to the next one. */
function paragraph(path: string[]): string | undefined {
  const lines = manual.split('\n');
  const head = '`' + path.join(' ');
  const i = lines.findIndex((l) => l.startsWith(head + ' ') || l.startsWith(head + '`'));
  if (i < 0) return undefined;
  let j = i + 1;
  while (j < lines.length && !lines[j].startsWith('`') && !lines[j].startsWith('#')) j++;
  return lines.slice(i, j).join('\n');
}

test('every command of `ctsync help` has its section in the manual', () => {
  for (const name of Object.keys(COMMANDS)) {
    assert.match(manual, new RegExp(`^### .*\\b${name.replace('-', '\\-')}\\b`, 'm'), `### ${name}`);
  }
  for (const opt of GLOBAL_OPTIONS.match(/^ {2}(\S+)/gm)!.map((o) => o.trim())) {
    assert.ok(manual.includes('`' + opt), `option ${opt}`);
  }
});

test('every configuration node is defined in the manual, with its default', () => {
  const paths = nodePaths(CONNTRACK_SYNC_NODES);
  assert.ok(paths.length > 25, `${paths.length} nodes`);
  for (const p of paths) assert.ok(paragraph(p), `no definition of \`${p.join(' ')}\``);
  for (const [node, value] of Object.entries(DEFAULTS)) {
    const path = node === 'port' ? ['interface', 'IFNAME', 'port'] : [node];
    const text = paragraph(path) ?? '';
    assert.ok(text.includes(`default ${value}`) || text.includes(`Default ${value}`) || text.includes(`default \`${value}\``) || text.includes(`Default \`${value}\``) || text.includes(`Default: \`${value}\``),
      `${path.join(' ')}: default ${value} in\n${text}`);
  }
});

test('the manual names the environment the program reads and the systemd contract', () => {
  for (const v of ['CTSYNC_NATIVE_DIR', 'CTSYNC_LIBBPF', 'NOTIFY_SOCKET', 'WATCHDOG_USEC', 'RUNTIME_DIRECTORY', 'CACHE_DIRECTORY']) {
    assert.ok(manual.includes('`' + v), v);
  }
  for (const s of ['SIGTERM', 'SIGINT', 'SIGHUP', 'READY=1', 'STOPPING=1', 'WATCHDOG=1']) assert.ok(manual.includes(s), s);
  for (const section of ['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'OPTIONS', 'CONFIGURATION', 'FILES', 'ENVIRONMENT', 'SIGNALS', 'EXIT STATUS']) {
    assert.match(manual, new RegExp(`^## ${section}$`, 'm'));
  }
});

test('packaging/ctsync.conf is valid as shipped and with every example line switched on', () => {
  const shipped = parseConfig(example);
  assert.equal(shipped.errors, []);
  assert.equal(shipped.warnings, []);
  assert.ok(shipped.ok);
  const on = example.replace(/^# (set service conntrack-sync )/gm, '$1');
  assert.ok(on.split('\n').filter((l) => l.startsWith('set ')).length > shipped.config!.interfaces.length + 25);
  const all = parseConfig(on);
  assert.equal(all.errors, [], 'every example line is accepted');
  for (const name of Object.keys(CONNTRACK_SYNC_NODES)) {
    assert.match(on, new RegExp(`^set service conntrack-sync ${name}\\b`, 'm'), `example of ${name}`);
  }
});

test.run();
