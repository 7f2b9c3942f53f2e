// `npm run build`: dist/ctsync.mjs, one ES module with everything but koffi's native loader,
// runnable with `node dist/ctsync.mjs` and `deno run -A dist/ctsync.mjs`.
import { build } from 'esbuild';
import { readFileSync, chmodSync } from 'node:fs';

// koffi stays outside the bundle: it finds its prebuilt .node next to itself in node_modules (the
// SEA build, build/sea.mjs, swaps that for an embedded copy). It is reached through require() from
// the bundle's own location rather than a bare `import`, so that Deno finds it too when the bundle
// sits in an npm-installed tree (Deno resolves a bare import only through a deno.json or
// --node-modules-dir; its require() walks node_modules like Node's). `.default` is what koffi's ES
// module entry exports.
const koffiFromNodeModules = {
  name: 'koffi-from-node-modules',
  setup(b) {
    b.onResolve({ filter: /^koffi$/ }, () => ({ path: 'koffi', namespace: 'ctsync-koffi' }));
    b.onLoad({ filter: /.*/, namespace: 'ctsync-koffi' }, () => ({
      contents: "import { createRequire } from 'node:module';\n" +
        "export default createRequire(import.meta.url)('koffi').default;\n",
      loader: 'js',
    }));
  },
};

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));

await build({
  entryPoints: [new URL('../src/cli/main.ts', import.meta.url).pathname],
  outfile: new URL('../dist/ctsync.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  plugins: [koffiFromNodeModules],
  banner: { js: '#!/usr/bin/env node' },
  define: { CTSYNC_VERSION: JSON.stringify(pkg.version) },
  sourcemap: false,
  legalComments: 'none',
  logLevel: 'warning',
});
chmodSync(new URL('../dist/ctsync.mjs', import.meta.url), 0o755);
console.log('dist/ctsync.mjs');
