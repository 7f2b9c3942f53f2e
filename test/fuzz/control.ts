// Fuzzing the control sockets over real UNIX sockets (no privileges needed): the ctsync JSON-line
// protocol (ControlServer) and conntrackd's 4-byte protocol (ConntrackdServer). Each session is
// one random client: garbage, partial lines, a line split in many writes, several lines at once,
// a line too long, JSON that is not a request, unknown commands, handlers that fail or are slow,
// and clients that go away early. Every complete request must get exactly one final reply (ok, or
// a one-line error), the counters must say what happened, and nothing may escape as an exception.
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import process from 'node:process';
import { ControlServer } from '../../src/control/server.ts';
import { CODE, ConntrackdServer } from '../../src/control/conntrackd.ts';
import { Rng } from './mutate.ts';

type Expect = 'ok' | 'failed' | 'unknown' | 'bad' | 'too-long' | 'none';
/** `sent`: what the server makes of it once read, for a client that leaves without waiting */
interface Session { name: string; chunks: (Uint8Array | string)[]; closeEarly: boolean; expect: Expect; sent?: Expect }

const CMDS: Record<string, Expect> = { ping: 'ok', echo: 'ok', slow: 'ok', progress: 'ok', fail: 'failed' };

function jsonSession(r: Rng): Session {
  const kind = r.int(10);
  const pickCmd = () => (r.chance(0.8) ? r.pick(Object.keys(CMDS)) : r.pick(['nope', '', 'PING', '__proto__', 'constructor', 'x'.repeat(100)]));
  const args = () => r.pick<unknown>([undefined, {}, { a: 1 }, [], 'str', 7, null, { which: 'external', deep: { x: [1, 2] } }]);
  let line: string;
  let expect: Expect;
  switch (kind) {
    case 0: { // raw garbage, maybe with a newline
      const b = new Uint8Array(1 + r.int(200));
      for (let i = 0; i < b.length; i++) b[i] = r.int(256);
      const nl = b.indexOf(10);
      expect = nl < 0 ? 'none' : 'bad';
      // a garbage line that happens to be valid JSON of a request is far too unlikely to matter
      return { name: 'garbage', chunks: [b], closeEarly: nl < 0, expect };
    }
    case 1:
      line = r.pick(['null', '1', '[]', '"cmd"', '{}', '{"cmd":1}', '{"cmd":null}', '{"args":{}}', '{', '{"cmd":"ping"']);
      return { name: 'not a request', chunks: [line + '\n'], closeEarly: false, expect: 'bad' };
    case 2: { // too long, without a newline
      const n = 70_000 + r.int(60_000);
      return { name: 'too long', chunks: ['{"cmd":"echo","args":{"x":"', 'y'.repeat(n)], closeEarly: false, expect: 'too-long' };
    }
    case 3: { // partial line, then gone
      const full = JSON.stringify({ cmd: pickCmd(), args: args() });
      return { name: 'partial', chunks: [full.slice(0, r.int(full.length))], closeEarly: true, expect: 'none' };
    }
    default: {
      const cmd = pickCmd();
      const a = args();
      line = JSON.stringify(a === undefined ? { cmd } : { cmd, args: a });
      expect = CMDS[cmd] ?? 'unknown';
      if (cmd === '__proto__' || cmd === 'constructor') expect = 'unknown';
      const text = line + '\n' + (r.chance(0.2) ? JSON.stringify({ cmd: 'ping' }) + '\n' : '');
      // split into pieces, as a slow or odd client would write it
      const chunks: string[] = [];
      let rest = text;
      while (rest.length && r.chance(0.5)) {
        const k = 1 + r.int(Math.max(1, rest.length - 1));
        chunks.push(rest.slice(0, k));
        rest = rest.slice(k);
      }
      if (rest.length) chunks.push(rest);
      const early = r.chance(0.1);
      return { name: `request ${cmd.slice(0, 20)}`, chunks, closeEarly: early, expect: early ? 'none' : expect, sent: expect };
    }
  }
}

interface Outcome { lines: string[]; error?: string }

function runClient(path: string, s: Session): Promise<Outcome> {
  return new Promise((resolve) => {
    const sock = net.connect(path);
    let buf = '';
    let done = false;
    const finish = (error?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ lines: buf.split('\n').filter(Boolean), ...(error ? { error } : {}) });
    };
    const timer = setTimeout(() => finish(s.expect === 'none' ? undefined : 'no answer within 5 s'), s.expect === 'none' ? 200 : 5000);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => { buf += d; });
    sock.on('error', (e: NodeJS.ErrnoException) => { if (s.expect !== 'none') finish(`client error ${e.code}`); });
    sock.on('close', () => finish());
    sock.on('connect', () => {
      for (const c of s.chunks) sock.write(c);
      if (s.closeEarly) finish();
    });
  });
}

export interface ControlReport { sessions: number; ms: number; failures: string[]; counters: ControlServer['counters']; compat: { requests: number; unknown: number } }

/** Runs `n` random sessions against each server; failures describe what went wrong. */
export async function fuzzControl(n: number, seed = 1): Promise<ControlReport> {
  const r = new Rng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'ctsync-fuzz-'));
  const failures: string[] = [];
  const uncaught = (e: unknown) => failures.push(`uncaught: ${(e as Error).message ?? e}`);
  process.on('uncaughtException', uncaught);
  const server = new ControlServer(join(dir, 'ctsync.sock'), {
    ping: () => ({ pong: true }),
    echo: (a) => a,
    slow: async () => { await new Promise((res) => setTimeout(res, 5)); return 'late'; },
    progress: (_a, p) => { p({ op: 'x', done: 1, total: 2 }); p({ op: 'x', done: 2, total: 2 }); return 2; },
    fail: () => { throw new Error('refused: on purpose'); },
  });
  const known = new Set<number>(Object.values(CODE));
  let compatUnknown = 0;
  const compat = new ConntrackdServer(join(dir, 'conntrackd.ctl'), async (code) => {
    if (code === CODE.KILL) throw new Error('not now');
    if (code === CODE.ALL_COMMIT) await new Promise((res) => setTimeout(res, 5));
    if (!known.has(code)) { compatUnknown++; return ''; }
    return `answer ${code}\n`;
  });
  const t0 = performance.now();
  const expected = { requests: 0, bad: 0, unknown: 0, failed: 0 };
  // requests of clients that left at once: counted if the server read them first
  const maybe = { requests: 0, bad: 0, unknown: 0, failed: 0 };
  try {
    await server.listen();
    await compat.listen();
    for (let i = 0; i < n; i++) {
      // the JSON protocol
      const s = jsonSession(r);
      const out = await runClient(server.path, s);
      if (out.error) { failures.push(`${s.name}: ${out.error}`); continue; }
      const finals = out.lines.map((l) => JSON.parse(l) as { ok?: boolean; error?: string; progress?: unknown }).filter((x) => !('progress' in x));
      if (s.expect === 'none') {
        if (s.sent) {
          maybe.requests++;
          if (s.sent === 'unknown') maybe.unknown++;
          if (s.sent === 'failed') maybe.failed++;
        }
        continue;
      }
      if (finals.length !== 1) { failures.push(`${s.name}: ${finals.length} final replies: ${out.lines.join(' | ').slice(0, 200)}`); continue; }
      const f = finals[0];
      const want = s.expect;
      const okWanted = want === 'ok';
      if (f.ok !== okWanted) { failures.push(`${s.name}: expected ${want}, got ${JSON.stringify(f).slice(0, 200)}`); continue; }
      if (!okWanted && (typeof f.error !== 'string' || f.error.includes('\n') || f.error.length === 0)) failures.push(`${s.name}: error is not one line`);
      if (want === 'unknown' && !/^unknown command/.test(f.error ?? '')) failures.push(`${s.name}: ${f.error}`);
      if (want === 'too-long' && f.error !== 'request too long') failures.push(`${s.name}: ${f.error}`);
      if (want === 'bad' && !/^bad request/.test(f.error ?? '')) failures.push(`${s.name}: ${f.error}`);
      if (want !== 'too-long') expected.requests++;
      if (want === 'bad' || want === 'too-long') expected.bad++;
      if (want === 'unknown') expected.unknown++;
      if (want === 'failed') expected.failed++;

      // conntrackd's protocol: a native-endian int, sometimes cut short or followed by more
      const len = r.pick([0, 1, 2, 3, 4, 4, 4, 4, 5, 8, 12]);
      const b = new Uint8Array(len);
      const code = r.chance(0.7) ? r.pick([...known]) : r.int(2 ** 32) | 0;
      if (len >= 4) new DataView(b.buffer).setInt32(0, code, true);
      for (let k = 4; k < len; k++) b[k] = r.int(256);
      const c = await runClient(compat.path, { name: 'conntrackd', chunks: [b], closeEarly: len < 4, expect: len < 4 ? 'none' : 'ok' });
      if (c.error) failures.push(`conntrackd code ${code} (${len} bytes): ${c.error}`);
    }
    // still serving after all of that
    const ping = await runClient(server.path, { name: 'final ping', chunks: ['{"cmd":"ping"}\n'], closeEarly: false, expect: 'ok' });
    if (ping.error || !ping.lines[0]?.includes('"pong":true')) failures.push('the server no longer answers');
    const cnt = server.counters;
    const within = (what: string, got: number, lo: number, extra: number) => {
      if (got < lo || got > lo + extra) failures.push(`${what} counted ${got}, expected ${lo}${extra ? ` to ${lo + extra}` : ''}`);
    };
    within('requests', cnt.requests, expected.requests + 1, maybe.requests);
    within('bad requests', cnt.badRequests, expected.bad, 0);
    within('unknown commands', cnt.unknown, expected.unknown, maybe.unknown);
    within('failed requests', cnt.failed, expected.failed, maybe.failed);
    return { sessions: n, ms: performance.now() - t0, failures, counters: { ...cnt }, compat: { requests: compat.requests, unknown: compatUnknown } };
  } finally {
    process.off('uncaughtException', uncaught);
    await server.close();
    await compat.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
