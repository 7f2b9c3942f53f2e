// A UDP relay for the sync link (fault tests): the middle namespace DNATs each direction's sync
// datagrams to one of two local ports, and SNATs what the relay sends on to the original source
// address, so each daemon still sees its configured peer. In between, datagrams are held and
// released out of order, and duplicated.
//   --bind 192.0.2.250  --a 203.0.113.1 --b 203.0.113.2  [--port 3780]
//   receives a->b on BIND:4001 and sends from BIND:5001; b->a on BIND:4002, sends from BIND:5002
// JSON-line commands:
//   {cmd:'set', hold?: N, holdMs?: ms, dup?: p, seed?: n}   hold up to N datagrams for up to holdMs, then release
//                                                   them shuffled; send each one twice with probability p
//   {cmd:'stats'} -> {event:'stats', forwarded, duplicated, reordered}
import dgram from 'node:dgram';
import { arg, onCommand, say } from './io.ts';

interface Dir { rx: dgram.Socket; tx: dgram.Socket; to: string; held: Buffer[]; timer?: ReturnType<typeof setTimeout> }

let hold = 1, holdMs = 30, dup = 0;
let seed = 12345;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const stats = { forwarded: 0, duplicated: 0, reordered: 0 };

function bind(s: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((res, rej) => { s.once('error', rej); s.bind(port, address, () => { s.off('error', rej); res(); }); });
}

function release(d: Dir, port: number): void {
  if (d.timer) clearTimeout(d.timer);
  d.timer = undefined;
  const batch = d.held.splice(0);
  const order = batch.map((_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  order.forEach((k, pos) => { if (k !== pos) stats.reordered++; });
  for (const k of order) {
    const b = batch[k];
    d.tx.send(b, port, d.to);
    stats.forwarded++;
    if (dup > 0 && random() < dup) {
      stats.duplicated++;
      // the copy comes a little later, possibly after what was sent next
      setTimeout(() => d.tx.send(b, port, d.to), Math.floor(random() * 20));
    }
  }
}

export async function main(): Promise<void> {
  const bindAddr = arg('bind');
  const port = Number(arg('port', '3780'));
  const dirs: Dir[] = [];
  for (const [inPort, outPort, to] of [[4001, 5001, arg('b')], [4002, 5002, arg('a')]] as const) {
    const d: Dir = { rx: dgram.createSocket('udp4'), tx: dgram.createSocket('udp4'), to, held: [] };
    d.rx.on('error', () => {});
    d.tx.on('error', () => {});
    await bind(d.rx, inPort, bindAddr);
    await bind(d.tx, outPort, bindAddr);
    d.rx.on('message', (m) => {
      d.held.push(m);
      if (d.held.length >= hold) release(d, port);
      else d.timer ??= setTimeout(() => release(d, port), holdMs);
    });
    dirs.push(d);
  }
  onCommand((c) => {
    if (c.cmd === 'set') {
      if (c.hold !== undefined) hold = Math.max(1, Number(c.hold));
      if (c.holdMs !== undefined) holdMs = Number(c.holdMs);
      if (c.dup !== undefined) dup = Number(c.dup);
      if (c.seed !== undefined) seed = Number(c.seed) >>> 0;
      return say({ event: 'ok' });
    }
    if (c.cmd === 'stats') return say({ event: 'stats', ...stats });
    return say({ event: 'error', message: `unknown command ${String(c.cmd)}` });
  });
  say({ event: 'started' });
}
