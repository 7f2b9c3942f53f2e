// The two ends of the bench's node:dgram floor (dgram-floor.ts), each a long-lived process in a
// namespace of the lab (which ends them), driven by lines on stdin:
//
//   receive GROUP IFADDR PORT BUFBYTES   joins the group as the daemons do, counts datagrams and
//                                        does nothing else with them; answers each line with the
//                                        count so far
//   send GROUP IFADDR PORT COUNT SIZE MS on each line, sends COUNT datagrams of SIZE bytes to the
//                                        group, spread evenly over MS milliseconds, and answers
//                                        "sent" once the last has left
// Both print "ready" when their socket is set up.
import dgram from 'node:dgram';
import { createInterface } from 'node:readline';

const [role, group, ifAddr, port, ...rest] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin });

if (role === 'receive') {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  let count = 0;
  s.on('message', () => { count++; });
  s.bind(Number(port), group, () => {
    s.addMembership(group, ifAddr);
    s.setRecvBufferSize(Number(rest[0]));
    console.log('ready');
  });
  lines.on('line', () => console.log(String(count)));
} else if (role === 'send') {
  const [count, size, ms] = rest.map(Number);
  const s = dgram.createSocket('udp4');
  const buf = new Uint8Array(size);
  const round = () => {
    const t0 = performance.now();
    let sent = 0;
    const tick = () => {
      // as many as the elapsed share of the time allows: the pace holds when a timer is late
      const due = Math.min(count, Math.ceil((count * (performance.now() - t0 + 1)) / Math.max(1, ms)));
      for (; sent < due; sent++) {
        if (sent === count - 1) s.send(buf, Number(port), group, () => console.log('sent'));
        else s.send(buf, Number(port), group);
      }
      if (sent < count) setTimeout(tick, 1);
    };
    tick();
  };
  s.bind(0, '0.0.0.0', () => {
    s.setMulticastInterface(ifAddr);
    s.setMulticastLoopback(false);
    console.log('ready');
  });
  lines.on('line', round);
} else {
  console.error('usage: dgram-peer.ts receive GROUP IFADDR PORT BUFBYTES | send GROUP IFADDR PORT COUNT SIZE MS');
  process.exit(2);
}
