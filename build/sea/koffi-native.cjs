// Stands in for @koromix/koffi-linux-x64 inside the single executable: koffi's native module is
// one of the executable's assets; it is copied to a private file (see native.ts) and loaded from
// there, since the dynamic loader can only map files.
const { getAsset } = require('node:sea');
const { extractNative } = require('./native.ts');

let file;
try {
  file = extractNative('koffi', new Uint8Array(getAsset('koffi.node')));
} catch (e) {
  // koffi would swallow this and report a missing module instead; say what is wrong and stop
  process.stderr.write(`ctsync: ${e.message}\n`);
  process.exit(1);
}
const mod = { exports: {} };
process.dlopen(mod, file);
module.exports = mod.exports;
