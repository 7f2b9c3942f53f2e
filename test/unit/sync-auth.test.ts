// Authenticated sync links (src/sync/auth.ts): the key file checks, the HMAC trailer, and what
// the receiver refuses (wrong key, altered bytes, replays, its own datagrams, too short).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AUTH_FAIL, AUTH_TRAILER_SIZE, Authenticator, AuthKeyError, ReplayWindow, authFor, readAuthKey } from '../../src/sync/auth.ts';

const KEY = new TextEncoder().encode('0123456789abcdef0123456789abcdef');
const OTHER = new TextEncoder().encode('fedcba9876543210fedcba9876543210');

function datagram(auth: Authenticator, payload: number[]): Uint8Array {
  const buf = new Uint8Array(payload.length + AUTH_TRAILER_SIZE + 16);
  buf.set(payload);
  return buf.slice(0, auth.seal(buf, payload.length));
}

test('a sealed datagram opens to its payload; the window accepts each counter once', () => {
  let ms = 1_700_000_000_000;
  const a = new Authenticator(KEY, { senderId: 1, now: () => ms });
  const b = new Authenticator(KEY, { senderId: 2 });
  const w = new ReplayWindow();
  const d = datagram(a, [0x1a, 0x10, 0x00, 0x08, 1, 2, 3, 4]);
  assert.is(d.length, 8 + AUTH_TRAILER_SIZE);
  assert.is(b.open(d, w), 8);
  assert.is(b.open(d, w), AUTH_FAIL.REPLAY, 'the same datagram again');
  const d2 = datagram(a, [1, 2, 3, 4]);
  const d3 = datagram(a, [5, 6, 7, 8]);
  assert.is(b.open(d3, w), 4, 'newer first');
  assert.is(b.open(d2, w), 4, 'an older one inside the window still passes once');
  assert.is(b.open(d2, w), AUTH_FAIL.REPLAY);
  ms += 5;
  const d4 = datagram(a, [9]);
  assert.is(b.open(d4, w), 1);
});

test('a burst sent while the clock moves, delivered in reverse order, passes whole', () => {
  let ms = 1_700_000_000_000;
  const a = new Authenticator(KEY, { senderId: 1, now: () => ms });
  const b = new Authenticator(KEY, { senderId: 2 });
  const w = new ReplayWindow();
  const burst: Uint8Array[] = [];
  for (let i = 0; i < 1000; i++) {
    burst.push(datagram(a, [i & 0xff]));
    if (i % 100 === 0) ms += 1;
  }
  for (const d of burst.reverse()) assert.is(b.open(d, w), 1);
});

test('wrong key, altered bytes, a plain conntrackd datagram, a short one, our own: refused', () => {
  const a = new Authenticator(KEY, { senderId: 1 });
  const b = new Authenticator(KEY, { senderId: 2 });
  const stranger = new Authenticator(OTHER, { senderId: 3 });
  const w = new ReplayWindow();
  assert.is(b.open(datagram(stranger, [1, 2, 3, 4]), w), AUTH_FAIL.TAG);
  for (const at of [0, 3, 4, 8, 20, 40]) {
    const d = datagram(a, [1, 2, 3, 4]);
    d[at] ^= 0x01;
    assert.is(b.open(d, w), AUTH_FAIL.TAG, `bit flipped at ${at}`);
  }
  const plain = Uint8Array.from([0x1a, 0x10, 0x00, 0x08, 0, 0, 0, 1, ...new Array(40).fill(0)]);
  assert.is(b.open(plain, w), AUTH_FAIL.TAG, 'an unauthenticated datagram');
  assert.is(b.open(new Uint8Array(10), w), AUTH_FAIL.SHORT);
  assert.is(a.open(datagram(a, [1, 2, 3, 4]), new ReplayWindow()), AUTH_FAIL.OWN, 'reflected back at its sender');
  // a forged datagram never moves the window: the genuine one after it still passes
  const good = datagram(a, [7]);
  const forged = good.slice();
  forged[forged.length - 1] ^= 0xff;
  assert.is(b.open(forged, w), AUTH_FAIL.TAG);
  assert.is(b.open(good, w), 1);
});

test('a restarted sender (new id, clock later) is accepted; replays of its old datagrams are not', () => {
  let ms = 1_700_000_000_000;
  const before = new Authenticator(KEY, { now: () => ms });
  const b = new Authenticator(KEY, { senderId: 9 });
  const w = new ReplayWindow();
  const old = [datagram(before, [1]), datagram(before, [2])];
  for (const d of old) assert.is(b.open(d, w), 1);
  ms += 3000;
  const after = new Authenticator(KEY, { now: () => ms });
  for (let i = 0; i < 2000; i++) assert.is(b.open(datagram(after, [3]), w), 1);
  for (const d of old) assert.is(b.open(d, w), AUTH_FAIL.REPLAY, 'older than the window');
});

test('ReplayWindow: 1024 counters of reordering, duplicates and jumps', () => {
  const w = new ReplayWindow();
  assert.ok(w.accept(5000));
  assert.ok(w.accept(4000), '1000 behind: inside');
  assert.not.ok(w.accept(5000 - 1024), 'exactly the window size behind: outside');
  assert.not.ok(w.accept(4000));
  assert.ok(w.accept(5001));
  assert.ok(w.accept(100_000), 'a jump clears the window');
  assert.not.ok(w.accept(5001));
  assert.ok(w.accept(99_999));
  assert.not.ok(w.accept(99_999));
});

test('the key file: missing, readable by others, too short are refused with the fix; whitespace trimmed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctsync-auth-'));
  try {
    const f = join(dir, 'key');
    assert.throws(() => readAuthKey(f), (e: Error) => e instanceof AuthKeyError && /cannot read it \(ENOENT\)/.test(e.message));
    writeFileSync(f, 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0\n');
    chmodSync(f, 0o644);
    assert.throws(() => readAuthKey(f), /other users can access it \(mode 0644\); chmod 600/);
    chmodSync(f, 0o600);
    assert.equal(new TextDecoder().decode(readAuthKey(f)), 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0');
    writeFileSync(f, '  short \n');
    assert.throws(() => readAuthKey(f), /the key has 5 bytes, at least 16/);
    assert.throws(() => readAuthKey(dir), /not a regular file/);
    assert.is(authFor(undefined), undefined);
    writeFileSync(f, 'another-key-of-enough-bytes');
    const cur = new Authenticator(KEY, { senderId: 77 });
    assert.is(authFor(f, cur), cur, 'a reload keeps the sender id and counter');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
