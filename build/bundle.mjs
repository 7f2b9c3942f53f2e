// `npm run build`: dist/ctsync.mjs, one ES module with everything but koffi's native loader,
// runnable with `node dist/ctsync.mjs` and `deno run -A dist/ctsync.mjs`.
import { build } from 'esbuild';
import { readFileSync, chmodSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: [new URL('../src/cli/main.ts', import.meta.url).pathname],
  outfile: new URL('../dist/ctsync.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // koffi finds its prebuilt .node next to itself in node_modules; the SEA build swaps it in
  external: ['koffi'],
  banner: { js: '#!/usr/bin/env node' },
  define: { CTSYNC_VERSION: JSON.stringify(pkg.version) },
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(new URL('../dist/ctsync.mjs', import.meta.url), 0o755);
console.log('dist/ctsync.mjs');
