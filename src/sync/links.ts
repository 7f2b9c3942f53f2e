// The dedicated links of a node (conntrackd's multichannel): one or more UdpLinks of which one is
// active and transmits. The active link moves to whichever link last heard a valid message from
// the peer, and away from a link whose interface is no longer RUNNING (checked every second).
// A LinkSet is the Transport of a sync mode: it hands out pooled datagram buffers and sends on
// the active link.
//
//   const links = new LinkSet([{ interface: 'eth1', kind: 'multicast' }], { log });
//   await links.open((bytes, link) => mode.receive(bytes, link));
//   const mode = createSyncMode('ftfw', { host, transport: links }, opts);
//   links.linkStats()   // per link: device, status, role, counters (`-s link`)
//   await links.close()
import type { Transport } from './mode.ts';
import { UdpLink, type LinkConfig, type LinkCounters } from './link.ts';
import type { LinkStatus } from './iface.ts';
import { MAX_MESSAGE_SIZE } from './wire.ts';
import type { Authenticator } from './auth.ts';

export const MAX_LINKS = 4;

export interface LinkStat {
  index: number;
  device: string;
  kind: 'multicast' | 'unicast';
  status: LinkStatus;
  role: 'ACTIVE' | 'BACKUP';
  mtu: number;
  counters: LinkCounters;
  recvBufferBytes: number;
  sendBufferBytes: number;
  lastError: string;
}

export interface LinkSetOptions {
  /** interface check period, ms (default 1000) */
  checkMs?: number;
  log?: (level: 'notice' | 'warning' | 'error', message: string) => void;
}

export class LinkSet implements Transport {
  readonly links: UdpLink[];
  active = 0;
  /** times the active link changed */
  switches = 0;
  private readonly pool: Uint8Array[] = [];
  private capacity = 0;
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(configs: readonly LinkConfig[], private readonly opt: LinkSetOptions = {}) {
    if (configs.length === 0) throw new Error('no sync link configured; add an interface');
    if (configs.length > MAX_LINKS) throw new Error(`at most ${MAX_LINKS} sync links are supported, ${configs.length} configured`);
    this.links = configs.map((c, i) => new UdpLink(c, i));
  }

  async open(onDatagram: (bytes: Uint8Array, link: number) => void): Promise<void> {
    try {
      for (const l of this.links) await l.open(onDatagram);
    } catch (e) {
      await this.close();
      throw e;
    }
    this.capacity = this.maxPayload + MAX_MESSAGE_SIZE;
    const first = this.links.findIndex((l) => l.status === 'RUNNING');
    this.active = first >= 0 ? first : 0;
    const ms = this.opt.checkMs ?? 1000;
    if (ms > 0) this.timer = setInterval(() => this.check(), ms);
  }

  get current(): UdpLink {
    return this.links[this.active];
  }

  /** The smallest payload of all links, so a datagram fits whichever link carries it. */
  get maxPayload(): number {
    let m = Infinity;
    for (const l of this.links) m = Math.min(m, l.maxPayload);
    return m;
  }

  acquire(): Uint8Array {
    const cap = this.capacity || this.maxPayload + MAX_MESSAGE_SIZE;
    let b = this.pool.pop();
    while (b && b.length < cap) b = this.pool.pop();
    return b ?? new Uint8Array(cap);
  }

  /** `sent` (optional) runs once the socket has taken the datagram or refused it (latency probes). */
  send(buf: Uint8Array, len: number, sent?: () => void): void {
    this.current.send(buf, len, () => {
      if (this.pool.length < 64) this.pool.push(buf);
      sent?.();
    });
  }

  /** Authentication on (auth.ts) or off for every link, e.g. after a reload of auth-key-file. */
  setAuth(auth: Authenticator | undefined): void {
    for (const l of this.links) l.setAuth(auth);
    // the trailer changes the payload room: buffers follow (smaller pooled ones are dropped)
    if (this.capacity) this.capacity = this.maxPayload + MAX_MESSAGE_SIZE;
  }

  heard(link: number): void {
    if (link !== this.active && link >= 0 && link < this.links.length) this.switchTo(link, 'the peer was heard on it');
  }

  /** Re-reads every interface and moves away from an active link that is not RUNNING. */
  check(): void {
    for (const l of this.links) l.refresh();
    if (this.current.status === 'RUNNING') return;
    for (let k = 1; k < this.links.length; k++) {
      const i = (this.active + k) % this.links.length;
      if (this.links[i].status === 'RUNNING') {
        this.switchTo(i, `${this.current.name} is ${this.current.status}`);
        return;
      }
    }
    if (this.links.length > 1) this.opt.log?.('error', 'no dedicated links available!');
  }

  private switchTo(i: number, why: string): void {
    this.active = i;
    this.switches++;
    this.opt.log?.('notice', `device \`${this.links[i].name}' becomes dedicated link (${why})`);
  }

  linkStats(): LinkStat[] {
    return this.links.map((l, i) => ({
      index: i, device: l.name, kind: l.config.kind, status: l.status, role: i === this.active ? 'ACTIVE' : 'BACKUP',
      mtu: l.mtu, counters: { ...l.counters }, recvBufferBytes: l.recvBufferBytes, sendBufferBytes: l.sendBufferBytes,
      lastError: l.lastError,
    }));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await Promise.all(this.links.map((l) => l.close()));
  }
}
