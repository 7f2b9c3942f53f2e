// timeout: 60
// The single executable's extraction of native modules (build/sea/native.ts), on its own: the
// private directory and file checks that decide whether a file may be loaded, content addressing,
// repair of a damaged copy, and refusal of places another user could have prepared.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { extractNative, nativeDirCandidates, privateDirProblem, sha256, NativeExtractError } from '../../build/sea/native.ts';

const work = mkdtempSync(join(tmpdir(), 'ctsync-native-'));
const bytes = new Uint8Array(4096).map((_, i) => (i * 7) & 0xff);
const hash = sha256(bytes);
const uid = process.geteuid!();

test.after(() => rmSync(work, { recursive: true, force: true }));

test('candidates: CTSYNC_NATIVE_DIR, systemd\'s RUNTIME_DIRECTORY and CACHE_DIRECTORY, /run/ctsync for root, XDG, temp', () => {
  const env = { CTSYNC_NATIVE_DIR: '/opt/x', RUNTIME_DIRECTORY: '/run/ctsync:/run/other', CACHE_DIRECTORY: '/var/cache/ctsync', XDG_RUNTIME_DIR: '/run/user/0' };
  assert.equal(nativeDirCandidates(env, 0).map((c) => c.dir), ['/opt/x', '/run/ctsync/native', '/var/cache/ctsync/native', join(tmpdir(), 'ctsync-native-0')]);
  assert.equal(nativeDirCandidates({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000).map((c) => c.dir), ['/run/user/1000/ctsync', join(tmpdir(), 'ctsync-native-1000')]);
  // relative paths from the environment are ignored
  assert.equal(nativeDirCandidates({ XDG_RUNTIME_DIR: 'rel', RUNTIME_DIRECTORY: 'rel' }, 1000).map((c) => c.dir), [join(tmpdir(), 'ctsync-native-1000')]);
});

test('a fresh extraction: 0700 directory, <name>-<sha256>.node, read-only file, same bytes', () => {
  const dir = join(work, 'fresh');
  const file = extractNative('mod', bytes, [{ dir, parents: false }]);
  assert.is(file, join(dir, `mod-${hash}.node`));
  assert.is(lstatSync(dir).mode & 0o777, 0o700);
  assert.is(lstatSync(file).mode & 0o777, 0o500);
  assert.is(lstatSync(file).uid, uid);
  assert.equal(new Uint8Array(readFileSync(file)), bytes);
  assert.equal(readdirSync(dir), [`mod-${hash}.node`], 'no temporary file left');
});

test('an intact copy is reused as it is; a damaged one is replaced', () => {
  const dir = join(work, 'reuse');
  const c = [{ dir, parents: false }];
  const file = extractNative('mod', bytes, c);
  const ino = lstatSync(file).ino;
  assert.is(lstatSync(extractNative('mod', bytes, c)).ino, ino, 'reused');
  chmodSync(file, 0o600);
  writeFileSync(file, bytes.map((b) => b ^ 1));
  chmodSync(file, 0o500);
  const again = extractNative('mod', bytes, c);
  assert.is(again, file);
  assert.is.not(lstatSync(again).ino, ino, 'rewritten');
  assert.equal(new Uint8Array(readFileSync(again)), bytes);
  // a group-writable copy is not trusted either, even with the right bytes
  chmodSync(again, 0o520);
  const third = extractNative('mod', bytes, c);
  assert.is(lstatSync(third).mode & 0o777, 0o500);
});

test('refused: a symbolic link, a directory others can enter, one of another user', () => {
  const target = join(work, 'target');
  mkdirSync(target, { mode: 0o700 });
  const link = join(work, 'link');
  symlinkSync(target, link);
  assert.match(privateDirProblem(link, uid) ?? '', /is a symbolic link$/);
  const open = join(work, 'open');
  mkdirSync(open);
  chmodSync(open, 0o755);
  assert.match(privateDirProblem(open, uid) ?? '', /has mode 0755, want 0700$/);
  const foreign = join(work, 'foreign');
  mkdirSync(foreign, { mode: 0o700 });
  chownSync(foreign, 65534, 65534);
  assert.match(privateDirProblem(foreign, uid) ?? '', new RegExp(`belongs to uid 65534, not ${uid}$`));
  assert.is(privateDirProblem(target, uid), undefined);
  // all refused: one error naming each place and the way out; nothing written anywhere
  try {
    extractNative('mod', bytes, [{ dir: link, parents: false }, { dir: open, parents: false }, { dir: foreign, parents: false }]);
    assert.unreachable('extracted into a refused place');
  } catch (e) {
    assert.instance(e, NativeExtractError);
    const m = (e as Error).message;
    assert.match(m, /^cannot extract the native module mod: .*link is a symbolic link; .*open has mode 0755, want 0700; .*foreign belongs to uid 65534, not \d+; set CTSYNC_NATIVE_DIR to /);
    assert.not.match(m, /\n/);
  }
  assert.equal(readdirSync(target), []);
  assert.equal(readdirSync(open), []);
  // the first acceptable place wins
  assert.is(extractNative('mod', bytes, [{ dir: open, parents: false }, { dir: target, parents: false }]), join(target, `mod-${hash}.node`));
});

test.run();
