// Makes N distinct UDP flows with real traffic: one datagram from one socket to each of N
// destination address:port pairs, spread over the given prefixes (hosts .1-.254 of each /24).
//   --targets 198.51.100.0/24,203.0.113.0/24  --count N  [--port-base 1024] [--bind ADDR]
import dgram from 'node:dgram';
import { arg, say } from './io.ts';

export async function main(): Promise<void> {
  const targets = arg('targets').split(',');
  const count = Number(arg('count'));
  const portBase = Number(arg('port-base', '1024'));
  const bind = arg('bind', '');
  const v6 = targets[0].includes(':');

  const hosts: string[] = [];
  for (const t of targets) {
    const net = t.split('/')[0];
    if (v6) {
      const base = net.endsWith('::') ? net : `${net}::`;
      for (let h = 1; h <= 254; h++) hosts.push(`${base}${h.toString(16)}`);
    } else {
      const p = net.split('.').slice(0, 3).join('.');
      for (let h = 1; h <= 254; h++) hosts.push(`${p}.${h}`);
    }
  }
  const ports = Math.ceil(count / hosts.length);
  if (portBase + ports > 65535) throw new Error(`too many flows for ${hosts.length} hosts`);

  const sock = dgram.createSocket(v6 ? 'udp6' : 'udp4');
  await new Promise<void>((r) => (bind ? sock.bind(0, bind, r) : sock.bind(0, r)));
  const payload = Buffer.from('ctsync-lab');
  const t0 = performance.now();
  let sent = 0, errors = 0;
  let pending = 0;
  await new Promise<void>((done) => {
    const next = () => {
      while (sent < count && pending < 256) {
        const i = sent++;
        pending++;
        sock.send(payload, portBase + Math.floor(i / hosts.length), hosts[i % hosts.length], (err) => {
          pending--;
          if (err) errors++;
          if (sent >= count && pending === 0) done();
          else if (pending < 128) next();
        });
      }
    };
    next();
  });
  const ms = performance.now() - t0;
  sock.close();
  say({ event: 'done', sent: count, errors, ms, rate: Math.round(count / (ms / 1000)) });
}
