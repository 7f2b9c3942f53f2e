// UDP flows to an echo server, each from its own connected socket (its own conntrack entry),
// checked on command.
//   --server ADDR --port P --count N
// Commands (JSON lines):
//   {"cmd":"check","timeoutMs":3000,"tries":3}  every flow sends a token until its echo returns
//   -> {"event":"check","ok","failed","refused"}  (refused: ICMP port unreachable came back)
import dgram from 'node:dgram';
import { arg, say, onCommand } from './io.ts';

interface Flow { sock: dgram.Socket; id: number; waiting?: { token: string; done: (ok: boolean) => void }; refused: number }

export async function main(): Promise<void> {
  const server = arg('server');
  const port = Number(arg('port'));
  const count = Number(arg('count'));
  const flows: Flow[] = [];
  let refused = 0;

  for (let i = 0; i < count; i++) {
    const sock = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    const f: Flow = { sock, id: i, refused: 0 };
    sock.on('message', (m) => {
      if (f.waiting && m.toString() === f.waiting.token) {
        const w = f.waiting;
        f.waiting = undefined;
        w.done(true);
      }
    });
    // a connected UDP socket reports ICMP port unreachable as ECONNREFUSED
    sock.on('error', () => { f.refused++; refused++; });
    await new Promise<void>((r) => sock.connect(port, server, () => r()));
    flows.push(f);
  }

  function exchange(f: Flow, timeoutMs: number, tries: number): Promise<boolean> {
    return new Promise((resolve) => {
      const token = `u${f.id}-${Math.random().toString(36).slice(2)}`;
      let left = tries;
      let timer: ReturnType<typeof setTimeout>;
      f.waiting = { token, done: (ok) => { clearTimeout(timer); resolve(ok); } };
      const send = () => {
        if (left-- <= 0) { f.waiting = undefined; resolve(false); return; }
        f.sock.send(token, () => {});
        timer = setTimeout(send, timeoutMs / tries);
      };
      send();
    });
  }

  // every flow once, so that each has its conntrack entry before the first check
  const first = await Promise.all(flows.map((f) => exchange(f, 3000, 3)));
  say({ event: 'ready', open: flows.length, ok: first.filter(Boolean).length });

  onCommand(async (cmd) => {
    if (cmd.cmd === 'check') {
      const res = await Promise.all(flows.map((f) => exchange(f, Number(cmd.timeoutMs ?? 3000), Number(cmd.tries ?? 3))));
      const ok = res.filter(Boolean).length;
      say({ event: 'check', ok, failed: res.length - ok, refused });
    }
  });
}
