// The Prometheus endpoint on `metrics-address ADDR:PORT` (off unless configured): node:http, on
// Node and Deno. GET /metrics answers the exposition text; every other path or method is a 404.
// A reload with a new address rebinds it; a failure to bind is logged and the daemon carries on.
//
//   const m = new MetricsServer(() => renderMetrics(...), log);
//   await m.apply({ address: '127.0.0.1', port: 9934 });   // or undefined: off
//   await m.close();
import http from 'node:http';
import { CONTENT_TYPE } from './exposition.ts';

export interface MetricsAddress { address: string; port: number }

export type MetricsLog = (level: 'notice' | 'warning' | 'ERROR', message: string) => void;

export function formatAddress(a: MetricsAddress): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export class MetricsServer {
  private server?: http.Server;
  private bound?: MetricsAddress;
  private requested?: MetricsAddress;
  /** scrapes answered / scrapes whose rendering failed (answered 500) */
  readonly counters = { scrapes: 0, failures: 0 };

  constructor(private readonly render: () => string, private readonly log: MetricsLog = () => {}) {}

  /** The address listened on, if any. */
  get address(): MetricsAddress | undefined { return this.bound; }

  /** Listens on `addr` (closing a previous address first), or stops listening when undefined. */
  async apply(addr: MetricsAddress | undefined): Promise<void> {
    const r = this.requested;
    if (addr && r && addr.address === r.address && addr.port === r.port) return;
    await this.close();
    if (!addr) return;
    const server = http.createServer((req, res) => this.serve(req, res));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(addr.port, addr.address, () => { server.off('error', reject); resolve(); });
      });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? String(e);
      const hint = code === 'EADDRINUSE' ? 'another process uses the port; choose another metrics-address port'
        : code === 'EADDRNOTAVAIL' ? 'the address is not configured on this host; use one that is (or 127.0.0.1)'
        : 'check metrics-address';
      this.log('ERROR', `metrics-address ${formatAddress(addr)}: cannot listen (${code}): ${hint}; metrics are off`);
      return;
    }
    server.on('error', (e) => this.log('warning', `metrics endpoint: ${(e as Error).message}`));
    this.server = server;
    const got = server.address();
    // port 0 asks the kernel for a free port: report the one it gave
    this.bound = { address: addr.address, port: typeof got === 'object' && got ? got.port : addr.port };
    this.requested = addr;
    this.log('notice', `Prometheus metrics on http://${formatAddress(this.bound)}/metrics`);
  }

  private serve(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('not found: the metrics are at GET /metrics\n');
      return;
    }
    let body: string;
    try {
      body = this.render();
    } catch (e) {
      this.counters.failures++;
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`metrics unavailable: ${(e as Error).message}\n`);
      return;
    }
    this.counters.scrapes++;
    const bytes = new TextEncoder().encode(body);
    res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': bytes.length });
    res.end(bytes);
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.bound = undefined;
    this.requested = undefined;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      // keep-alive connections would hold close() open
      s.closeAllConnections?.();
    });
  }
}
