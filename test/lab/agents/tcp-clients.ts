// Long-lived TCP connections to an echo server, checked on command.
//   --server ADDR --port P --count N
// Commands (JSON lines):
//   {"cmd":"check","timeoutMs":5000}   every open connection sends a token and waits for its echo
//   {"cmd":"stream","connections":K,"intervalMs":50}   K connections keep sending while idle checks run
//   {"cmd":"stats"}                     counters of the streams (sent, echoed, late)
import net from 'node:net';
import { arg, say, onCommand } from './io.ts';
interface Conn { sock: net.Socket; id: number; buf: string; waiting?: { token: string; resolve: (ok: boolean) => void }; reset: boolean; closed: boolean }

export async function main(): Promise<void> {
  const server = arg('server');
  const port = Number(arg('port'));
  const count = Number(arg('count'));

  const conns: Conn[] = [];
  let resets = 0, closes = 0;

  function open(id: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const sock = net.connect({ host: server, port });
      const c: Conn = { sock, id, buf: '', reset: false, closed: false };
      sock.setNoDelay(true);
      sock.setEncoding('utf8');
      sock.once('connect', () => resolve(c));
      sock.on('data', (d: string) => {
        c.buf += d;
        if (c.waiting && c.buf.includes(c.waiting.token)) {
          c.buf = '';
          const w = c.waiting;
          c.waiting = undefined;
          w.resolve(true);
        }
      });
      sock.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ECONNRESET' || e.code === 'EPIPE') { c.reset = true; resets++; }
        reject(e);
      });
      sock.on('close', () => {
        c.closed = true;
        closes++;
        if (c.waiting) { const w = c.waiting; c.waiting = undefined; w.resolve(false); }
      });
    });
  }

  function exchange(c: Conn, timeoutMs: number): Promise<boolean> {
    if (c.closed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const token = `t${c.id}-${Math.random().toString(36).slice(2)}\n`;
      const t = setTimeout(() => { c.waiting = undefined; resolve(false); }, timeoutMs);
      c.waiting = { token, resolve: (ok) => { clearTimeout(t); resolve(ok); } };
      c.sock.write(token);
    });
  }

  for (let i = 0; i < count; i += 50) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + 50); j++) batch.push(open(j));
    conns.push(...(await Promise.all(batch)));
  }
  say({ event: 'ready', open: conns.length, local: conns.slice(0, 3).map((c) => c.sock.localPort) });

  const streams = { sent: 0, echoed: 0, failed: 0 };
  const streaming = new Set<Conn>();

  onCommand(async (cmd) => {
    if (cmd.cmd === 'check') {
      const timeoutMs = Number(cmd.timeoutMs ?? 5000);
      const idle = conns.filter((c) => !streaming.has(c));
      const res = await Promise.all(idle.map((c) => exchange(c, timeoutMs)));
      const ok = res.filter(Boolean).length;
      say({ event: 'check', ok, failed: res.length - ok, resets, closes, streaming: streaming.size });
    } else if (cmd.cmd === 'stream') {
      const k = Number(cmd.connections ?? 10);
      const interval = Number(cmd.intervalMs ?? 50);
      for (const c of conns.slice(0, k)) {
        streaming.add(c);
        const loop = async () => {
          while (streaming.has(c) && !c.closed) {
            streams.sent++;
            if (await exchange(c, 10000)) streams.echoed++; else streams.failed++;
            await new Promise((r) => setTimeout(r, interval));
          }
        };
        void loop();
      }
      say({ event: 'streaming', connections: streaming.size });
    } else if (cmd.cmd === 'stats') {
      say({ event: 'stats', ...streams, resets, closes });
    } else if (cmd.cmd === 'unstream') {
      streaming.clear();
      await new Promise((r) => setTimeout(r, 200));
      say({ event: 'unstreamed', ...streams });
    }
  });
}
