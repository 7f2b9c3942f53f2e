// A sync-protocol endpoint inside a namespace, for the sync integration tests. JSON-line commands:
//   {cmd:'capture', address, port}        plain UDP socket recording every datagram
//   {cmd:'link', links:[LinkConfig...]}   a ctsync LinkSet recording the datagrams it accepts
//   {cmd:'send', hex, count?}             send through the LinkSet (active link)
//   {cmd:'raw-send', hex, to, port, from?} send from a plain socket (bound to `from`)
//   {cmd:'received', clear?}              -> {event:'received', dgrams:[{hex, from, link}]}
//   {cmd:'stats'}                         -> {event:'stats', links:[LinkStat...], active}
//   {cmd:'check'}                         re-read interface state now
//   {cmd:'mode', kind, links, options?}   a ctsync sync mode over a LinkSet, with a plain host
//   {cmd:'create', flows:[Flow...]}       local changes (NEW) for the mode
//   {cmd:'resync'}                        mode.requestResync()
//   {cmd:'mode-state'}                    -> {event:'mode-state', external:[Flow...], stats, rsqueue}
// Each command answers one line ({event:'ok'} unless stated).
import dgram from 'node:dgram';
import { LinkSet } from '../../../src/sync/links.ts';
import type { LinkConfig } from '../../../src/sync/link.ts';
import { createSyncMode } from '../../../src/sync/index.ts';
import type { ModeKind, SyncMode, SyncOptions } from '../../../src/sync/mode.ts';
import { OBJ_STATE, type SyncHost, type SyncObject } from '../../../src/sync/object.ts';
import { flowKey } from '../../../src/flow/key.ts';
import { MSG } from '../../../src/sync/wire.ts';
import type { Flow } from '../../../src/flow/flow.ts';
import { onCommand, say } from './io.ts';

interface Rec { hex: string; from: string; link: number }
const received: Rec[] = [];
let links: LinkSet | undefined;
const raw: dgram.Socket[] = [];

const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

let mode: SyncMode | undefined;
const internal = new Map<string, SyncObject>();
const external = new Map<string, Flow>();
const host: SyncHost = {
  applyCt(type, flow) {
    if (type === MSG.CT_DEL) external.delete(flowKey(flow));
    else external.set(flowKey(flow), flow);
  },
  applyExp() {},
  forEachObject(fn) {
    for (const o of internal.values()) if (o.state !== OBJ_STATE.DEAD) fn(o);
  },
  release(obj) {
    internal.delete(flowKey(obj.flow!));
  },
};

onCommand(async (c) => {
  switch (c.cmd) {
    case 'capture': {
      const fam = String(c.address).includes(':') ? 'udp6' : 'udp4';
      const s = dgram.createSocket({ type: fam, reuseAddr: true });
      s.on('message', (m, r) => received.push({ hex: toHex(m), from: r.address, link: -1 }));
      await new Promise<void>((res, rej) => { s.once('error', rej); s.bind(Number(c.port), String(c.address), () => res()); });
      raw.push(s);
      return say({ event: 'ok' });
    }
    case 'link': {
      const logs: string[] = [];
      links = new LinkSet(c.links as LinkConfig[], { checkMs: 0, log: (_l, m) => logs.push(m) });
      await links.open((bytes, link) => {
        received.push({ hex: toHex(bytes), from: '', link });
        links!.heard(link);
      });
      return say({ event: 'ok', maxPayload: links.maxPayload, active: links.active });
    }
    case 'send': {
      const b = Buffer.from(String(c.hex), 'hex');
      for (let i = 0; i < Number(c.count ?? 1); i++) {
        const buf = links!.acquire();
        buf.set(b, 0);
        links!.send(buf, b.length);
      }
      await new Promise((r) => setTimeout(r, 50));
      return say({ event: 'ok' });
    }
    case 'raw-send': {
      const to = String(c.to);
      const s = dgram.createSocket(to.includes(':') ? 'udp6' : 'udp4');
      await new Promise<void>((res, rej) => { s.once('error', rej); s.bind(0, c.from ? String(c.from) : undefined, () => res()); });
      if (c.multicastInterface) {
        s.setMulticastInterface(String(c.multicastInterface));
        s.setMulticastLoopback(false);
      }
      const b = Buffer.from(String(c.hex), 'hex');
      await new Promise<void>((res, rej) => s.send(b, Number(c.port), to, (e) => (e ? rej(e) : res())));
      s.close();
      return say({ event: 'ok' });
    }
    case 'received': {
      const out = received.slice();
      if (c.clear) received.length = 0;
      return say({ event: 'received', dgrams: out });
    }
    case 'stats':
      return say({ event: 'stats', links: links?.linkStats() ?? [], active: links?.active ?? -1 });
    case 'check':
      links?.check();
      return say({ event: 'ok', active: links?.active ?? -1 });
    case 'mode': {
      links = new LinkSet(c.links as LinkConfig[], { checkMs: 0 });
      await links.open((bytes, link) => mode!.receive(bytes, link));
      mode = createSyncMode(c.kind as ModeKind, { host, transport: links }, (c.options ?? {}) as SyncOptions);
      mode.start();
      return say({ event: 'ok' });
    }
    case 'create':
      for (const f of c.flows as Flow[]) {
        const o: SyncObject = { kind: 'ct', flow: f, state: OBJ_STATE.NEW, sync: undefined };
        internal.set(flowKey(f), o);
        mode!.enqueue(o);
      }
      return say({ event: 'ok' });
    case 'resync':
      mode!.requestResync();
      return say({ event: 'ok' });
    case 'mode-state':
      return say({
        event: 'mode-state', external: [...external.values()], stats: mode!.stats, rsqueue: mode!.rsQueueEntries(),
        links: links!.linkStats(),
      });
    default:
      return say({ event: 'error', message: `unknown command ${String(c.cmd)}` });
  }
});
say({ event: 'started' });
