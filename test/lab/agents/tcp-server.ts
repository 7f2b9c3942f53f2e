// Echo server for TCP (and UDP on the same port): every byte received is sent back.
//   --port P
import net from 'node:net';
import dgram from 'node:dgram';
import { arg, say } from './io.ts';

export async function main(): Promise<void> {
  const port = Number(arg('port'));
  let conns = 0;
  const server = net.createServer((s) => {
    conns++;
    s.on('data', (d) => s.write(d));
    s.on('error', () => {});
    s.on('close', () => { conns--; });
  });
  server.maxConnections = 100000;
  await new Promise<void>((r) => server.listen({ port, host: '::', backlog: 4096 }, r));
  const udp = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (m, rinfo) => udp.send(m, rinfo.port, rinfo.address));
  await new Promise<void>((r) => udp.bind(port, '::', r));
  say({ event: 'ready', port });
  setInterval(() => {}, 1 << 30);
  process.on('SIGTERM', () => process.exit(0));
  void conns;
}
