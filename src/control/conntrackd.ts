// conntrackd's own control protocol (1.4.7): the client writes one native-endian int, the daemon
// answers with plain text and closes. Served on `conntrackd-socket` so the stock `conntrackd`
// client (and keepalived's primary-backup.sh) can drive ctsync; also spoken by `ctsync conntrackd`.
import net from 'node:net';
import { listenUnix } from './server.ts';

export const CODE = {
  CT_FLUSH_MASTER: 0, CT_RESYNC_MASTER: 1, CT_DUMP_INTERNAL: 16, CT_DUMP_EXTERNAL: 17, CT_COMMIT: 18,
  KILL: 20, STATS: 21, SEND_BULK: 22, REQUEST_DUMP: 23, DUMP_INT_XML: 24, DUMP_EXT_XML: 25,
  RESET_TIMERS: 26, STATS_NETWORK: 28, STATS_CACHE: 29, STATS_RUNTIME: 30, STATS_LINK: 31,
  STATS_RSQUEUE: 32, FLUSH_INT_CACHE: 33, FLUSH_EXT_CACHE: 34, STATS_PROCESS: 35, STATS_QUEUE: 36,
  STATS_EXPECT: 37, EXP_FLUSH_MASTER: 38, EXP_RESYNC_MASTER: 39, EXP_DUMP_INTERNAL: 40,
  EXP_DUMP_EXTERNAL: 41, EXP_COMMIT: 42, ALL_FLUSH_MASTER: 43, ALL_RESYNC_MASTER: 44,
  ALL_FLUSH_CACHE: 45, ALL_COMMIT: 46, EXP_DUMP_INT_XML: 47, EXP_DUMP_EXT_XML: 48,
} as const;

/** Answers one request code with the text to send (may be empty), after doing the work. */
export type CodeHandler = (code: number) => Promise<string> | string;

export class ConntrackdServer {
  private server?: net.Server;
  requests = 0;
  unknown = 0;

  constructor(readonly path: string, private readonly handle: CodeHandler) {}

  async listen(): Promise<void> {
    this.server = await listenUnix(this.path, (s) => this.serve(s));
  }

  private serve(sock: net.Socket): void {
    let buf = Buffer.alloc(0);
    let done = false;
    sock.on('error', () => {});
    sock.on('data', async (d: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4) return;
      done = true;
      this.requests++;
      const code = buf.readInt32LE(0);
      try {
        const text = await this.handle(code);
        sock.end(text);
      } catch (e) {
        sock.end(`${(e as Error).message}\n`);
      }
    });
  }

  async close(): Promise<void> {
    if (this.server) await new Promise<void>((r) => this.server!.close(() => r()));
  }
}

/** Client side: sends one code and collects the text until the daemon closes. */
export function conntrackdRequest(path: string, code: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(path);
    const chunks: Buffer[] = [];
    sock.on('connect', () => {
      const b = Buffer.alloc(4);
      b.writeInt32LE(code, 0);
      sock.write(b);
    });
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', reject);
    sock.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}
