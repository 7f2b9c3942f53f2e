// The metrics endpoint on the loopback address: GET /metrics answers the exposition text with
// Prometheus's content type; other paths and methods are 404; a rebind moves it; an address in
// use is logged, not thrown; a failing render is a 500 and the server stays up.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { MetricsServer } from '../../src/metrics/server.ts';
import { parseExposition, promValue } from './metrics-prom.ts';
import { renderMetrics } from '../../src/metrics/prometheus.ts';
import { emptySnapshot } from '../../src/control/snapshot.ts';

function get(port: number, path: string, method = 'GET', host = '127.0.0.1'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('GET /metrics, 404 elsewhere, rebind, address in use, render failure', async () => {
  let scrapes = 0;
  let fail = false;
  const logs: string[] = [];
  const render = () => {
    if (fail) throw new Error('boom');
    const s = emptySnapshot();
    s.runtime.eventsReceived = ++scrapes;
    return renderMetrics(s);
  };
  const m = new MetricsServer(render, (l, msg) => logs.push(`${l} ${msg}`));
  const other = new MetricsServer(render, (l, msg) => logs.push(`${l} ${msg}`));
  try {
    await m.apply({ address: '127.0.0.1', port: 0 });
    const port = m.address!.port;
    assert.ok(port > 0);
    const r = await get(port, '/metrics');
    assert.is(r.status, 200);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    const f = parseExposition(r.body);
    assert.is(promValue(f, 'ctsync_events_received_total'), 1);
    assert.is(promValue(parseExposition((await get(port, '/metrics?x=1')).body), 'ctsync_events_received_total'), 2, 'rendered per scrape');
    for (const [path, method] of [['/', 'GET'], ['/metric', 'GET'], ['/metrics/x', 'GET'], ['/metrics', 'POST'], ['/metrics', 'DELETE']]) {
      assert.is((await get(port, path, method)).status, 404, `${method} ${path}`);
    }
    fail = true;
    assert.is((await get(port, '/metrics')).status, 500);
    fail = false;
    assert.is((await get(port, '/metrics')).status, 200, 'still serving after a failed render');

    // the same port for a second server: logged, not thrown
    await other.apply({ address: '127.0.0.1', port });
    assert.is(other.address, undefined);
    assert.ok(logs.some((l) => /^ERROR metrics-address 127\.0\.0\.1:\d+: cannot listen \(EADDRINUSE\)/.test(l)), logs.join('\n'));

    // the same address again is no change; a new one moves the endpoint and frees the old port
    await m.apply({ address: '127.0.0.1', port: 0 });
    assert.is(m.address!.port, port, 'unchanged address: not rebound');
    await m.apply({ address: '127.0.0.2', port: 0 });
    const moved = m.address!.port;
    assert.is(m.address!.address, '127.0.0.2');
    assert.is((await get(moved, '/metrics', 'GET', '127.0.0.2')).status, 200);
    await other.apply({ address: '127.0.0.1', port });
    assert.is(other.address?.port, port, 'the old port was released');
    await m.apply(undefined);
    assert.is(m.address, undefined);
    await get(moved, '/metrics', 'GET', '127.0.0.2').then(() => assert.unreachable('still listening after apply(undefined)'), (e: Error) => assert.match(String((e as NodeJS.ErrnoException).code ?? e), /ECONNREFUSED/));
  } finally {
    await m.close();
    await other.close();
  }
});

test.run();
